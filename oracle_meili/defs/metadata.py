"""Materialization metadata: what a sync records, and reading it back (keys in names.py)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import dagster as dg

from oracle_meili.config import IndexConfig
from oracle_meili.defs.names import (
    CHECKPOINT_BUILD_INDEX,
    CHECKPOINT_ROWS,
    COLUMN_LINEAGE,
    COLUMN_SCHEMA,
    DOCUMENTS_DELETED,
    DOCUMENTS_UPSERTED,
    DURATION_SECONDS,
    FULL_SYNC_CHECKPOINT,
    INDEX_DOCUMENT_COUNT,
    LAG_SECONDS,
    MEILISEARCH_URL,
    MODE,
    PREVIOUS_WATERMARK,
    ROW_COUNT,
    ROWS_READ,
    ROWS_SKIPPED,
    SKIPPED_ROWS,
    STRATEGY,
    TASK_UIDS,
    URI,
    WATERMARK,
    WATERMARK_TIME,
    source_table_key,
)
from oracle_meili.engine.checkpoint import FullSyncCheckpoint
from oracle_meili.engine.result import SyncResult
from oracle_meili.engine.watermark import decode_watermark


def result_metadata(result: SyncResult, *, meilisearch_url: str) -> dict[str, dg.MetadataValue]:
    """The metadata of one sync; numeric values are plotted by the Dagster UI."""
    values: dict[str, Any] = {
        WATERMARK: dg.MetadataValue.text(result.watermark or ""),
        MODE: dg.MetadataValue.text(result.mode),
        ROWS_READ: dg.MetadataValue.int(result.rows_read),
        DOCUMENTS_UPSERTED: dg.MetadataValue.int(result.documents_upserted),
        DOCUMENTS_DELETED: dg.MetadataValue.int(result.documents_deleted),
        DURATION_SECONDS: dg.MetadataValue.float(round(result.duration_seconds, 3)),
        INDEX_DOCUMENT_COUNT: dg.MetadataValue.int(result.index_document_count),
        TASK_UIDS: dg.MetadataValue.json(list(result.task_uids)),
        MEILISEARCH_URL: dg.MetadataValue.url(meilisearch_url),
        URI: dg.MetadataValue.url(f"{meilisearch_url.rstrip('/')}/indexes/{result.index}"),
        ROW_COUNT: dg.MetadataValue.int(result.index_document_count),
    }
    if result.previous_watermark is not None:
        values[PREVIOUS_WATERMARK] = dg.MetadataValue.text(result.previous_watermark)
    stamp = decode_watermark(result.watermark)
    if isinstance(stamp, dt.datetime):
        values[WATERMARK_TIME] = utc_timestamp(stamp)
    if result.strategy is not None:
        values[STRATEGY] = dg.MetadataValue.text(result.strategy)
    values[ROWS_SKIPPED] = dg.MetadataValue.int(result.rows_skipped)
    if result.skipped_sample:
        values[SKIPPED_ROWS] = dg.MetadataValue.json(list(result.skipped_sample))
    if result.lag_seconds is not None:
        values[LAG_SECONDS] = dg.MetadataValue.float(round(result.lag_seconds, 3))
    return values


def utc_timestamp(value: dt.datetime) -> dg.MetadataValue:
    """A cursor value as a Dagster timestamp; naive values are taken as UTC, as for
    lag_seconds and epoch fields."""
    aware = value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)
    return dg.MetadataValue.timestamp(aware)


def schema_metadata(
    index: IndexConfig, fields: tuple[tuple[str, str, str], ...]
) -> dict[str, dg.MetadataValue]:
    """The index's document fields with their source columns' types, and, for a table
    source, the column lineage (document field <- source column)."""
    values: dict[str, dg.MetadataValue] = {
        COLUMN_SCHEMA: dg.MetadataValue.table_schema(
            dg.TableSchema(
                columns=[
                    dg.TableColumn(name=field, type=type_name, description=f"from {column}")
                    for field, column, type_name in fields
                ]
            )
        )
    }
    if index.table is not None:
        source = source_table_key(index.table)
        values[COLUMN_LINEAGE] = dg.MetadataValue.column_lineage(
            dg.TableColumnLineage(
                {
                    field: [dg.TableColumnDep(asset_key=source, column_name=column.lower())]
                    for field, column, _ in fields
                }
            )
        )
    return values


def latest_watermark(instance: dg.DagsterInstance, asset_key: dg.AssetKey) -> str | None:
    """The watermark of the latest materialization of either partition (None if none)."""
    event = instance.get_latest_materialization_event(asset_key)
    if event is None or event.asset_materialization is None:
        return None
    value = event.asset_materialization.metadata.get(WATERMARK)
    if value is None or not isinstance(value.value, str) or not value.value:
        return None
    return value.value


def checkpoint_observation(
    asset_key: dg.AssetKey, checkpoint: FullSyncCheckpoint
) -> dg.AssetObservation:
    """A full sync's progress, kept in the event log so that a failed run can be resumed.

    It reads as a sentence and two figures in the Events list; the JSON the resume reads
    comes last."""
    return dg.AssetObservation(
        asset_key=asset_key,
        partition="full",
        description=(
            f"Full sync checkpoint: {checkpoint.rows_acknowledged:,} rows are in the build "
            f"index {checkpoint.build_index}; a retry of a failed run resumes after them."
        ),
        metadata={
            CHECKPOINT_ROWS: dg.MetadataValue.int(checkpoint.rows_acknowledged),
            CHECKPOINT_BUILD_INDEX: dg.MetadataValue.text(checkpoint.build_index),
            FULL_SYNC_CHECKPOINT: dg.MetadataValue.json(checkpoint.to_json()),
        },
    )


def latest_checkpoint(
    instance: dg.DagsterInstance, asset_key: dg.AssetKey
) -> FullSyncCheckpoint | None:
    """The newest full-sync checkpoint observed (the engine ignores one whose build index is
    gone, as it is after a successful sync)."""
    for record in instance.fetch_observations(asset_key, limit=20).records:
        observation = record.asset_observation
        value = observation.metadata.get(FULL_SYNC_CHECKPOINT) if observation else None
        if value is not None and isinstance(value.value, dict):
            return FullSyncCheckpoint.from_json(value.value)
    return None
