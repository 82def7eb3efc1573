"""Settings records that the environment fills in, through pydantic-settings.

A record's variable for a field is its ``env_prefix`` and the field's name in upper case
(``ORACLE_USER``), or the field's ``validation_alias`` that starts with the prefix (a name of
its own, such as ``ORACLE_CONNECT_TIMEOUT``). The environment read is the one the
caller gives (``os.environ`` over ``.env`` from :func:`oracle_meili.config.environment`, or a
test's mapping): building a record never reads the process's environment behind its back.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Self

from pydantic import AliasChoices, SecretStr
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)


class EnvironmentRecord(BaseSettings):
    """A frozen settings record that refuses unknown keys, whose fields may also come from
    environment variables (:meth:`from_environment`)."""

    model_config = SettingsConfigDict(frozen=True, extra="forbid")

    # Fields no variable gives (lists, and keys whose variables are named after a value).
    not_from_environment: ClassVar[frozenset[str]] = frozenset()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Only what is passed: the environment comes in through from_environment.
        return (init_settings,)

    @classmethod
    def from_environment(cls, environ: Mapping[str, str], given: Mapping[str, Any]) -> Self:
        """The record of ``given`` (the file's values), each field it leaves out taken from
        its variable in ``environ`` when set.

        Raises:
            pydantic.ValidationError: the values do not make a valid record.
        """
        return cls(**{**cls.environment_values(environ), **given})

    @classmethod
    def environment_values(cls, environ: Mapping[str, str]) -> dict[str, Any]:
        """The fields ``environ`` gives, by field name (variables set to "" left out)."""
        values = _GivenEnvironment(cls, environ)()
        return {k: v for k, v in values.items() if k not in cls.not_from_environment}

    @classmethod
    def secrets(cls) -> list[str]:
        """The fields that hold secrets: given by the environment, never by a file."""
        return [
            name
            for name, field in cls.model_fields.items()
            if field.annotation in (SecretStr, SecretStr | None)
        ]

    @classmethod
    def variables(cls) -> dict[str, str]:
        """Each field's environment variable, by field name."""
        prefix = str(cls.model_config.get("env_prefix", ""))
        found = {}
        for name, field in cls.model_fields.items():
            if name in cls.not_from_environment:
                continue
            alias = field.validation_alias
            choices = alias.choices if isinstance(alias, AliasChoices) else [alias]
            named = [c for c in choices if isinstance(c, str) and c.startswith(prefix)]
            found[name] = named[0] if named else f"{prefix}{name.upper()}"
        return found


class _GivenEnvironment(EnvSettingsSource):
    """pydantic-settings' environment source over a given mapping instead of ``os.environ``
    (the method its own ``.env`` source overrides), limited to the record's prefix."""

    def __init__(self, settings_cls: type[BaseSettings], environ: Mapping[str, str]) -> None:
        self._given = environ
        super().__init__(settings_cls)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        # Case-insensitive, as the source's default: its names are lower-cased.
        prefix = self.env_prefix.lower()
        return {
            name.lower(): value
            for name, value in self._given.items()
            if value and name.lower().startswith(prefix)
        }
