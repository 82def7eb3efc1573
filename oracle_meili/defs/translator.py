"""How each index and each source table appears in Dagster: :class:`OracleMeiliTranslator`.

As in dagster-dlt and dagster-sling, one overridable method turns what is synced into an
``AssetSpec``: key, group, description, kinds, tags, owners, metadata and (for an index)
its dependencies on its tables. Subclass it in Python and pass it to
:func:`~oracle_meili.defs.build.build_definitions`; a Component's ``translation`` applies on
top of it. Every part of oracle-meili (sensors, schedules, the follow run, the state kept
in asset metadata) then uses the keys it gives.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import dagster as dg

from oracle_meili.config import AppConfig, IndexConfig, Orchestration
from oracle_meili.defs.metadata_sets import IndexDescription, TableMetadataSet
from oracle_meili.defs.names import DEFAULT_GROUP, Names, index_asset_key, source_table_key
from oracle_meili.errors import ConfigError


@dataclass(frozen=True)
class IndexAsset:
    """An index, as the translator sees it."""

    index: IndexConfig
    orchestration: Orchestration
    # The source tables it reads (its own, or a query's ``upstream``), and their assets'
    # keys as the translator gave them.
    tables: tuple[str, ...]
    table_keys: tuple[dg.AssetKey, ...]

    kind = "index"


@dataclass(frozen=True)
class TableAsset:
    """A source table, as the translator sees it."""

    table: str
    # The source's database: oracle, or the SQLAlchemy URL's backend (sqlite, postgresql).
    source_kind: str
    # The group of the indexes reading it, when they share one.
    group: str
    # The first index reading it whole (its soft-delete rule says which rows are live);
    # None when only queries read it (it is then not observed).
    observed_by: IndexConfig | None

    kind = "table"


class OracleMeiliTranslator:
    """The Dagster asset of each index and of each source table. Override
    :meth:`get_asset_spec` (and call ``super()``) to change any attribute."""

    def get_asset_spec(self, data: IndexAsset | TableAsset) -> dg.AssetSpec:
        """The asset's spec: ``meilisearch/<index>`` for an index, downstream of its
        tables; ``oracle/<SCHEMA>/<TABLE>`` for a table (``sqlite/...``, ``postgresql/...``
        on those sources)."""
        if isinstance(data, IndexAsset):
            return self.index_spec(data)
        return self.table_spec(data)

    def index_spec(self, data: IndexAsset) -> dg.AssetSpec:
        orchestration = data.orchestration
        return dg.AssetSpec(
            key=index_asset_key(data.index),
            deps=list(data.table_keys),
            group_name=orchestration.group,
            kinds={"meilisearch"},
            owners=list(orchestration.owners),
            tags=dict(orchestration.tags),
            description=index_description(data.index),
            metadata=dict(IndexDescription(source=data.index.source_label)),
        )

    def table_spec(self, data: TableAsset) -> dg.AssetSpec:
        return dg.AssetSpec(
            key=source_table_key(data.table, data.source_kind),
            description=table_description(data),
            group_name=data.group,
            kinds={data.source_kind},
            metadata=dict(TableMetadataSet(table_name=data.table)),
        )


@dataclass(frozen=True)
class Translated:
    """What the translator made of a configuration: every spec, and the names to use."""

    indexes: Mapping[str, dg.AssetSpec]
    tables: Mapping[str, dg.AssetSpec]
    observed: Mapping[str, IndexConfig]
    names: Names


def translate(
    config: AppConfig, translator: OracleMeiliTranslator, *, source_kind: str, scope: str = ""
) -> Translated:
    """The specs of ``config``'s indexes and tables, and the names that go with them.

    Raises:
        ConfigError: two assets got the same key, or ``scope`` is not a valid name.
    """
    tables = table_assets(config, source_kind=source_kind)
    table_specs = {t.table: translator.get_asset_spec(t) for t in tables}
    index_specs: dict[str, dg.AssetSpec] = {}
    for index in config.indexes:
        read = source_tables(index)
        data = IndexAsset(
            index,
            config.orchestration_of(index),
            tables=read,
            table_keys=tuple(table_specs[table].key for table in read),
        )
        index_specs[index.name] = translator.get_asset_spec(data)
    owners: dict[dg.AssetKey, str] = {}
    for what, spec in [
        *((f"table {t!r}", spec) for t, spec in table_specs.items()),
        *((f"index {i!r}", spec) for i, spec in index_specs.items()),
    ]:
        if spec.key in owners:
            raise ConfigError(
                f"{what} and {owners[spec.key]} have the same asset key "
                f"{spec.key.to_user_string()!r}: give the translator a key prefix"
            )
        owners[spec.key] = what
    names = Names(
        scope=scope,
        source_kind=source_kind,
        index_keys={name: spec.key for name, spec in index_specs.items()},
        table_keys={table: spec.key for table, spec in table_specs.items()},
    )
    return Translated(
        indexes=index_specs,
        tables=table_specs,
        observed={t.table: t.observed_by for t in tables if t.observed_by is not None},
        names=names,
    )


def table_assets(config: AppConfig, *, source_kind: str) -> list[TableAsset]:
    """Each table an index reads, once. A table joins the group of the indexes reading it
    when they all share one, and is in ``oracle_meili`` otherwise."""
    readers: dict[str, set[str]] = {}
    observed: dict[str, IndexConfig] = {}
    for index in config.indexes:
        for table in source_tables(index):
            readers.setdefault(table, set()).add(config.orchestration_of(index).group)
        if index.table is not None:
            observed.setdefault(index.table, index)
    return [
        TableAsset(
            table,
            source_kind=source_kind,
            group=next(iter(groups)) if len(groups) == 1 else DEFAULT_GROUP,
            observed_by=observed.get(table),
        )
        for table, groups in sorted(readers.items())
    ]


def source_tables(index: IndexConfig) -> tuple[str, ...]:
    """The source tables an index reads, for lineage."""
    return (index.table,) if index.table is not None else index.upstream


def index_description(index: IndexConfig) -> str:
    """The index asset's description in the UI."""
    text = (
        f"Meilisearch index `{index.name}` synced from {index.source_label}. "
        "Partition `full` rebuilds it with zero downtime; `incremental` applies the rows "
        "changed since the last watermark. The two partitions are two ways of syncing "
        "the one index, not halves of it: after either, the index is complete."
    )
    if index.parallel > 1:
        text += (
            f" A full sync reads {index.parallel} key ranges at once, each a step of its own, "
            "and publishes the index once they have all finished."
        )
    return text


def table_description(data: TableAsset) -> str:
    """The table asset's description in the UI."""
    observed = data.observed_by
    if observed is None:
        return f"Source table {data.table}, read by an oracle-meili query."
    return (
        f"Source table {data.table}. Observing it records its live rows"
        + (
            f" (rows with {observed.soft_delete.column} = "
            f"{observed.soft_delete.deleted_value!r} left out)"
            if observed.soft_delete is not None
            else ""
        )
        + (f" and its newest {observed.cursor}" if observed.cursor is not None else "")
        + " and its columns."
    )


def default_index_spec(
    index: IndexConfig, orchestration: Orchestration, source_kind: str = "oracle"
) -> dg.AssetSpec:
    """The default translator's spec of ``index`` (its tables under their default keys)."""
    tables = source_tables(index)
    keys = tuple(source_table_key(table, source_kind) for table in tables)
    return OracleMeiliTranslator().get_asset_spec(IndexAsset(index, orchestration, tables, keys))
