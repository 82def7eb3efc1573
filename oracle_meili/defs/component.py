"""``oracle_meili.OracleMeiliComponent``: oracle-meili syncs inside an existing Dagster project.

In a ``dg`` project::

    dg scaffold defs oracle_meili.OracleMeiliComponent search_sync

writes ``defs/search_sync/defs.yaml``, whose ``attributes`` are this project's configuration
file (``source``, ``meilisearch``, ``indexes``). They are typed models, so ``dg check defs``
and an editor validate their shape; then the configuration file's own loader reads them, so
every setting, default and error message is the same. Secrets stay in the environment:
``ORACLE_PASSWORD`` and ``MEILI_API_KEY`` are read from it as they are for the file.

No ``from __future__ import annotations``: Dagster resolves the model's annotations.
"""

from typing import TYPE_CHECKING, Annotated, Any

import dagster as dg
from pydantic import Field

from oracle_meili.config import (
    ChangeSensorConfig,
    FollowConfig,
    FreshnessConfig,
    IndexConfig,
    MeilisearchSettings,
    OracleSettings,
    Orchestration,
    SearchCheck,
    SourceConfig,
    environment,
    parse_config,
)
from oracle_meili.config.base import Record
from oracle_meili.defs.build import build_definitions
from oracle_meili.defs.dagster_private import TranslationFn, TranslationFnResolver
from oracle_meili.defs.derived import derived_class
from oracle_meili.defs.translator import IndexAsset, OracleMeiliTranslator, TableAsset

TranslatorData = IndexAsset | TableAsset

# What `dg scaffold defs` writes: the embedded demo's shape, pointed at a SQLite file, so the
# scaffold loads as it is and shows every part a user edits.
SCAFFOLD_ATTRIBUTES: dict[str, Any] = {
    "source": {"url": "sqlite:///demo/demo.db"},
    "meilisearch": {"url": "http://127.0.0.1:7700"},
    "indexes": [
        {
            "name": "products",
            "table": "PRODUCTS",
            "primary_key": "PRODUCT_ID",
            "cursor": "UPDATED_AT",
            "lookback_seconds": 300,
            "soft_delete": {"column": "IS_DELETED", "deleted_value": "Y"},
            "settings": {"searchableAttributes": ["name", "description"]},
            "schedule": {"incremental": "*/5 * * * *", "full": "0 3 * * *"},
        }
    ],
}


class OracleMeiliScaffolder(dg.Scaffolder):
    """Writes a ``defs.yaml`` with a complete example configuration to edit."""

    def scaffold(self, request: dg.ScaffoldRequest) -> None:
        dg.scaffold_component(request, SCAFFOLD_ATTRIBUTES)


# The attributes are the configuration file's records, made Resolvable so that `dg` derives
# their schema and validates a defs.yaml against it; the records' own constraints then apply
# as they do to the file. `dg` 1.13 shows the description of a field with a default only
# from its resolver: the derived classes (source, meilisearch) carry one, an index's keys
# are documented in docs/configuration.md.


class ResolvableRecord(Record, dg.Resolvable):
    """A record ``dg`` derives a schema for."""


class PoolAttributes(ResolvableRecord):
    """Oracle session pool sizes (``oracle.pool_*`` spelt as ``pool: {min, max, increment}``)."""

    min: int | None = None
    max: int | None = None
    increment: int | None = None


# Derived from the engine's records (defs/derived.py) when the module loads: the same keys,
# defaults and descriptions as the configuration file's. The type checker sees records.
if TYPE_CHECKING:
    SourceAttributes = ResolvableRecord
    MeilisearchAttributes = ResolvableRecord
else:
    OracleAttributes = derived_class(
        "OracleAttributes",
        ResolvableRecord,
        OracleSettings,
        module=__name__,
        doc="Oracle connection settings; what is left out comes from the ORACLE_* variables, "
        "the passwords always.",
        optional=True,
        secrets="leave out",
    )

    SourceAttributes = derived_class(
        "SourceAttributes",
        ResolvableRecord,
        SourceConfig,
        module=__name__,
        doc="The source database: a SQLAlchemy ``url``, or Oracle.",
        fields={
            "oracle": (
                OracleAttributes | None,
                Field(default=None, description=SourceConfig.model_fields["oracle"].description),
            ),
            "pool": (
                PoolAttributes | None,
                Field(default=None, description="oracle.pool_* spelt as {min, max, increment}."),
            ),
        },
    )

    MeilisearchAttributes = derived_class(
        "MeilisearchAttributes",
        ResolvableRecord,
        MeilisearchSettings,
        module=__name__,
        doc="Meilisearch: url or shards, timeouts, retries; the API keys come from the "
        "environment (MEILI_API_KEY, MEILI_API_KEY_<NAME>).",
    )


class FreshnessAttributes(FreshnessConfig, dg.Resolvable):
    """How recent the index's last successful sync must be."""


class ChangeSensorAttributes(ChangeSensorConfig, dg.Resolvable):
    """The change sensor's settings."""


class FollowAttributes(FollowConfig, dg.Resolvable):
    """The follow run's settings."""


class SearchCheckAttributes(SearchCheck, dg.Resolvable):
    """A search the index must keep answering, and what it must find."""


class IndexAttributes(IndexConfig, Orchestration, dg.Resolvable):
    """One index: the keys of an entry of the configuration file's ``indexes:``."""

    search_checks: tuple[SearchCheckAttributes, ...] = Field(
        default=(), description="Searches the index must keep answering (asset checks)."
    )
    freshness: FreshnessAttributes | None = Field(
        default=None, description="Dagster freshness policy of the index asset."
    )
    change_sensor: ChangeSensorAttributes | None = Field(
        default_factory=ChangeSensorAttributes,
        description="Set to null to have no change sensor (it needs `cursor`).",
    )
    follow: FollowAttributes | None = Field(
        default=None,
        description="Keep the index fresh with a long-running follow run (it needs `cursor`).",
    )


@dg.scaffold_with(OracleMeiliScaffolder)
class OracleMeiliComponent(dg.Component, dg.Model, dg.Resolvable):
    """Meilisearch indexes kept in sync with Oracle (or any SQLAlchemy) tables.

    Each index becomes an asset ``meilisearch/<index>`` (partitions ``full`` and
    ``incremental``) downstream of its source table ``oracle/<TABLE>`` (``sqlite/...`` on
    SQLite), with its sync, check, reconcile and observe jobs, schedules, change sensor or
    follow run, and consistency checks.
    The attributes are those of the oracle-meili configuration file (docs/configuration.md),
    and ``name`` and ``translation``. Override :meth:`get_asset_spec` in a subclass to
    change how an index or a table appears.
    """

    name: str | None = Field(
        default=None,
        description="Needed when a project has several of these components (two sources): "
        "prefixes the names of this one's jobs, schedules, sensors and resources with "
        "`<name>__`. Give `translation.key_prefix` too, so that asset keys differ.",
    )
    translation: (
        Annotated[
            TranslationFn[TranslatorData],
            TranslationFnResolver[TranslatorData](lambda data: {"data": data}),
        ]
        | None
    ) = Field(
        default=None,
        description="Asset attributes for every index and table (key_prefix, group_name, "
        "tags, owners, ...); `{{ data.kind }}` is `index` or `table`, `{{ data.index.name }}` "
        "and `{{ data.table }}` name them.",
    )

    source: SourceAttributes = Field(description="The source database.")
    meilisearch: MeilisearchAttributes = Field(
        default_factory=MeilisearchAttributes,
        description="Meilisearch: url, timeouts, retries; the API key comes from MEILI_API_KEY.",
    )
    indexes: list[IndexAttributes] = Field(
        description="One entry per Meilisearch index: name, table or query, primary_key, "
        "cursor, schedule, settings, ..."
    )

    def build_defs(self, context: dg.ComponentLoadContext) -> dg.Definitions:
        # Through the configuration file's own loader: the same defaults, environment
        # fallbacks and messages.
        raw = {
            "source": self.source.model_dump(exclude_none=True),
            "meilisearch": self.meilisearch.model_dump(exclude_unset=True),
            "indexes": [index.model_dump(exclude_unset=True) for index in self.indexes],
        }
        return build_definitions(
            parse_config(raw, environ=environment()),
            environment(),
            translator=ComponentTranslator(self),
            scope=self.name or "",
        )

    def get_asset_spec(self, data: TranslatorData) -> dg.AssetSpec:
        """The spec of an index's or a table's asset: the default translator's, with
        ``translation`` applied."""
        spec = OracleMeiliTranslator().get_asset_spec(data)
        if self.translation is None:
            return spec
        return self.translation(spec, data)


class ComponentTranslator(OracleMeiliTranslator):
    """The component's :meth:`~OracleMeiliComponent.get_asset_spec`, as a translator."""

    def __init__(self, component: OracleMeiliComponent) -> None:
        self.component = component

    def get_asset_spec(self, data: IndexAsset | TableAsset) -> dg.AssetSpec:
        return self.component.get_asset_spec(data)
