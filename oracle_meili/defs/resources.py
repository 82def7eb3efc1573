"""Dagster resources: the source database and the Meilisearch server.

Each resource only holds settings; connections are opened inside a run and closed at its
end. Secrets (passwords, API keys) are given as ``EnvVar`` so they never show in the UI.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

import dagster as dg
from pydantic import Field

from oracle_meili.config import (
    AppConfig,
    MeilisearchConfig,
    OracleSettings,
    ShardSettings,
    SourceConfig,
    environment,
    shard_keys,
)
from oracle_meili.config.environment import EnvironmentRecord
from oracle_meili.defs.derived import derived_class
from oracle_meili.defs.names import DEFAULT_NAMES, Names
from oracle_meili.engine.runner import Runner
from oracle_meili.engine.state import StateStore


class HasResources(Protocol):
    """An op's, asset's, check's or sensor's context."""

    @property
    def resources(self) -> Any: ...


class SourceResource(dg.ConfigurableResource):  # type: ignore[type-arg]
    """A database the index assets read from."""

    def settings(self) -> SourceConfig:
        """The engine's source settings (secrets resolved from the environment)."""
        raise NotImplementedError(f"{type(self).__name__} must implement settings()")


class SqlAlchemySourceResource(SourceResource):
    """Any SQLAlchemy database by URL (the embedded demo uses SQLite)."""

    url: str = Field(description="SQLAlchemy URL, e.g. sqlite:///demo/demo.db.")

    def settings(self) -> SourceConfig:
        return SourceConfig(url=self.url)


class _OracleSettingsResource(SourceResource):
    """What :data:`OracleResource` does with its fields (derived from the engine's record)."""

    def settings(self) -> SourceConfig:
        """Every field of this resource, by the same name, as the engine's Oracle record."""
        values = {name: getattr(self, name) for name in type(self).model_fields}
        return SourceConfig(oracle=OracleSettings.model_validate(values))


# The resources' fields are derived when the module loads; the type checker sees the classes
# they derive from (which hold what the code calls), taking any settings by name.
if TYPE_CHECKING:

    class OracleResource(_OracleSettingsResource):
        def __init__(self, **settings: Any) -> None: ...
else:
    OracleResource = derived_class(
        "OracleResource",
        _OracleSettingsResource,
        OracleSettings,
        module=__name__,
        doc="Oracle Database through python-oracledb in thin mode, with a session pool per "
        "run. Give the passwords as `EnvVar('ORACLE_PASSWORD')` and "
        "`EnvVar('ORACLE_WALLET_PASSWORD')`.",
    )

ShardResource = derived_class(
    "ShardResource",
    dg.Config,
    ShardSettings,
    module=__name__,
    doc="One Meilisearch server of a sharded deployment.",
)


class _MeilisearchSettingsResource(dg.ConfigurableResource):  # type: ignore[type-arg]
    """What :data:`MeilisearchResource` does with its fields (derived from the engine's
    record)."""

    shards: list[Any] = Field(default_factory=list)

    def settings(self) -> MeilisearchConfig:
        """The engine's settings record: every field of this resource, by the same name, and
        each shard's keys from the environment (never a field: they would show in the UI)."""
        values = {name: getattr(self, name) for name in type(self).model_fields}
        names = [shard.name for shard in self.shards]
        return MeilisearchConfig.model_validate(
            {
                **values,
                "shards": [shard.model_dump() for shard in self.shards],
                **shard_keys(names, environment()),
            }
        )


if TYPE_CHECKING:

    class MeilisearchResource(_MeilisearchSettingsResource):
        def __init__(self, **settings: Any) -> None: ...
else:
    MeilisearchResource = derived_class(
        "MeilisearchResource",
        _MeilisearchSettingsResource,
        MeilisearchConfig,
        module=__name__,
        # Markdown in the UI: names in backticks (a bare <NAME> would be taken for a tag).
        doc="A Meilisearch server, or shards. Give the API key as `EnvVar('MEILI_API_KEY')`; "
        "each shard's comes from `MEILI_API_KEY_<NAME>`, its name in upper case.",
        # The shards' keys are read from the run's environment, never resource fields (which
        # the UI shows).
        leave_out=frozenset({"shard_api_keys", "shard_search_keys"}),
        fields={
            "shards": (
                list[ShardResource],
                Field(
                    default_factory=list,
                    description=MeilisearchConfig.model_fields["shards"].description,
                ),
            )
        },
    )


class NoValueIOManager(dg.ConfigurableIOManager):
    """Stores nothing and loads None: the sliced sync's steps pass their state through the
    instance, so no output needs a disk that every step can see."""

    def handle_output(self, context: dg.OutputContext, obj: object) -> None:
        if obj is not None:
            raise dg.Failure(f"{context.step_key}: a sliced sync step returned a value")

    def load_input(self, context: dg.InputContext) -> None:
        return None


def runner_over(
    source: SourceResource,
    meilisearch: MeilisearchResource,
    *,
    state: StateStore | None = None,
    probe: bool = False,
) -> Runner:
    """The engine's runner over the two resources; ``probe`` keeps the source engine open
    across sensor ticks."""
    return Runner(source.settings(), meilisearch.settings(), state=state, keep_source_open=probe)


def bound_runner(
    context: HasResources, names: Names, *, state: StateStore | None = None, probe: bool = False
) -> Runner:
    """:func:`runner_over` the resources an op, asset, check or sensor was given under the
    keys of ``names``."""
    return runner_over(
        source_of(context, names), meilisearch_of(context, names), state=state, probe=probe
    )


def source_of(context: HasResources, names: Names) -> SourceResource:
    found: SourceResource = getattr(context.resources, names.source)
    return found


def meilisearch_of(context: HasResources, names: Names) -> MeilisearchResource:
    found: MeilisearchResource = getattr(context.resources, names.meilisearch)
    return found


def resource_keys(names: Names) -> set[str]:
    """The resources an op, asset, check or sensor of oracle-meili requires."""
    return {names.source, names.meilisearch}


def build_resources(config: AppConfig, names: Names = DEFAULT_NAMES) -> dict[str, object]:
    """The source and Meilisearch resources, secrets behind ``EnvVar``, and the IO manager
    of a sliced sync's steps, under the keys of ``names``."""
    source: SourceResource
    if config.source.url is not None:
        source = SqlAlchemySourceResource(url=config.source.url)
    else:
        assert config.source.oracle is not None
        source = OracleResource(**resource_values(config.source.oracle, OracleResource))
    meili = config.meilisearch
    values = resource_values(meili, MeilisearchResource)
    values["shards"] = [ShardResource(**shard.model_dump()) for shard in meili.shards]
    return {
        names.source: source,
        names.meilisearch: MeilisearchResource(**values),
        # The outputs between a sliced sync's steps: no value, no file (defs/sliced.py).
        names.step_io: NoValueIOManager(),
    }


def resource_values(
    record: EnvironmentRecord,
    resource: type[dg.ConfigurableResource],  # type: ignore[type-arg]
) -> dict[str, Any]:
    """The record's settings as the resource's fields, by name; each secret that is set as
    an ``EnvVar`` of its variable, so that it never shows in the UI (its value is read when
    a run starts)."""
    variables = record.variables()
    values = {name: getattr(record, name) for name in resource.model_fields}
    for secret in record.secrets():
        if secret in values:
            values[secret] = dg.EnvVar(variables[secret]) if values[secret] is not None else None
    return values
