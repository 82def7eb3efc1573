"""Configuration: one YAML file, filled in by the environment and ``.env``.

Parsed once into frozen, typed records and validated at load time; every error names the
index and the key at fault. See DESIGN.md ("Configuration") for the file's shape.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from dotenv import dotenv_values
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, model_validator

from oracle_meili.errors import ConfigError

SyncMode = Literal["full", "incremental"]
FullStrategy = Literal["swap", "recreate"]
BinaryPolicy = Literal["base64", "omit"]
BadRowPolicy = Literal["fail", "skip"]

CONFIG_ENV_VAR = "ORACLE_MEILI_CONFIG"
DEFAULT_MEILI_URL = "http://127.0.0.1:7700"
DEFAULT_ORACLE_PORT = 1521
# Meilisearch's default payload limit is 100 MB, counted after decompression. A payload is
# built in memory before it is sent, so this bounds the sync's memory too (one reused buffer:
# 149 MB peak RSS at a million rows). A full sync starts with a smaller payload so that
# Meilisearch starts indexing early; later ones queue up and are auto-batched
# (sync.FIRST_PAYLOAD_BYTES, measured in bench/full_sync.py).
DEFAULT_MAX_PAYLOAD_BYTES = 64 * 1024 * 1024
# Index uids are [A-Za-z0-9_-]; "__" is kept free because build indexes are "<name>__<suffix>".
_INDEX_NAME = re.compile(r"^(?!.*__)[A-Za-z0-9_-]{1,200}$")


class _Record(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class SoftDelete(_Record):
    """A row whose ``column`` equals ``deleted_value`` is deleted from the index."""

    column: str
    deleted_value: str | int | bool


class ScheduleConfig(_Record):
    """Cron expressions for the index's schedules (each optional).

    Validated when the Dagster definitions load; schedules start stopped unless ``running``.
    """

    incremental: str | None = None
    full: str | None = None
    reconcile: str | None = Field(default=None, description="Remove hard-deleted rows.")
    timezone: str | None = Field(default=None, description="IANA time zone, e.g. Asia/Seoul.")
    running: bool = False


class ChangeSensorConfig(_Record):
    """The sensor that polls cheap change markers and requests incremental syncs."""

    interval_seconds: int = Field(default=30, ge=1)
    running: bool = False


class IndexConfig(_Record):
    """One Meilisearch index fed from one table or query."""

    name: str = Field(description="Meilisearch index uid.")
    table: str | None = Field(default=None, description="Source table, optionally SCHEMA.TABLE.")
    query: str | None = Field(default=None, description="A SELECT used instead of a table.")
    primary_key: tuple[str, ...] = Field(description="Primary-key column(s).")
    cursor: str | None = Field(default=None, description="Modification-time column.")
    lookback_seconds: float = Field(default=0.0, ge=0)
    soft_delete: SoftDelete | None = None
    settings: dict[str, Any] = Field(default_factory=dict)
    schedule: ScheduleConfig = Field(default_factory=ScheduleConfig)
    change_sensor: ChangeSensorConfig | None = Field(
        default_factory=ChangeSensorConfig,
        description="Set to null to have no change sensor (it needs `cursor`).",
    )
    batch_size: int = Field(default=5000, ge=1, le=1_000_000)
    full_strategy: FullStrategy = "swap"
    binary: BinaryPolicy = "base64"
    epoch_fields: bool = Field(
        default=False,
        description="Add '<field>_epoch' (seconds) beside each date/time field for range filters.",
    )
    upstream: tuple[str, ...] = Field(
        default=(), description="Source tables a `query:` reads, for lineage in Dagster."
    )
    timezone: str | None = Field(
        default=None,
        description="IANA zone that naive DATE/TIMESTAMP values are in (default: taken as UTC).",
    )
    on_bad_row: BadRowPolicy = Field(
        default="fail",
        description="A row that cannot become a document fails the sync, or is skipped and listed.",
    )
    verify_before_swap: bool = Field(
        default=False,
        description="Compare the new index with the source before a full sync makes it live.",
    )
    consistent_snapshot: bool = Field(
        default=False,
        description="Oracle: read a full sync AS OF one SCN (flashback query).",
    )
    max_delete_share: float = Field(
        default=0.10,
        ge=0,
        le=1,
        description="Reconcile stops, deleting nothing, when it would delete more than this "
        "share of the index (unless forced).",
    )

    @model_validator(mode="before")
    @classmethod
    def _primary_key_as_tuple(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("primary_key"), str):
            return {**data, "primary_key": (data["primary_key"],)}
        return data

    @model_validator(mode="after")
    def _check(self) -> IndexConfig:
        if not _INDEX_NAME.match(self.name):
            raise ValueError(
                "name: must be 1-200 characters of A-Z a-z 0-9 _ - without '__' "
                f"(got {self.name!r})"
            )
        if (self.table is None) == (self.query is None):
            raise ValueError("give exactly one of `table` or `query`")
        if not self.primary_key:
            raise ValueError("primary_key: give at least one column")
        if len(set(c.lower() for c in self.primary_key)) != len(self.primary_key):
            raise ValueError("primary_key: a column is listed twice")
        if "primaryKey" in self.settings:
            raise ValueError("settings.primaryKey: set `primary_key` instead")
        if self.consistent_snapshot and self.table is None:
            raise ValueError("consistent_snapshot: works on a `table`, not a `query`")
        if self.timezone is not None:
            try:
                ZoneInfo(self.timezone)
            except (ZoneInfoNotFoundError, ValueError):
                raise ValueError(f"timezone: unknown time zone {self.timezone!r}") from None
        return self

    @property
    def source_label(self) -> str:
        """The table name, or ``query:<name>`` for a query source (for messages)."""
        return self.table if self.table is not None else f"query:{self.name}"


class OracleSettings(_Record):
    """Connection settings for python-oracledb (thin mode unless a client library is given)."""

    user: str
    password: SecretStr
    dsn: str | None = None
    host: str | None = None
    port: int = DEFAULT_ORACLE_PORT
    service_name: str | None = None
    sid: str | None = None
    protocol: Literal["tcp", "tcps"] = "tcp"
    wallet_dir: str | None = Field(default=None, description="TCPS wallet (ewallet.pem) folder.")
    wallet_password: SecretStr | None = None
    client_lib_dir: str | None = Field(
        default=None, description="Oracle Client libraries: switches python-oracledb to thick mode."
    )
    connect_timeout_seconds: float = Field(default=15.0, gt=0)
    pool_min: int = Field(default=1, ge=0, description="Sessions the pool opens at start.")
    pool_max: int = Field(default=4, ge=1, description="Most sessions the pool may hold.")
    pool_increment: int = Field(default=1, ge=1, description="Sessions opened at a time.")

    @model_validator(mode="after")
    def _check(self) -> OracleSettings:
        if self.dsn is None and (self.host is None or (self.service_name or self.sid) is None):
            raise ValueError(
                "give ORACLE_DSN, or ORACLE_HOST and ORACLE_SERVICE_NAME (or ORACLE_SID)"
            )
        return self

    @property
    def target(self) -> str:
        """Where the connection goes, without secrets (for messages)."""
        if self.dsn is not None:
            return self.dsn
        database = self.service_name if self.service_name else f"SID {self.sid}"
        return f"{self.protocol}://{self.host}:{self.port}/{database}"


class SourceConfig(_Record):
    """A SQLAlchemy URL, or Oracle settings read from the environment."""

    url: str | None = None
    oracle: OracleSettings | None = None


class MeilisearchConfig(_Record):
    """Where Meilisearch is and how patiently to wait for it."""

    url: str = DEFAULT_MEILI_URL
    api_key: SecretStr | None = None
    timeout_seconds: float = Field(default=30.0, gt=0, description="HTTP request timeout.")
    task_timeout_seconds: float = Field(default=3600.0, gt=0)
    max_payload_bytes: int = Field(default=DEFAULT_MAX_PAYLOAD_BYTES, ge=1024)
    max_tasks_in_flight: int = Field(default=4, ge=1)
    retries: int = Field(default=3, ge=0, description="Retries of a transient failure.")


class AppConfig(_Record):
    """The whole configuration."""

    source: SourceConfig
    meilisearch: MeilisearchConfig
    indexes: tuple[IndexConfig, ...]

    def index(self, name: str) -> IndexConfig:
        """The index called ``name``; ConfigError naming the known ones otherwise."""
        for index in self.indexes:
            if index.name == name:
                return index
        known = ", ".join(i.name for i in self.indexes) or "none"
        raise ConfigError(f"no index named {name!r} in the configuration (known: {known})")


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
    """Render pydantic's first error as ``key: reason`` without echoing secret input."""
    first = error.errors()[0]
    where = ".".join(str(part) for part in first["loc"])
    reason = first["msg"].removeprefix("Value error, ")
    return f"{where}: {reason}" if where else reason
