"""Materialization metadata: what a sync records, and reading it back."""

from __future__ import annotations

import datetime as dt
from typing import Any

import dagster as dg

from oracle_meili.config import IndexConfig
from oracle_meili.defs.metadata_sets import (
    CheckpointMetadata,
    SyncMetadata,
    TableMetadataSet,
    UriMetadataSet,
)
from oracle_meili.defs.names import source_table_key
from oracle_meili.engine.checkpoint import FullSyncCheckpoint
from oracle_meili.engine.result import SyncResult
from oracle_meili.engine.runner import DocumentField
from oracle_meili.engine.watermark import decode_watermark


def result_metadata(result: SyncResult, *, meilisearch_url: str) -> dict[str, Any]:
    """The metadata of one sync; numeric values are plotted by the Dagster UI."""
    stamp = decode_watermark(result.watermark)
    sync = SyncMetadata(
        watermark=result.watermark or "",
        previous_watermark=result.previous_watermark,
        watermark_time=utc_timestamp(stamp) if isinstance(stamp, dt.datetime) else None,
        mode=result.mode,
        strategy=result.strategy,
        rows_read=result.rows_read,
        documents_upserted=result.documents_upserted,
        documents_deleted=result.documents_deleted,
        duration_seconds=round(result.duration_seconds, 3),
        index_document_count=result.index_document_count,
        meilisearch_task_uids=dg.MetadataValue.json(list(result.task_uids)),
        meilisearch_url=dg.MetadataValue.url(meilisearch_url),
        lag_seconds=round(result.lag_seconds, 3) if result.lag_seconds is not None else None,
        rows_skipped=result.rows_skipped,
        skipped_rows=dg.MetadataValue.json(list(result.skipped_sample))
        if result.skipped_sample
        else None,
    )
    uri = f"{meilisearch_url.rstrip('/')}/indexes/{result.index}"
    return {
        **sync,
        **TableMetadataSet(row_count=result.index_document_count),
        **UriMetadataSet(uri=uri),
    }


def utc_timestamp(value: dt.datetime) -> dg.TimestampMetadataValue:
    """A cursor value as a Dagster timestamp; naive values are taken as UTC, as for
    lag_seconds and epoch fields."""
    aware = value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)
    return dg.MetadataValue.timestamp(aware)


def schema_metadata(index: IndexConfig, fields: tuple[DocumentField, ...]) -> TableMetadataSet:
    """The index's document fields with their source columns' types, and, for a table
    source, the column lineage (document field <- source column)."""
    schema = dg.TableSchema(
        columns=[
            dg.TableColumn(
                name=field.name, type=field.type, description=f"from {', '.join(field.columns)}"
            )
            for field in fields
        ]
    )
    lineage = None
    if index.table is not None:
        source = source_table_key(index.table)
        lineage = dg.TableColumnLineage(
            {
                field.name: [
                    dg.TableColumnDep(asset_key=source, column_name=column.lower())
                    for column in field.columns
                ]
                for field in fields
            }
        )
    return TableMetadataSet(column_schema=schema, column_lineage=lineage)


def latest_watermark(instance: dg.DagsterInstance, asset_key: dg.AssetKey) -> str | None:
    """The watermark of the latest materialization of either partition (None if none)."""
    event = instance.get_latest_materialization_event(asset_key)
    if event is None or event.asset_materialization is None:
        return None
    watermark = SyncMetadata.extract(event.asset_materialization.metadata).watermark
    return watermark or None


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
        metadata=dict(
            CheckpointMetadata(
                checkpoint_rows_acknowledged=checkpoint.rows_acknowledged,
                checkpoint_build_index=checkpoint.build_index,
                full_sync_checkpoint=dg.MetadataValue.json(checkpoint.to_json()),
            )
        ),
    )


def latest_checkpoint(
    instance: dg.DagsterInstance, asset_key: dg.AssetKey
) -> FullSyncCheckpoint | None:
    """The newest full-sync checkpoint observed (the engine ignores one whose build index is
    gone, as it is after a successful sync)."""
    for record in instance.fetch_observations(asset_key, limit=20).records:
        observation = record.asset_observation
        if observation is None:
            continue
        value = CheckpointMetadata.extract(observation.metadata).full_sync_checkpoint
        if value is not None and isinstance(value.value, dict):
            return FullSyncCheckpoint.from_json(value.value)
    return None
