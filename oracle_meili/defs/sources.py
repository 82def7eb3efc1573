"""The source tables as observable assets, upstream of the index assets.

An observation records what the table holds now: its live rows (soft-deleted rows left out,
so the figure is comparable with the index's document count), its newest change (the highest
cursor) and its columns. The change sensor observes the newest change at every change it
sees; the ``Observe`` button and ``schedule.observe`` take a full observation.

No ``from __future__ import annotations``: Dagster reads the observe function's annotations.
"""

import datetime as dt
import warnings
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import dagster as dg

from oracle_meili.config import IndexConfig
from oracle_meili.defs.jobs import SyncJob
from oracle_meili.defs.metadata import utc_timestamp
from oracle_meili.defs.metadata_sets import SourceObservation, TableMetadataSet
from oracle_meili.defs.names import (
    DEFAULT_GROUP,
    OBSERVE_JOB,
    source_table_key,
)
from oracle_meili.defs.resources import MeilisearchResource, SourceResource, runner
from oracle_meili.engine.watermark import encode_watermark


def source_tables(index: IndexConfig) -> tuple[str, ...]:
    """The source tables an index reads, for lineage."""
    return (index.table,) if index.table is not None else index.upstream


def observed_by(indexes: Sequence[IndexConfig]) -> dict[str, IndexConfig]:
    """Each table read whole by an index (``table:``), with the first index reading it: its
    soft-delete rule says which rows are live. Tables named only as a query's ``upstream``
    are not observed: a query's rows say nothing about one of its tables."""
    tables: dict[str, IndexConfig] = {}
    for index in indexes:
        if index.table is not None:
            tables.setdefault(index.table, index)
    return tables


def _spec(table: str, *, kind: str, group: str, observed: IndexConfig | None) -> dg.AssetSpec:
    if observed is None:
        description = f"Source table {table}, read by an oracle-meili query."
    else:
        description = (
            f"Source table {table}. Observing it records its live rows"
            + (
                f" (rows with {observed.soft_delete.column} = "
                f"{observed.soft_delete.deleted_value!r} left out)"
                if observed.soft_delete is not None
                else ""
            )
            + (f" and its newest {observed.cursor}" if observed.cursor is not None else "")
            + " and its columns."
        )
    return dg.AssetSpec(
        source_table_key(table),
        description=description,
        group_name=group,
        kinds={kind},
        metadata=dict(TableMetadataSet(table_name=table)),
    )


def build_source_assets(
    indexes: Sequence[IndexConfig], *, kind: str, groups: Mapping[str, str] | None = None
) -> list[dg.AssetSpec | dg.AssetsDefinition]:
    """One asset per source table: observable where an index reads the table whole.

    ``kind`` is the source's database (``oracle``, ``sqlite``, ...), shown in the UI.
    ``groups`` maps an index to its asset group: a table joins the group of the indexes
    reading it when they all share one, and is in ``oracle_meili`` otherwise.
    """
    group_of = _table_groups(indexes, groups or {})
    observed = observed_by(indexes)
    others = sorted({t for index in indexes for t in source_tables(index)} - set(observed))
    assets: list[dg.AssetSpec | dg.AssetsDefinition] = [
        _spec(table, kind=kind, group=group_of[table], observed=None) for table in others
    ]
    if observed:
        assets.append(_observable_tables(observed, kind=kind, group_of=group_of))
    return assets


def _table_groups(indexes: Sequence[IndexConfig], groups: Mapping[str, str]) -> dict[str, str]:
    readers: dict[str, set[str]] = {}
    for index in indexes:
        for table in source_tables(index):
            readers.setdefault(table, set()).add(groups.get(index.name, DEFAULT_GROUP))
    return {t: g.pop() if len(g) == 1 else DEFAULT_GROUP for t, g in readers.items()}


def _observable_tables(
    tables: dict[str, IndexConfig], *, kind: str, group_of: Mapping[str, str]
) -> dg.AssetsDefinition:
    specs = [
        _spec(table, kind=kind, group=group_of[table], observed=index)
        for table, index in sorted(tables.items())
    ]
    index_by_key = {source_table_key(table): index for table, index in tables.items()}

    def _observe(
        context: dg.AssetExecutionContext,
        source: SourceResource,
        meilisearch: MeilisearchResource,
    ) -> Iterator[dg.ObserveResult]:
        with runner(source, meilisearch).session() as session:
            for key in sorted(context.selected_asset_keys, key=lambda k: k.to_user_string()):
                index = index_by_key[key]
                observation = session.observe(index)
                live_rows, newest = observation.live_rows, observation.newest_change
                metadata = {
                    **TableMetadataSet(
                        row_count=live_rows, column_schema=table_schema(observation.columns)
                    ),
                    **newest_change_metadata(newest),
                }
                context.log.info(f"{index.table}: {live_rows} live rows, newest change {newest}")
                yield dg.ObserveResult(
                    asset_key=key,
                    metadata=metadata,
                    # Dagster marks the index stale when this moves after its last sync.
                    data_version=dg.DataVersion(f"{live_rows}:{encode_watermark(newest) or ''}"),
                )

    with warnings.catch_warnings():
        # Observable multi-assets are beta in Dagster 1.13, used knowingly (pinned below 1.14).
        warnings.simplefilter("ignore", dg.BetaWarning)
        observe = dg.multi_observable_source_asset(
            name="observe_source_tables", specs=specs, can_subset=True
        )(_observe)
    assert isinstance(observe, dg.AssetsDefinition)
    return observe


def newest_change_metadata(newest: Any) -> SourceObservation:
    """The highest cursor value: as a Dagster timestamp when it is a time (naive values
    taken as UTC, as everywhere in oracle-meili), and always as its exact encoded text."""
    return SourceObservation(
        max_cursor=encode_watermark(newest) or "",
        newest_change=utc_timestamp(newest) if isinstance(newest, dt.datetime) else None,
    )


def table_schema(columns: Sequence[tuple[str, str, str]]) -> dg.TableSchema:
    """The source's columns and their SQL types."""
    return dg.TableSchema(
        columns=[
            dg.TableColumn(name=column.lower(), type=type_name) for _, column, type_name in columns
        ]
    )


def build_observe_job(indexes: Sequence[IndexConfig]) -> SyncJob | None:
    """``observe_sources``: observes source tables (select them; ``schedule.observe``)."""
    keys = sorted({source_table_key(i.table) for i in indexes if i.table is not None})
    if not keys:
        return None
    return dg.define_asset_job(
        name=OBSERVE_JOB,
        selection=dg.AssetSelection.assets(*keys),
        executor_def=dg.in_process_executor,
        description="Observe source tables: live rows, newest change, columns.",
    )
