"""The configuration's frozen, typed records, validated when they are built.

Every error names the index and the key at fault. Loading them from YAML, the environment
and ``.env`` is :mod:`oracle_meili.config.loading`.
"""

from __future__ import annotations

import re
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator, model_validator

from oracle_meili.config.base import Record
from oracle_meili.config.index_settings import check_index_settings
from oracle_meili.config.meilisearch import MeilisearchConfig
from oracle_meili.config.oracle import OracleSettings
from oracle_meili.config.orchestration import Orchestration
from oracle_meili.config.search_checks import SearchCheck, check_search_checks
from oracle_meili.config.shaping import (
    GeoColumns,
    VectorColumn,
    check_shaping,
    with_shaping_settings,
)
from oracle_meili.errors import ConfigError

SyncMode = Literal["full", "incremental"]
FullStrategy = Literal["swap", "recreate"]
BinaryPolicy = Literal["base64", "omit"]
BadRowPolicy = Literal["fail", "skip"]

CONFIG_ENV_VAR = "ORACLE_MEILI_CONFIG"

# Index uids are [A-Za-z0-9_-]; "__" is kept free because build indexes are "<name>__<suffix>".
_INDEX_NAME = re.compile(r"^(?!.*__)[A-Za-z0-9_-]{1,200}$")


class SoftDelete(Record):
    """A row whose ``column`` equals ``deleted_value`` is deleted from the index."""

    column: str
    deleted_value: str | int | bool


class IndexConfig(Record):
    """One Meilisearch index fed from one table or query."""

    name: str = Field(description="Meilisearch index uid.")
    table: str | None = Field(default=None, description="Source table, optionally SCHEMA.TABLE.")
    query: str | None = Field(default=None, description="A SELECT used instead of a table.")
    primary_key: tuple[str, ...] = Field(description="Primary-key column(s).")
    cursor: str | None = Field(default=None, description="Modification-time column.")
    lookback_seconds: float = Field(default=0.0, ge=0)
    soft_delete: SoftDelete | None = None
    settings: dict[str, Any] = Field(default_factory=dict)
    batch_size: int = Field(default=5000, ge=1, le=1_000_000)
    parallel: int = Field(
        default=1,
        ge=1,
        le=64,
        description="A full sync reads this many key ranges at once, each its own Dagster "
        "step (or worker process from the CLI), into one build index.",
    )
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
        description="Compare the new index with the source, and run its search checks, "
        "before a full sync makes it live.",
    )
    search_checks: tuple[SearchCheck, ...] = Field(
        default=(), description="Searches the index must keep answering (asset checks)."
    )
    consistent_snapshot: bool = Field(
        default=False,
        description="Oracle: read a full sync AS OF one SCN (flashback query).",
    )
    read_path: Literal["rows", "columnar"] = Field(
        default="rows",
        description="Accepted so that existing files load; every sync reads by rows. "
        "`columnar` is read as `rows` (docs/configuration.md says why).",
    )
    fields: dict[str, str] = Field(
        default_factory=dict,
        description="Renamed columns: {COLUMN: field}; the others keep their lower-cased names.",
    )
    exclude: tuple[str, ...] = Field(default=(), description="Columns left out of documents.")
    geo: GeoColumns | None = Field(
        default=None, description="Latitude and longitude columns, sent as `_geo`."
    )
    vectors: dict[str, VectorColumn] = Field(
        default_factory=dict,
        description="{EMBEDDER: {column, dimensions}}: sent as `_vectors`, with a "
        "userProvided embedder of those dimensions declared in the index settings.",
    )
    json_fields: tuple[str, ...] = Field(
        default=(), description="Columns of JSON held as text, CLOB or BLOB, sent parsed."
    )
    transform: str | None = Field(
        default=None,
        description="'package.module:function' called with each document; returns the "
        "document to send, or None to keep the row out of the index.",
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
        check_shaping(self.primary_key, self.exclude, self.fields, self.transform)
        if self.timezone is not None:
            try:
                ZoneInfo(self.timezone)
            except (ZoneInfoNotFoundError, ValueError):
                raise ValueError(f"timezone: unknown time zone {self.timezone!r}") from None
        check_index_settings(self.settings)
        check_search_checks(self.search_checks, self.meilisearch_settings)
        return self

    @property
    def meilisearch_settings(self) -> dict[str, Any]:
        """``settings`` with what the shaping needs (``_geo`` filterable and sortable, the
        embedders of ``vectors``): what a new index of this name is created with."""
        return with_shaping_settings(
            self.settings,
            geo=self.geo is not None,
            embedders={name: v.dimensions for name, v in self.vectors.items()},
        )

    @property
    def source_label(self) -> str:
        """The table name, or ``query:<name>`` for a query source (for messages)."""
        return self.table if self.table is not None else f"query:{self.name}"


class SourceConfig(Record):
    """A SQLAlchemy URL, or Oracle settings (from ``source.oracle`` and the environment)."""

    url: str | None = Field(
        default=None, description="Any SQLAlchemy URL (e.g. sqlite:///demo/demo.db)."
    )
    oracle: OracleSettings | None = Field(
        default=None,
        description="Oracle connection settings; what is left out comes from ORACLE_* "
        "variables. The passwords always come from them.",
    )
    max_concurrent_syncs: int | None = Field(
        default=None,
        ge=1,
        strict=True,
        description="Dagster: at most this many syncs read the source at once, whichever "
        "indexes they are for (none: no limit beyond each index's own).",
    )

    @field_validator("url")
    @classmethod
    def _sqlalchemy_url(cls, url: str | None) -> str | None:
        if url is not None and "://" not in url:
            raise ValueError(f"not a SQLAlchemy URL: {url!r}")
        return url

    @model_validator(mode="after")
    def _one_source(self) -> SourceConfig:
        if (self.url is None) == (self.oracle is None):
            raise ValueError("give one of `url` or `oracle`")
        return self


class AppConfig(Record):
    """The whole configuration."""

    source: SourceConfig
    meilisearch: MeilisearchConfig
    indexes: tuple[IndexConfig, ...]
    # The Dagster layer's settings of each index, by index name.
    orchestration: dict[str, Orchestration] = Field(default_factory=dict)

    def orchestration_of(self, index: IndexConfig) -> Orchestration:
        """The index's Dagster settings (the defaults when the file gives none)."""
        return self.orchestration.get(index.name) or Orchestration()

    def index(self, name: str) -> IndexConfig:
        """The index called ``name``; ConfigError naming the known ones otherwise."""
        for index in self.indexes:
            if index.name == name:
                return index
        known = ", ".join(i.name for i in self.indexes) or "none"
        raise ConfigError(f"no index named {name!r} in the configuration (known: {known})")
