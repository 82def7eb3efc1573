"""Change sensors: one probe of the source per tick for every watched index, and an
incremental sync requested for each index that the change rule says is due: its highest
cursor is above its watermark, or its late-commits deadline has passed
(:mod:`~oracle_meili.engine.freshness`). The rule compares the probe with each index's last
sync in the instance, never with the previous tick, so a change made while the sensor was
stopped is synced at its first tick.

Indexes whose ``change_sensor`` settings are the same (interval, running) share one
sensor, so a source with many indexes costs one sensor tick and one round trip to the
database per interval, not one of each per index. A lone index keeps its own sensor,
``sync_<index>_on_change``.

No ``from __future__ import annotations``: Dagster reads the sensor function's annotations.
"""

import datetime as dt
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import dagster as dg
import orjson

from oracle_meili.config import ChangeSensorConfig, IndexConfig
from oracle_meili.defs.jobs import AssetJob
from oracle_meili.defs.metadata import last_syncs
from oracle_meili.defs.names import DEFAULT_NAMES, Names, change_sensor_name, index_tag
from oracle_meili.defs.resources import bound_runner, resource_keys
from oracle_meili.defs.sources import newest_change_metadata, versioned
from oracle_meili.defs.translator import source_tables
from oracle_meili.engine.freshness import LastSync, sync_due
from oracle_meili.engine.result import Clock, now
from oracle_meili.engine.watermark import encode_watermark

# A run of a sync job in one of these states has not started reading: a change seen now
# is one it will read, so no second run is requested behind it.
WAITING = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
]
# After a failed sync run (its own retries spent), the sensor waits this long before it
# requests the index's sync again: a sync failing for good does not launch a run a tick.
RETRY_AFTER_FAILURE_SECONDS = 60


@dataclass(frozen=True)
class Watched:
    """An index a change sensor watches, and the job that syncs it."""

    index: IndexConfig
    job: AssetJob
    # The index's asset, and its tables' (observed at each change the sensor sees).
    key: dg.AssetKey
    table_keys: tuple[dg.AssetKey, ...]
    # The checks each sync of it evaluates (names.sync_checks).
    checks: tuple[dg.AssetCheckKey, ...]


def build_change_sensors(
    entries: Sequence[tuple[IndexConfig, ChangeSensorConfig | None, AssetJob]],
    *,
    clock: Clock = now,
    names: Names = DEFAULT_NAMES,
) -> list[dg.SensorDefinition]:
    """The change sensors of these indexes: one per distinct ``change_sensor`` setting
    (indexes without a cursor or with ``change_sensor: null`` are not watched). ``clock``
    is the time the change rule compares late-commits deadlines with (a test's own)."""
    groups: dict[tuple[int, bool], list[Watched]] = {}
    for index, settings, job in entries:
        if settings is not None and index.cursor is not None:
            key = (settings.interval_seconds, settings.running)
            tables = tuple(names.table_key(t) for t in source_tables(index))
            groups.setdefault(key, []).append(
                Watched(index, job, names.index_key(index), tables, tuple(names.sync_checks(index)))
            )
    sensors = []
    for (interval, running), watched in sorted(groups.items()):
        if len(watched) == 1:
            name = change_sensor_name(watched[0].index)
        elif len(groups) == 1:
            name = "source_changes"
        else:
            name = f"source_changes_every_{interval}s" + ("_running" if running else "")
        sensors.append(
            _sensor(names(name), watched, interval=interval, running=running, clock=clock,
                    names=names)
        )  # fmt: skip
    return sensors


STATUS = {True: dg.DefaultSensorStatus.RUNNING, False: dg.DefaultSensorStatus.STOPPED}
SENSOR_DESCRIPTION = (
    "Reads the highest cursor of {described} in one query, and requests an incremental sync "
    "of each index whose highest cursor is above its watermark, or whose late commits are "
    "all in (one re-read of its look-back window), in one run when several are due at once "
    "(its first, full sync when it was never synced). No second run is requested while one "
    "is still waiting to start: it will read the change."
)


def _sensor(
    name: str,
    watched: list[Watched],
    *,
    interval: int,
    running: bool,
    clock: Clock,
    names: Names,
) -> dg.SensorDefinition:
    described = ", ".join(f"`{w.index.name}` ({w.index.cursor})" for w in watched)

    @dg.sensor(
        name=name,
        jobs=list({w.job.name: w.job for w in watched}.values()),
        minimum_interval_seconds=interval,
        required_resource_keys=resource_keys(names),
        description=SENSOR_DESCRIPTION.format(described=described),
        default_status=STATUS[running],
    )
    def _change_sensor(context: dg.SensorEvaluationContext, **_: object) -> dg.SensorResult:
        # `**_`: called directly (a user's test), a sensor gets its resources as keyword
        # arguments too. A session kept open across ticks, tables reflected every few minutes.
        with bound_runner(context, names, probe=True).session(cached_reflection=True) as session:
            markers = session.change_markers_of([w.index for w in watched])
        last = last_syncs(context.instance, [w.key for w in watched])
        at = clock()
        state = _SensorState.load(context.cursor, watched)
        requests: list[dg.RunRequest] = []
        observations: list[dg.AssetObservation] = []
        held: list[str] = []
        due: list[tuple[Watched, str]] = []
        for w in watched:
            name, highest = w.index.name, markers[w.index.name].max_cursor
            if state.markers.get(name) != encode_watermark(highest):
                observations.extend(_observations(w, highest))
            state.markers[name] = encode_watermark(highest)
            previous = last[w.key]
            if sync_due(highest, previous, at=at) is None:
                continue
            hold = _hold(context.instance, w, at=at)
            if hold is not None:
                held.append(f"{name}: {hold}")
                continue
            retry = _failed_run_id(context.instance, w)
            if previous is None:
                requests.append(_first_sync_request(w, retry))
                continue
            due.append((w, _due_key(name, highest, previous, retry)))
        requests.extend(_incremental_requests(due))
        skip = None
        if not requests:
            skip = "; ".join(held) if held else "no change in the source"
        return dg.SensorResult(
            run_requests=requests,
            skip_reason=skip,
            cursor=state.dump(),
            asset_events=observations,
        )

    return _change_sensor


def _first_sync_request(w: Watched, retry: str | None) -> dg.RunRequest:
    """Never synced: its first (full) sync, rather than an empty index until a row changes.
    The run key makes Dagster launch it once (per failure)."""
    return dg.RunRequest(
        job_name=w.job.name,
        run_key=f"{w.index.name}:first" + (f":after:{retry}" if retry else ""),
        partition_key="full",
        asset_selection=[w.key],
        # Its own check, not the consistency checks (else Dagster adds all).
        asset_check_keys=list(w.checks),
        tags=index_tag(w.index),
    )


def _due_key(name: str, highest: Any, previous: LastSync, retry: str | None) -> str:
    """What makes one due sync one run, however often a tick sees it: the index, its
    watermark and deadline, the highest cursor, and the failed run it follows, if any."""
    deadline = previous.late_commits_until
    parts = [
        name,
        previous.watermark or "",
        encode_watermark(highest) or "",
        deadline.isoformat() if deadline is not None else "",
    ]
    if retry:
        parts.append(f"after:{retry}")
    return ":".join(parts)


def _observations(w: Watched, max_cursor: Any) -> list[dg.AssetObservation]:
    if w.index.table is None:
        return []  # a query's highest cursor says nothing about one table
    return [
        dg.AssetObservation(
            asset_key=key,
            metadata=dict(newest_change_metadata(max_cursor)),
            tags=versioned(max_cursor),
        )
        for key in w.table_keys
    ]


def _incremental_requests(due: list[tuple[Watched, str]]) -> list[dg.RunRequest]:
    """One run for every due index of a sync job: many indexes changing at once cost one
    run's start-up. The run key makes one set of due syncs launch one run, however often
    a tick sees it."""
    by_job: dict[str, list[tuple[Watched, str]]] = {}
    for w, run_key in due:
        by_job.setdefault(w.job.name, []).append((w, run_key))
    requests = []
    for job, members in by_job.items():
        key = ";".join(run_key for _, run_key in members)
        if len(members) > 1:
            key = hashlib.sha256(key.encode()).hexdigest()[:32]
        requests.append(
            dg.RunRequest(
                job_name=job,
                run_key=key,
                partition_key="incremental",
                asset_selection=[w.key for w, _ in members],
                # Their own checks, not the consistency checks (else Dagster adds all).
                asset_check_keys=[c for w, _ in members for c in w.checks],
                tags={k: v for w, _ in members for k, v in index_tag(w.index).items()},
            )
        )
    return requests


def _runs_of(
    instance: dg.DagsterInstance,
    w: Watched,
    statuses: Sequence[dg.DagsterRunStatus] | None = None,
) -> list[dg.RunRecord]:
    """The newest runs of the shared sync job that sync the index (by its tag), newest
    first."""
    filters = dg.RunsFilter(
        job_name=w.job.name, statuses=list(statuses or []), tags=index_tag(w.index)
    )
    return list(instance.get_run_records(filters=filters, limit=1))


def _hold(instance: dg.DagsterInstance, w: Watched, *, at: dt.datetime) -> str | None:
    """Why no run of the index is requested now, or None: a sync of it is waiting to start
    (it will read the change), or its last sync failed a moment ago."""
    if _runs_of(instance, w, WAITING):
        return "a sync is waiting to start; it will read the change"
    newest = _runs_of(instance, w)
    if newest and newest[0].dagster_run.status == dg.DagsterRunStatus.FAILURE:
        ended = newest[0].end_time or newest[0].update_timestamp.timestamp()
        retry_at = ended + RETRY_AFTER_FAILURE_SECONDS
        if at.timestamp() < retry_at:
            when = dt.datetime.fromtimestamp(retry_at, dt.UTC).isoformat(timespec="seconds")
            return f"its last sync failed; requested again at {when}"
    return None


def _failed_run_id(instance: dg.DagsterInstance, w: Watched) -> str | None:
    """The newest run of the index when it failed: the retry's run key names it, so that a
    failed sync is requested again rather than taken for one already launched."""
    newest = _runs_of(instance, w)
    if newest and newest[0].dagster_run.status == dg.DagsterRunStatus.FAILURE:
        return newest[0].dagster_run.run_id
    return None


@dataclass
class _SensorState:
    """The sensor's cursor: each index's highest cursor last seen (to observe the source
    table when it moves; whether a sync is due is read from the instance, not from here)."""

    markers: dict[str, str | None]

    @classmethod
    def load(cls, cursor: str | None, watched: list[Watched]) -> "_SensorState":
        data: dict[str, Any] = orjson.loads(cursor) if cursor else {}
        if "max_cursor" in data and len(watched) == 1:
            # The cursor of a single-index sensor in its older form: {"max_cursor": ...}.
            return cls({watched[0].index.name: data["max_cursor"]})
        return cls(dict(data.get("markers", {})))

    def dump(self) -> str:
        return orjson.dumps({"markers": self.markers}).decode()
