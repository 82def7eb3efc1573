"""Change sensors: poll the highest cursor, request an incremental sync when it moves.

No ``from __future__ import annotations``: Dagster reads the sensor function's annotations.
"""

from typing import Any

import dagster as dg
import orjson

from oracle_meili.config import ChangeSensorConfig, IndexConfig
from oracle_meili.defs.jobs import SyncJob
from oracle_meili.defs.names import (
    change_sensor_name,
    index_asset_key,
    source_table_key,
)
from oracle_meili.defs.resources import MeilisearchResource, SourceResource, runner
from oracle_meili.defs.sources import newest_change_metadata, source_tables
from oracle_meili.engine.watermark import encode_watermark


def build_change_sensor(
    index: IndexConfig, settings: ChangeSensorConfig | None, job: SyncJob
) -> dg.SensorDefinition | None:
    """The index's change sensor, or None when it has none (no cursor, or disabled)."""
    if settings is None or index.cursor is None:
        return None

    key = index_asset_key(index)

    @dg.sensor(
        name=change_sensor_name(index),
        job=job,
        minimum_interval_seconds=settings.interval_seconds,
        description=(
            f"Requests an incremental sync of `{index.name}` when the highest "
            f"{index.cursor} of {index.source_label} changes (and its first, full sync "
            "when it was never synced)."
        ),
        default_status=dg.DefaultSensorStatus.RUNNING
        if settings.running
        else dg.DefaultSensorStatus.STOPPED,
    )
    def _change_sensor(
        context: dg.SensorEvaluationContext,
        source: SourceResource,
        meilisearch: MeilisearchResource,
    ) -> dg.SensorResult:
        # A session kept open across ticks, and the table reflected every few minutes.
        with runner(source, meilisearch, probe=True).session(cached_reflection=True) as session:
            markers = session.change_markers(index)
        current: dict[str, Any] = {"max_cursor": encode_watermark(markers.max_cursor)}
        previous = orjson.loads(context.cursor) if context.cursor else None
        never_synced = context.instance.get_latest_materialization_event(key) is None
        if previous == current and not never_synced:
            return dg.SensorResult(skip_reason="no change in the source", cursor=context.cursor)
        observations = [
            dg.AssetObservation(
                asset_key=source_table_key(table),
                metadata=dict(newest_change_metadata(markers.max_cursor)),
            )
            for table in source_tables(index)
            if index.table is not None  # a query's markers say nothing about one table
        ]
        requests = []
        if never_synced:
            # An index that was never synced gets its first (full) sync from the sensor
            # itself, rather than staying empty until a row changes.
            requests.append(dg.RunRequest(run_key=f"{index.name}:first", partition_key="full"))
        elif previous is not None:
            # The run key makes one change launch one run, however often it is seen.
            key_text = f"{index.name}:{current['max_cursor']}"
            requests.append(dg.RunRequest(run_key=key_text, partition_key="incremental"))
        return dg.SensorResult(
            run_requests=requests,
            cursor=orjson.dumps(current).decode(),
            asset_events=observations,
        )

    return _change_sensor
