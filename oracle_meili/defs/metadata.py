"""Materialization metadata: what a sync records, and reading it back."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import dagster as dg

from oracle_meili.adapters.columns import DocumentField
from oracle_meili.defs.metadata_sets import (
    NO_LATE_COMMITS,
    CheckpointMetadata,
    SyncMetadata,
    TableMetadataSet,
    UriMetadataSet,
)
from oracle_meili.defs.names import source_table_key
from oracle_meili.engine.checkpoint import FullSyncCheckpoint
from oracle_meili.engine.freshness import LastSync
from oracle_meili.engine.result import SyncResult
from oracle_meili.engine.slice_plan import SlicedPlan
from oracle_meili.engine.watermark import decode_watermark

# Observations read per query when looking back through a full sync in progress.
OBSERVATION_PAGE = 500


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
        rows_reread=result.rows_reread,
        documents_upserted=result.documents_upserted,
        documents_deleted=result.documents_deleted,
        duration_seconds=round(result.duration_seconds, 3),
        index_document_count=result.index_document_count,
        meilisearch_task_uids=", ".join(str(uid) for uid in result.task_uids),
        meilisearch_url=dg.MetadataValue.url(meilisearch_url),
        behind_seconds=round(result.behind_seconds, 3)
        if result.behind_seconds is not None
        else None,
        change_age_seconds=round(age, 3)
        if (age := result.newest_change_age_seconds) is not None
        else None,
        late_commits_until=dg.MetadataValue.timestamp(result.late_commits_until)
        if result.late_commits_until is not None
        else dg.MetadataValue.text(NO_LATE_COMMITS),
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
    newest_change_age_seconds and epoch fields."""
    aware = value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)
    return dg.MetadataValue.timestamp(aware)


def schema_metadata(
    table: str | None,
    fields: tuple[DocumentField, ...],
    table_key: Callable[[str], dg.AssetKey] = source_table_key,
) -> TableMetadataSet:
    """The index's document fields with their source columns' types, and, for a table
    source (``table``; None for a query), the column lineage (document field <- source
    column of ``table_key``'s asset)."""
    schema = dg.TableSchema(
        columns=[
            dg.TableColumn(
                name=field.name, type=field.type, description=f"from {', '.join(field.columns)}"
            )
            for field in fields
        ]
    )
    lineage = None
    if table is not None:
        source = table_key(table)
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
    watermark = recorded_sync(event.asset_materialization.metadata, "watermark").watermark
    return watermark or None


def recorded_sync(metadata: Mapping[str, Any], *fields: str) -> SyncMetadata:
    """The ``fields`` of a sync's recorded metadata, and only those: a sync reads its
    predecessor's back, so a key it does not need (recorded with another value type, or by
    hand) must not fail it."""
    keys = {SyncMetadata.key(name) for name in fields}
    return SyncMetadata.extract({k: v for k, v in metadata.items() if k in keys})


def last_syncs(
    instance: dg.DagsterInstance, asset_keys: Sequence[dg.AssetKey]
) -> dict[dg.AssetKey, LastSync | None]:
    """Each index's last sync (its latest materialization of either partition), as the
    change rule reads it, in one query for all of them."""
    found: dict[dg.AssetKey, LastSync | None] = dict.fromkeys(asset_keys)
    for record in instance.get_asset_records(list(asset_keys)):
        entry = record.asset_entry
        event = entry.last_materialization
        if event is None or event.asset_materialization is None:
            continue
        found[entry.asset_key] = last_sync_from(
            event.asset_materialization.metadata, recorded_at=event.timestamp
        )
    return found


def last_sync_from(metadata: Mapping[str, Any], *, recorded_at: float) -> LastSync:
    """A materialization's metadata as the change rule reads it. One without a late-commits
    deadline (recorded before it existed, or by hand) takes its own time as the deadline:
    one re-read of the window, once."""
    sync = recorded_sync(metadata, "watermark", "late_commits_until")
    late = sync.late_commits_until
    deadline: dt.datetime | None
    if isinstance(late, dg.TimestampMetadataValue):
        deadline = dt.datetime.fromtimestamp(late.value, dt.UTC)
    elif late is not None:
        deadline = None  # NO_LATE_COMMITS
    else:
        deadline = dt.datetime.fromtimestamp(recorded_at, dt.UTC)
    return LastSync(watermark=sync.watermark or None, late_commits_until=deadline)


def checkpoint_observation(
    asset_key: dg.AssetKey, checkpoint: FullSyncCheckpoint
) -> dg.AssetObservation:
    """A full sync's progress, kept in the event log so that a failed run can be resumed.

    It reads as a sentence and two figures in the Events list; the JSON the resume reads
    comes last."""
    if checkpoint.finished:
        description = (
            f"Full sync, slice {checkpoint.slice} finished: {checkpoint.rows_acknowledged:,} "
            f"rows are in the build index {checkpoint.build_index}."
        )
    else:
        description = (
            f"Full sync, slice {checkpoint.slice} checkpoint: {checkpoint.rows_acknowledged:,} "
            f"of its rows are in the build index {checkpoint.build_index}; a retry of the "
            "slice resumes after them."
        )
    return dg.AssetObservation(
        asset_key=asset_key,
        partition="full",
        description=description,
        metadata=dict(
            CheckpointMetadata(
                checkpoint_rows=checkpoint.rows_acknowledged,
                checkpoint_build=checkpoint.build_index,
                full_sync_checkpoint=dg.MetadataValue.json(checkpoint.to_json()),
            )
        ),
    )


def plan_observation(asset_key: dg.AssetKey, plan: SlicedPlan) -> dg.AssetObservation:
    """A full sync's plan, kept in the event log for its slices and for a resume."""
    return dg.AssetObservation(
        asset_key=asset_key,
        partition="full",
        description=(
            f"Full sync plan: {plan.slices} key-range slice{'s' if plan.slices > 1 else ''} "
            f"into the build index {plan.build_index}."
        ),
        metadata=dict(
            CheckpointMetadata(
                checkpoint_build=plan.build_index,
                full_sync_plan=dg.MetadataValue.json(plan.to_json()),
            )
        ),
    )


def observations_since_full_sync(
    instance: dg.DagsterInstance, asset_key: dg.AssetKey
) -> Iterator[dg.AssetObservation]:
    """The asset's observations newer than its last successful full sync, newest first.

    A plan or checkpoint from before that sync has nothing left to resume, so no search
    reads further back than the full sync in progress."""
    last_full = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=asset_key, asset_partitions=["full"]), limit=1
    ).records
    since = dg.AssetRecordsFilter(
        asset_key=asset_key, after_storage_id=last_full[0].storage_id if last_full else None
    )
    cursor = None
    while True:
        page = instance.fetch_observations(since, limit=OBSERVATION_PAGE, cursor=cursor)
        for record in page.records:
            if record.asset_observation is not None:
                yield record.asset_observation
        if not page.has_more:
            return
        cursor = page.cursor


def latest_plan(instance: dg.DagsterInstance, asset_key: dg.AssetKey) -> SlicedPlan | None:
    """The plan of the sliced full sync in progress (None when there is none)."""
    for observation in observations_since_full_sync(instance, asset_key):
        value = CheckpointMetadata.extract(observation.metadata).full_sync_plan
        if value is not None and isinstance(value.value, dict):
            return SlicedPlan.from_json(value.value)
    return None


def slice_checkpoints(
    instance: dg.DagsterInstance, asset_key: dg.AssetKey, build_index: str
) -> dict[int, FullSyncCheckpoint]:
    """Each slice's latest checkpoint into ``build_index``, read back to that build's plan."""
    found: dict[int, FullSyncCheckpoint] = {}
    for observation in observations_since_full_sync(instance, asset_key):
        metadata = CheckpointMetadata.extract(observation.metadata)
        plan = metadata.full_sync_plan
        if plan is not None and isinstance(plan.value, dict):
            if plan.value.get("build_index") == build_index:
                break  # nothing of this build is older than its plan
            continue
        value = metadata.full_sync_checkpoint
        if value is None or not isinstance(value.value, dict):
            continue
        checkpoint = FullSyncCheckpoint.from_json(value.value)
        if checkpoint.build_index == build_index and checkpoint.slice is not None:
            found.setdefault(checkpoint.slice, checkpoint)
    return found
