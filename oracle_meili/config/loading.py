"""Loading the configuration: one YAML file, filled in by the environment and ``.env``.

Parsed once into the frozen records of :mod:`oracle_meili.config.records`; every error
names the index and the key at fault. See README "Configuration" for the file's shape.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from dotenv import dotenv_values
from pydantic import ValidationError

from oracle_meili.config.records import (
    CONFIG_ENV_VAR,
    DEFAULT_MEILI_URL,
    DEFAULT_ORACLE_PORT,
    AppConfig,
    IndexConfig,
    MeilisearchConfig,
    OracleSettings,
    SourceConfig,
)
from oracle_meili.errors import ConfigError


def load_config(
    path: str | Path | None = None, *, environ: Mapping[str, str] | None = None
) -> AppConfig:
    """Load and validate the configuration.

    Args:
        path: the YAML file; defaults to ``$ORACLE_MEILI_CONFIG``.
        environ: the environment to read; defaults to ``os.environ`` over ``./.env``
            (variables already set win over the file).

    Raises:
        ConfigError: naming the index and key of the first problem found.
    """
    env = environment() if environ is None else dict(environ)
    if path is None:
        path = env.get(CONFIG_ENV_VAR)
        if not path:
            raise ConfigError(f"no configuration file: pass --config or set {CONFIG_ENV_VAR}")
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise ConfigError(f"cannot read configuration file {str(path)!r}: {e.strerror}") from e
    except yaml.YAMLError as e:
        raise ConfigError(f"configuration file {str(path)!r} is not valid YAML: {e}") from e
    if not isinstance(raw, dict):
        raise ConfigError(f"configuration file {str(path)!r} must be a mapping")
    return parse_config(raw, environ=env)


def parse_config(raw: Mapping[str, Any], *, environ: Mapping[str, str]) -> AppConfig:
    """Validate an already-parsed configuration mapping, filling gaps from ``environ``."""
    unknown = set(raw) - {"source", "meilisearch", "indexes"}
    if unknown:
        raise ConfigError(f"unknown top-level key(s): {', '.join(sorted(unknown))}")
    indexes = _parse_indexes(raw.get("indexes"))
    source = _parse_source(raw.get("source") or {}, environ)
    meilisearch = _parse_meilisearch(raw.get("meilisearch") or {}, environ)
    return AppConfig(source=source, meilisearch=meilisearch, indexes=indexes)


def environment() -> dict[str, str]:
    """``os.environ`` over the variables of ``./.env`` (set variables win)."""
    from_file = {k: v for k, v in dotenv_values(".env").items() if v is not None}
    return {**from_file, **os.environ}


def _parse_indexes(raw: Any) -> tuple[IndexConfig, ...]:
    if not isinstance(raw, list) or not raw:
        raise ConfigError("indexes: give a list with at least one index")
    parsed: list[IndexConfig] = []
    for position, item in enumerate(raw):
        label = f"indexes[{position}]"
        if isinstance(item, dict) and isinstance(item.get("name"), str):
            label = f"index {item['name']!r}"
        if not isinstance(item, dict):
            raise ConfigError(f"{label}: must be a mapping")
        try:
            parsed.append(IndexConfig.model_validate(item))
        except ValidationError as e:
            raise ConfigError(f"{label}: {_describe(e)}") from None
    names = [i.name for i in parsed]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ConfigError(f"indexes: name(s) used twice: {', '.join(duplicates)}")
    return tuple(parsed)


def _parse_source(raw: Any, env: Mapping[str, str]) -> SourceConfig:
    if not isinstance(raw, dict):
        raise ConfigError("source: must be a mapping")
    unknown = set(raw) - {"url", "pool"}
    if unknown:
        raise ConfigError(f"source: unknown key(s): {', '.join(sorted(unknown))}")
    url = raw.get("url")
    if url is not None:
        if not isinstance(url, str) or "://" not in url:
            raise ConfigError(f"source.url: not a SQLAlchemy URL: {url!r}")
        return SourceConfig(url=url)
    missing = [v for v in ("ORACLE_USER", "ORACLE_PASSWORD") if not env.get(v)]
    if not env.get("ORACLE_DSN"):
        if not env.get("ORACLE_HOST"):
            missing.append("ORACLE_HOST")
        if not env.get("ORACLE_SERVICE_NAME") and not env.get("ORACLE_SID"):
            missing.append("ORACLE_SERVICE_NAME")
    if missing:
        raise ConfigError(
            "source: no `url` in the file, so Oracle settings come from the environment, "
            f"but {', '.join(missing)} {'is' if len(missing) == 1 else 'are'} not set"
        )
    values: dict[str, Any] = {
        "user": env["ORACLE_USER"],
        "password": env["ORACLE_PASSWORD"],
        "dsn": env.get("ORACLE_DSN") or None,
        "host": env.get("ORACLE_HOST") or None,
        "port": env.get("ORACLE_PORT") or DEFAULT_ORACLE_PORT,
        "service_name": env.get("ORACLE_SERVICE_NAME") or None,
        "sid": env.get("ORACLE_SID") or None,
        "protocol": (env.get("ORACLE_PROTOCOL") or "tcp").lower(),
        "wallet_dir": env.get("ORACLE_WALLET_DIR") or None,
        "wallet_password": env.get("ORACLE_WALLET_PASSWORD") or None,
        "client_lib_dir": env.get("ORACLE_CLIENT_LIB_DIR") or None,
    }
    for field, variable in _ORACLE_VARIABLES.items():
        if variable in _OPTIONAL_ORACLE_VARIABLES and env.get(variable):
            values[field] = env[variable]
    pool = raw.get("pool") or {}
    if not isinstance(pool, dict) or set(pool) - {"min", "max", "increment"}:
        raise ConfigError("source.pool: a mapping of min, max and increment")
    values.update({f"pool_{k}": v for k, v in pool.items()})
    try:
        return SourceConfig(oracle=OracleSettings.model_validate(values))
    except ValidationError as e:
        first = e.errors()[0]
        variable = _ORACLE_VARIABLES.get(str(first["loc"][0]) if first["loc"] else "", "")
        raise ConfigError(
            f"source: {variable or 'Oracle settings'}: {_describe(e).split(': ', 1)[-1]}"
        ) from None


_ORACLE_VARIABLES = {
    "port": "ORACLE_PORT",
    "protocol": "ORACLE_PROTOCOL",
    "connect_timeout_seconds": "ORACLE_CONNECT_TIMEOUT",
    "pool_min": "ORACLE_POOL_MIN",
    "pool_max": "ORACLE_POOL_MAX",
    "pool_increment": "ORACLE_POOL_INCREMENT",
}
# Settings with a default, taken from the environment only when set there.
_OPTIONAL_ORACLE_VARIABLES = frozenset(
    {"ORACLE_CONNECT_TIMEOUT", "ORACLE_POOL_MIN", "ORACLE_POOL_MAX", "ORACLE_POOL_INCREMENT"}
)


def _parse_meilisearch(raw: Any, env: Mapping[str, str]) -> MeilisearchConfig:
    if not isinstance(raw, dict):
        raise ConfigError("meilisearch: must be a mapping")
    if "api_key" in raw:
        raise ConfigError("meilisearch.api_key: keep secrets out of the file; set MEILI_API_KEY")
    values = dict(raw)
    values.setdefault("url", env.get("MEILI_URL") or DEFAULT_MEILI_URL)
    if env.get("MEILI_API_KEY"):
        values["api_key"] = env["MEILI_API_KEY"]
    if not str(values["url"]).startswith(("http://", "https://")):
        raise ConfigError(
            f"meilisearch.url: must start with http:// or https:// ({values['url']!r})"
        )
    try:
        return MeilisearchConfig.model_validate(values)
    except ValidationError as e:
        raise ConfigError(f"meilisearch: {_describe(e)}") from None


def _describe(error: ValidationError) -> str:
    """Render pydantic's first error as ``key: reason`` without echoing secret input.

    A missing key is reported together with any unknown key beside it: a misspelling
    (``primary_keys:``) then names both the key that is wrong and the one that is missing.
    """
    errors = error.errors()
    first = errors[0]
    where = ".".join(str(part) for part in first["loc"])
    reason = first["msg"].removeprefix("Value error, ")
    message = f"{where}: {reason}" if where else reason
    unknown = [
        ".".join(str(part) for part in e["loc"]) for e in errors if e["type"] == "extra_forbidden"
    ]
    if first["type"] == "missing" and unknown:
        message += f" (unknown key(s): {', '.join(unknown)}; misspelled?)"
    return message
