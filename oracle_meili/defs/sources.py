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
from oracle_meili.defs.dagster_private import DATA_VERSION_TAG
from oracle_meili.defs.jobs import AssetJob
from oracle_meili.defs.metadata import utc_timestamp
from oracle_meili.defs.metadata_sets import SourceObservation, TableMetadataSet
from oracle_meili.defs.names import DEFAULT_NAMES, OBSERVE_JOB, Names
from oracle_meili.defs.resources import bound_runner, resource_keys
from oracle_meili.defs.translator import Translated
from oracle_meili.engine.watermark import encode_watermark


def build_source_assets(
    translated: Translated, names: Names = DEFAULT_NAMES
) -> list[dg.AssetSpec | dg.AssetsDefinition]:
    """One asset per source table, as the translator describes it: observable where an
    index reads the table whole."""
    observed = translated.observed
    assets: list[dg.AssetSpec | dg.AssetsDefinition] = [
        spec for table, spec in sorted(translated.tables.items()) if table not in observed
    ]
    if observed:
        specs = [translated.tables[table] for table in sorted(observed)]
        index_by_key = {translated.tables[t].key: index for t, index in observed.items()}
        assets.append(_observable_tables(specs, index_by_key, names))
    return assets


def _observable_tables(
    specs: list[dg.AssetSpec], index_by_key: Mapping[dg.AssetKey, IndexConfig], names: Names
) -> dg.AssetsDefinition:
    def _observe(context: dg.AssetExecutionContext) -> Iterator[dg.ObserveResult]:
        with bound_runner(context, names).session() as session:
            for key in sorted(context.selected_asset_keys, key=lambda k: k.to_user_string()):
                index = index_by_key[key]
                observation = session.observe(index)
                live_rows, newest = observation.live_rows, observation.newest_change
                metadata = {
                    **TableMetadataSet(
                        row_count=live_rows,
                        column_schema=table_schema(
                            [(column, type_name) for _, column, type_name in observation.columns]
                        ),
                    ),
                    **newest_change_metadata(newest),
                }
                context.log.info(f"{index.table}: {live_rows} live rows, newest change {newest}")
                yield dg.ObserveResult(
                    asset_key=key, metadata=metadata, data_version=table_version(newest)
                )

    with warnings.catch_warnings():
        # Observable multi-assets are beta in Dagster 1.13, used knowingly (pinned below 1.14).
        warnings.simplefilter("ignore", dg.BetaWarning)
        observe = dg.multi_observable_source_asset(
            name=names("observe_source_tables"),
            specs=specs,
            can_subset=True,
            required_resource_keys=resource_keys(names),
        )(_observe)
    assert isinstance(observe, dg.AssetsDefinition)
    return observe


def table_version(newest: Any) -> dg.DataVersion:
    """The table's data version: its newest change. Every observation carries it, the
    Observe button's, a sync's and the change sensor's, so that Dagster shows an index stale
    exactly when its table changed after the index's sync (a row count would differ
    between them: only Observe counts rows)."""
    return dg.DataVersion(encode_watermark(newest) or "empty")


def versioned(newest: Any) -> dict[str, str]:
    """The tags that give an ``AssetObservation`` the table's data version."""
    return {DATA_VERSION_TAG: table_version(newest).value}


def newest_change_metadata(newest: Any) -> SourceObservation:
    """The highest cursor value: as a Dagster timestamp when it is a time (naive values
    taken as UTC, as everywhere in oracle-meili), and always as its exact encoded text."""
    return SourceObservation(
        max_cursor=encode_watermark(newest) or "",
        newest_change=utc_timestamp(newest) if isinstance(newest, dt.datetime) else None,
    )


def table_schema(columns: Sequence[tuple[str, str]]) -> dg.TableSchema:
    """The source's columns and their SQL types."""
    return dg.TableSchema(
        columns=[
            dg.TableColumn(name=column.lower(), type=type_name) for column, type_name in columns
        ]
    )


def build_observe_job(translated: Translated) -> AssetJob | None:
    """``observe_sources``: observes source tables (select them; ``schedule.observe``)."""
    keys = sorted((translated.tables[t].key for t in translated.observed), key=str)
    if not keys:
        return None
    return dg.define_asset_job(
        name=translated.names(OBSERVE_JOB),
        selection=dg.AssetSelection.assets(*keys),
        executor_def=dg.in_process_executor,
        description="Observe source tables: live rows, newest change, columns.",
    )
