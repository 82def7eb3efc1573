"""The ``source:`` section: a SQLAlchemy URL, or Oracle from the file over the environment
(each ORACLE_* variable gives what the file leaves out; passwords only from it)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from oracle_meili.config.describe import describe as _describe
from oracle_meili.config.records import OracleConnection, OracleSettings, SourceConfig
from oracle_meili.errors import ConfigError


def parse_source(raw: Any, env: Mapping[str, str]) -> SourceConfig:
    """The ``source:`` section (``url``, or Oracle), naming the key at fault."""
    if not isinstance(raw, dict):
        raise ConfigError("source: must be a mapping")
    unknown = set(raw) - {"url", "oracle", "pool", "max_concurrent_syncs"}
    if unknown:
        raise ConfigError(f"source: unknown key(s): {', '.join(sorted(unknown))}")
    limit = raw.get("max_concurrent_syncs")
    if limit is not None and (type(limit) is not int or limit < 1):
        raise ConfigError(f"source.max_concurrent_syncs: a whole number from 1 (got {limit!r})")
    url = raw.get("url")
    if url is not None:
        if "oracle" in raw:
            raise ConfigError("source: give `url` or `oracle`, not both")
        if not isinstance(url, str) or "://" not in url:
            raise ConfigError(f"source.url: not a SQLAlchemy URL: {url!r}")
        return SourceConfig(url=url, max_concurrent_syncs=limit)
    return SourceConfig(oracle=parse_oracle(raw, env), max_concurrent_syncs=limit)


def parse_oracle(raw: dict[str, Any], env: Mapping[str, str]) -> OracleSettings:
    """``source.oracle`` and ``source.pool``, over the ORACLE_* variables."""
    in_file = raw.get("oracle") or {}
    if not isinstance(in_file, dict):
        raise ConfigError("source.oracle: must be a mapping")
    secrets = sorted(set(in_file) & {"password", "wallet_password"})
    if secrets:
        raise ConfigError(
            f"source.oracle.{secrets[0]}: keep secrets out of the file; set "
            f"ORACLE_{secrets[0].upper()}"
        )
    try:
        in_file = OracleConnection.model_validate(in_file).model_dump(exclude_none=True)
    except ValidationError as e:
        raise ConfigError(f"source.oracle.{_describe(e)}") from None
    pool = raw.get("pool") or {}
    if not isinstance(pool, dict) or set(pool) - {"min", "max", "increment"}:
        raise ConfigError("source.pool: a mapping of min, max and increment")
    # The file first, then the environment for what it leaves out.
    values = {
        **_oracle_from_environment(env),
        **{f"pool_{k}": v for k, v in pool.items()},
        **in_file,
    }
    reachable = values.get("dsn") or (
        values.get("host") and (values.get("service_name") or values.get("sid"))
    )
    missing = [
        name
        for name, present in (
            ("user (ORACLE_USER)", values.get("user")),
            ("ORACLE_PASSWORD", values.get("password")),
            (
                "dsn (ORACLE_DSN), or host and service_name (ORACLE_HOST, ORACLE_SERVICE_NAME)",
                reachable,
            ),
        )
        if not present
    ]
    if missing:
        raise ConfigError(
            "source: no `url`, so the source is Oracle, but "
            f"{'; '.join(missing)} {'is' if len(missing) == 1 else 'are'} not set"
        )
    try:
        return OracleSettings.model_validate(values)
    except ValidationError as e:
        first = e.errors()[0]
        field = str(first["loc"][0]) if first["loc"] else ""
        where = f"source.oracle.{field}" if field in in_file else _ORACLE_VARIABLES.get(field, "")
        raise ConfigError(
            f"source: {where or 'Oracle settings'}: {_describe(e).split(': ', 1)[-1]}"
        ) from None


def _oracle_from_environment(env: Mapping[str, str]) -> dict[str, Any]:
    """The Oracle settings the environment gives (unset variables left out)."""
    values = {
        field: env[variable] for field, variable in _ORACLE_VARIABLES.items() if env.get(variable)
    }
    if "protocol" in values:
        values["protocol"] = values["protocol"].lower()
    return values


# Each Oracle setting and the variable that gives it when the file does not.
_ORACLE_VARIABLES = {
    "user": "ORACLE_USER",
    "password": "ORACLE_PASSWORD",
    "dsn": "ORACLE_DSN",
    "host": "ORACLE_HOST",
    "port": "ORACLE_PORT",
    "service_name": "ORACLE_SERVICE_NAME",
    "sid": "ORACLE_SID",
    "protocol": "ORACLE_PROTOCOL",
    "wallet_dir": "ORACLE_WALLET_DIR",
    "wallet_password": "ORACLE_WALLET_PASSWORD",
    "client_lib_dir": "ORACLE_CLIENT_LIB_DIR",
    "connect_timeout_seconds": "ORACLE_CONNECT_TIMEOUT",
    "pool_min": "ORACLE_POOL_MIN",
    "pool_max": "ORACLE_POOL_MAX",
    "pool_increment": "ORACLE_POOL_INCREMENT",
}
