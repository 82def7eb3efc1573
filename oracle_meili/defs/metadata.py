"""Materialization metadata keys: one namespaced constant each, read and written only here."""

from __future__ import annotations

from typing import Any

import dagster as dg

from oracle_meili.checkpoint import FullSyncCheckpoint
from oracle_meili.sync import SyncResult

PREFIX = "oracle_meili"
WATERMARK = f"{PREFIX}/watermark"
PREVIOUS_WATERMARK = f"{PREFIX}/previous_watermark"
MODE = f"{PREFIX}/mode"
STRATEGY = f"{PREFIX}/strategy"
ROWS_READ = f"{PREFIX}/rows_read"
DOCUMENTS_UPSERTED = f"{PREFIX}/documents_upserted"
DOCUMENTS_DELETED = f"{PREFIX}/documents_deleted"
DURATION_SECONDS = f"{PREFIX}/duration_seconds"
INDEX_DOCUMENT_COUNT = f"{PREFIX}/index_document_count"
TASK_UIDS = f"{PREFIX}/meilisearch_task_uids"
MEILISEARCH_URL = f"{PREFIX}/meilisearch_url"
LAG_SECONDS = f"{PREFIX}/lag_seconds"
FULL_SYNC_CHECKPOINT = f"{PREFIX}/full_sync_checkpoint"
ROWS_SKIPPED = f"{PREFIX}/rows_skipped"
SKIPPED_ROWS = f"{PREFIX}/skipped_rows"
# Observations of a source table, by the change sensor.
SOURCE_ROW_COUNT = f"{PREFIX}/source_row_count"
MAX_CURSOR = f"{PREFIX}/max_cursor"


def result_metadata(result: SyncResult, *, meilisearch_url: str) -> dict[str, dg.MetadataValue]:
    """The metadata of one sync; numeric values are plotted by the Dagster UI."""
    values: dict[str, Any] = {
        WATERMARK: dg.MetadataValue.text(result.watermark or ""),
        PREVIOUS_WATERMARK: dg.MetadataValue.text(result.previous_watermark or ""),
        MODE: dg.MetadataValue.text(result.mode),
        ROWS_READ: dg.MetadataValue.int(result.rows_read),
        DOCUMENTS_UPSERTED: dg.MetadataValue.int(result.documents_upserted),
        DOCUMENTS_DELETED: dg.MetadataValue.int(result.documents_deleted),
        DURATION_SECONDS: dg.MetadataValue.float(round(result.duration_seconds, 3)),
        INDEX_DOCUMENT_COUNT: dg.MetadataValue.int(result.index_document_count),
        TASK_UIDS: dg.MetadataValue.json(list(result.task_uids)),
        MEILISEARCH_URL: dg.MetadataValue.url(meilisearch_url),
        "dagster/row_count": dg.MetadataValue.int(result.index_document_count),
    }
    if result.strategy is not None:
        values[STRATEGY] = dg.MetadataValue.text(result.strategy)
    values[ROWS_SKIPPED] = dg.MetadataValue.int(result.rows_skipped)
    if result.skipped_sample:
        values[SKIPPED_ROWS] = dg.MetadataValue.json(list(result.skipped_sample))
    if result.lag_seconds is not None:
        values[LAG_SECONDS] = dg.MetadataValue.float(round(result.lag_seconds, 3))
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
    """A full sync's progress, kept in the event log so that a failed run can be resumed."""
    return dg.AssetObservation(
        asset_key=asset_key,
        partition="full",
        metadata={FULL_SYNC_CHECKPOINT: dg.MetadataValue.json(checkpoint.to_json())},
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
