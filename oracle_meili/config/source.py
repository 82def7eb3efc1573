"""The ``source:`` section: a SQLAlchemy URL, or Oracle from the file over the environment
(each ``ORACLE_*`` variable gives what the file leaves out; passwords only the environment)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from oracle_meili.config.describe import describe_origin, describe_under
from oracle_meili.config.oracle import OracleSettings
from oracle_meili.config.records import SourceConfig
from oracle_meili.errors import ConfigError

# The older spelling of the pool sizes: ``source.pool: {min, max, increment}``.
_POOL = "pool"


def parse_source(raw: Any, env: Mapping[str, str]) -> SourceConfig:
    """The ``source:`` section (``url``, or Oracle), naming the key at fault."""
    if not isinstance(raw, dict):
        raise ConfigError("source: must be a mapping")
    unknown = set(raw) - set(SourceConfig.model_fields) - {_POOL}
    if unknown:
        raise ConfigError(f"source: unknown key(s): {', '.join(sorted(unknown))}")
    if raw.get("url") is not None and ("oracle" in raw or _POOL in raw):
        raise ConfigError("source: give `url` or `oracle`, not both")
    values = {k: v for k, v in raw.items() if k != _POOL}
    if raw.get("url") is None:
        values["oracle"] = parse_oracle(raw, env)
    try:
        return SourceConfig.model_validate(values)
    except ValidationError as e:
        raise ConfigError(describe_under("source", e)) from None


def parse_oracle(raw: Mapping[str, Any], env: Mapping[str, str]) -> OracleSettings:
    """``source.oracle`` (and the older ``source.pool``) over the ``ORACLE_*`` variables."""
    in_file = raw.get("oracle") or {}
    if not isinstance(in_file, dict):
        raise ConfigError("source.oracle: must be a mapping")
    variables = OracleSettings.variables()
    secrets = sorted(set(in_file) & set(OracleSettings.secrets()))
    if secrets:
        raise ConfigError(
            f"source.oracle.{secrets[0]}: keep secrets out of the file; set {variables[secrets[0]]}"
        )
    pool = raw.get(_POOL) or {}
    if not isinstance(pool, dict) or set(pool) - {"min", "max", "increment"}:
        raise ConfigError("source.pool: a mapping of min, max and increment")
    # A key left empty (null) is left to its variable, as a key left out is.
    given = {
        k: v
        for k, v in {**{f"pool_{k}": v for k, v in pool.items()}, **in_file}.items()
        if v is not None
    }
    try:
        return OracleSettings.from_environment(env, given)
    except ValidationError as e:
        # Where each given value is in the file, for the message.
        keys = {**{f"pool_{k}": f"pool.{k}" for k in pool}, **{k: f"oracle.{k}" for k in in_file}}
        raise ConfigError(_oracle_error(e, keys)) from None


def _oracle_error(error: ValidationError, in_file: Mapping[str, str]) -> str:
    """A value the file gives first (by its key), then the settings nobody gave, then a
    variable's value (by its name)."""
    variables = OracleSettings.variables()
    fields = [str(e["loc"][0]) for e in error.errors() if e["loc"]]
    missing = [f for f, e in zip(fields, error.errors(), strict=False) if e["type"] == "missing"]
    if missing and not set(fields) & set(in_file):
        named = [
            variables[f] if f in OracleSettings.secrets() else f"{f} ({variables[f]})"
            for f in missing
        ]
        verb = "is" if len(named) == 1 else "are"
        return f"source: no `url`, so the source is Oracle, but {'; '.join(named)} {verb} not set"
    return describe_origin("source", error, in_file, variables)
