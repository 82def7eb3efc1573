"""Change sensors: one probe of the source per tick for every watched index, and an
incremental sync requested for each index whose highest cursor moved.

Indexes whose ``change_sensor`` settings are the same (interval, running) share one
sensor, so a source with many indexes costs one sensor tick and one round trip to the
database per interval, not one of each per index. A lone index keeps its own sensor,
``sync_<index>_on_change``.

No ``from __future__ import annotations``: Dagster reads the sensor function's annotations.
"""

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import dagster as dg
import orjson

from oracle_meili.config import ChangeSensorConfig, IndexConfig
from oracle_meili.defs.jobs import SyncJob, build_changes_job
from oracle_meili.defs.names import change_sensor_name, index_asset_key, source_table_key
from oracle_meili.defs.resources import MeilisearchResource, SourceResource, runner
from oracle_meili.defs.sources import newest_change_metadata, source_tables
from oracle_meili.engine.watermark import encode_watermark

# A run of a sync job in one of these states has not started reading: a change seen now
# is one it will read, so no second run is requested behind it.
WAITING = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
]


@dataclass(frozen=True)
class Watched:
    """An index a change sensor watches, and the job that syncs it."""

    index: IndexConfig
    job: SyncJob


def build_change_sensors(
    entries: Sequence[tuple[IndexConfig, ChangeSensorConfig | None, SyncJob]],
) -> list[dg.SensorDefinition]:
    """The change sensors of these indexes: one per distinct ``change_sensor`` setting
    (indexes without a cursor or with ``change_sensor: null`` are not watched)."""
    groups: dict[tuple[int, bool], list[Watched]] = {}
    for index, settings, job in entries:
        if settings is not None and index.cursor is not None:
            key = (settings.interval_seconds, settings.running)
            groups.setdefault(key, []).append(Watched(index, job))
    sensors = []
    for (interval, running), watched in sorted(groups.items()):
        if len(watched) == 1:
            name = change_sensor_name(watched[0].index)
        elif len(groups) == 1:
            name = "source_changes"
        else:
            name = f"source_changes_every_{interval}s" + ("_running" if running else "")
        changes = (
            build_changes_job(f"{name}_sync", [w.index for w in watched])
            if len(watched) > 1
            else None
        )
        sensors.append(_sensor(name, watched, changes, interval=interval, running=running))
    return sensors


def _sensor(
    name: str,
    watched: list[Watched],
    changes: SyncJob | None,
    *,
    interval: int,
    running: bool,
) -> dg.SensorDefinition:
    described = ", ".join(f"`{w.index.name}` ({w.index.cursor})" for w in watched)

    @dg.sensor(
        name=name,
        jobs=[w.job for w in watched] + ([changes] if changes is not None else []),
        minimum_interval_seconds=interval,
        description=(
            f"Reads the highest cursor of {described} in one query, and requests an "
            "incremental sync of each index whose cursor moved, in one run when several "
            "moved at once (its first, full sync when it was never synced). No second run "
            "is requested while one is still waiting to start: it will read the change."
        ),
        default_status=dg.DefaultSensorStatus.RUNNING
        if running
        else dg.DefaultSensorStatus.STOPPED,
    )
    def _change_sensor(
        context: dg.SensorEvaluationContext,
        source: SourceResource,
        meilisearch: MeilisearchResource,
    ) -> dg.SensorResult:
        # A session kept open across ticks, and the tables reflected every few minutes.
        with runner(source, meilisearch, probe=True).session(cached_reflection=True) as session:
            markers = session.change_markers_of([w.index for w in watched])
        state = _SensorState.load(context.cursor, watched)
        requests: list[dg.RunRequest] = []
        observations: list[dg.AssetObservation] = []
        waiting: list[str] = []
        moved_now: list[tuple[Watched, str | None]] = []
        for w in watched:
            name = w.index.name
            highest = encode_watermark(markers[name].max_cursor)
            seen, moved = name in state.markers, state.markers.get(name) != highest
            state.markers[name] = highest
            if moved:
                observations.extend(_observations(w.index, markers[name].max_cursor))
            if name not in state.synced:
                if context.instance.get_latest_materialization_event(index_asset_key(name)):
                    state.synced.add(name)
                else:
                    # Never synced: its first (full) sync, rather than an empty index
                    # until a row changes. The run key makes Dagster launch it once.
                    requests.append(
                        dg.RunRequest(
                            job_name=w.job.name, run_key=f"{name}:first", partition_key="full"
                        )
                    )
                    continue
            if not (seen and moved):
                continue
            if _a_run_is_waiting(context.instance, w, changes):
                waiting.append(name)
                continue
            moved_now.append((w, highest))
        requests.extend(_incremental_requests(moved_now, changes))
        skip = None
        if not requests:
            skip = (
                f"a sync of {', '.join(waiting)} is waiting to start; it will read the change"
                if waiting
                else "no change in the source"
            )
        return dg.SensorResult(
            run_requests=requests,
            skip_reason=skip,
            cursor=state.dump(),
            asset_events=observations,
        )

    return _change_sensor


def _observations(index: IndexConfig, max_cursor: Any) -> list[dg.AssetObservation]:
    if index.table is None:
        return []  # a query's highest cursor says nothing about one table
    return [
        dg.AssetObservation(
            asset_key=source_table_key(table), metadata=dict(newest_change_metadata(max_cursor))
        )
        for table in source_tables(index)
    ]


def _incremental_requests(
    moved: list[tuple[Watched, str | None]], changes: SyncJob | None
) -> list[dg.RunRequest]:
    """One run per moved index, or one run for all of them (the sensor's changes job)."""
    if len(moved) > 1 and changes is not None:
        key = ";".join(f"{w.index.name}:{highest}" for w, highest in moved)
        return [
            dg.RunRequest(
                job_name=changes.name,
                # The run key makes one set of changes launch one run, however often seen.
                run_key=hashlib.sha256(key.encode()).hexdigest()[:32],
                partition_key="incremental",
                asset_selection=[index_asset_key(w.index) for w, _ in moved],
            )
        ]
    # The run key makes one change launch one run, however often it is seen.
    return [
        dg.RunRequest(
            job_name=w.job.name,
            run_key=f"{w.index.name}:{highest}",
            partition_key="incremental",
        )
        for w, highest in moved
    ]


def _a_run_is_waiting(instance: dg.DagsterInstance, w: Watched, changes: SyncJob | None) -> bool:
    """Whether a sync of the index has yet to start: a run of its own job, or a run of the
    sensor's changes job that holds it."""
    if instance.get_runs(filters=dg.RunsFilter(job_name=w.job.name, statuses=WAITING), limit=1):
        return True
    if changes is None:
        return False
    key = index_asset_key(w.index)
    runs = instance.get_runs(filters=dg.RunsFilter(job_name=changes.name, statuses=WAITING))
    return any(key in (run.asset_selection or ()) for run in runs)


@dataclass
class _SensorState:
    """The sensor's cursor: each index's highest cursor last seen, and the indexes known to
    have been synced (so the instance is asked once per index, not at every tick)."""

    markers: dict[str, str | None]
    synced: set[str]

    @classmethod
    def load(cls, cursor: str | None, watched: list[Watched]) -> "_SensorState":
        data: dict[str, Any] = orjson.loads(cursor) if cursor else {}
        if "max_cursor" in data and len(watched) == 1:
            # The cursor of a single-index sensor in its older form: {"max_cursor": ...}.
            return cls({watched[0].index.name: data["max_cursor"]}, set())
        return cls(dict(data.get("markers", {})), set(data.get("synced", [])))

    def dump(self) -> str:
        return orjson.dumps({"markers": self.markers, "synced": sorted(self.synced)}).decode()
