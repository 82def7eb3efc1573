"""The follow run: a long-running Dagster run that keeps indexes fresh, and the sensor that
keeps one going.

The run is one op running the engine's :class:`~oracle_meili.engine.follow.Follower`: it
probes the followed indexes every ``follow.interval_seconds`` and syncs each one that is
due at once, several at a time. Each sync claims the index's pool (``oracle_meili/<index>``)
and, with ``source.max_concurrent_syncs``, a slot of the source's pool, so it never overlaps
a sync run, a full sync or another follower; an index whose slot is taken is tried again at
the next poll. Each sync is reported as a materialization of the index asset, partition
``incremental``, with the metadata a sync run records, linked to the follow run.

The sensor ``keep_<job>_running`` requests a follow run whenever none is in progress (so a
run that was killed is replaced at its next tick), and stops one that follows older
settings (after the code location was reloaded with a changed configuration).

A follow run hands over to a new one after ``follow.handover_after_minutes`` or
``HANDOVER_AFTER_EVENTS`` events, whichever comes first: Dagster's executor keeps every
event of a running step in a list until the step ends (``step_event_list`` in
``dagster/_core/execution/plan/execute_plan.py``), so a step that never ended would grow by
a few kilobytes a sync for ever. The run tags itself ``HANDOVER_TAG``, the sensor requests
its successor at its next tick, and the run follows on until the successor has started,
then ends: the two overlap (each sync claims the index's pool, so they never sync one index
at once), and following never pauses.

No ``from __future__ import annotations``: Dagster reads the op's and sensor's annotations.
"""

import hashlib
import os
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import dagster as dg
import orjson

from oracle_meili.config import FollowConfig, IndexConfig
from oracle_meili.defs.follow_reports import FollowReports, run_exclusion
from oracle_meili.defs.names import DEFAULT_NAMES, Names
from oracle_meili.defs.resources import bound_runner, meilisearch_of, resource_keys
from oracle_meili.defs.state import FollowRunState
from oracle_meili.defs.throttle import SourceSlots
from oracle_meili.engine.follow import Follower
from oracle_meili.errors import OracleMeiliError

# The settings a follow run follows, as a fingerprint on its run: the sensor replaces a run
# whose settings are not the code location's any more.
SETTINGS_TAG = "oracle_meili/follow_settings"
# Set by a follow run that is due to hand over: the sensor then requests its successor.
HANDOVER_TAG = "oracle_meili/handover"
# Events (materializations and observations) after which a follow run hands over, whatever
# its age: a few kilobytes each stay in the run worker's memory until its step ends.
HANDOVER_AFTER_EVENTS = 10_000
# A run of the follow job in one of these states is following, or about to.
IN_PROGRESS = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
    dg.DagsterRunStatus.CANCELING,
]


@dataclass(frozen=True)
class FollowGroup:
    """Indexes followed by one run: those whose ``follow:`` settings are the same."""

    job_name: str
    indexes: tuple[IndexConfig, ...]
    settings: FollowConfig

    @property
    def sensor_name(self) -> str:
        return f"keep_{self.job_name}_running"

    def fingerprint(self, source_slots: SourceSlots | None) -> str:
        """What the run follows and how: changes when the configuration does."""
        parts = [self.settings.model_dump_json(), repr(source_slots)]
        parts.extend(index.model_dump_json() for index in self.indexes)
        return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


def follow_groups(
    entries: Sequence[tuple[IndexConfig, FollowConfig | None]], names: Names = DEFAULT_NAMES
) -> list[FollowGroup]:
    """One group per distinct ``follow:`` setting (indexes without one are not followed)."""
    groups: dict[FollowConfig, list[IndexConfig]] = {}
    for index, settings in entries:
        if settings is not None:
            groups.setdefault(settings, []).append(index)
    ordered = sorted(groups.items(), key=lambda item: item[0].model_dump_json())
    if len(ordered) == 1:
        return [FollowGroup(names("follow_changes"), tuple(ordered[0][1]), ordered[0][0])]
    return [
        FollowGroup(names(f"follow_changes_{number}"), tuple(indexes), settings)
        for number, (settings, indexes) in enumerate(ordered, start=1)
    ]


def build_follow_job(
    group: FollowGroup, source_slots: SourceSlots | None, names: Names = DEFAULT_NAMES
) -> dg.JobDefinition:
    """The follow run's job: one op that follows the group's indexes until terminated."""
    followed = ", ".join(f"`{index.name}`" for index in group.indexes)
    interval = group.settings.interval_seconds

    @dg.op(
        name=f"{group.job_name}_op",
        out={},  # events only: a run that hands over ends with no output
        required_resource_keys=resource_keys(names),
        description=(
            f"Follows {followed}: every {interval:g} s, one probe of their highest cursors, and "
            "an incremental sync of each index that changed, reported as a materialization "
            "of its asset. Runs until terminated."
        ),
    )
    def _follow(
        context: dg.OpExecutionContext,
    ) -> Iterator[dg.AssetMaterialization | dg.AssetObservation | dg.AssetCheckEvaluation]:
        url = meilisearch_of(context, names).settings().url
        state = FollowRunState(context.instance, meilisearch_url=url, names=names)
        failures: list[tuple[IndexConfig, OracleMeiliError]] = []
        follower = Follower(
            bound_runner(context, names, state=state),
            group.indexes,
            max_concurrent_syncs=group.settings.max_concurrent_syncs,
            exclusive=run_exclusion(context, group.job_name, source_slots),
            on_failure=lambda index, error: failures.append((index, error)),
        )
        context.log.info(f"following {followed} every {interval:g} s")
        # The code server that started this run: if it dies (kill -9), this run stops too
        # rather than follow on unseen; the sensor starts another from the new server.
        parent = os.getppid()
        handover = Handover(context, group)
        reports = FollowReports(context, group.indexes, names, url=url, handover=handover)
        with follower:
            while not handover.done():
                if os.getppid() != parent:
                    raise dg.Failure("the code server that started this follow run is gone")
                follower.poll()
                yield from reports.syncs(state, follower.session)
                yield from reports.failures(failures)
                follower.wait(interval)
        context.log.info("handed over to the next follow run")

    @dg.job(
        name=group.job_name,
        executor_def=dg.in_process_executor,
        description=(
            f"The follow run of {followed}: a long-running run that syncs each change within "
            "about a second. The sensor "
            f"`{group.sensor_name}` keeps one going; terminate it here to stop following."
        ),
    )
    def _job() -> None:
        _follow()

    return _job


class Handover:
    """When a follow run hands over to its successor, and whether it has (see the module)."""

    def __init__(self, context: dg.OpExecutionContext, group: FollowGroup) -> None:
        self.context = context
        self.group = group
        self.events = 0
        self.due_at = time.monotonic() + group.settings.handover_after_minutes * 60
        self.asked = False
        self.checked_at = 0.0

    def done(self) -> bool:
        """Whether the run may end: it is due to hand over, and a successor has started.
        (Asked at every poll; the instance is read at most once a second.)"""
        if not self.asked:
            if time.monotonic() < self.due_at and self.events < HANDOVER_AFTER_EVENTS:
                return False
            self.context.instance.add_run_tags(self.context.run_id, {HANDOVER_TAG: "due"})
            self.context.log.info("handing over to a new follow run once it has started")
            self.asked = True
        if time.monotonic() - self.checked_at < 1:
            return False
        self.checked_at = time.monotonic()
        started = self.context.instance.get_run_records(
            filters=dg.RunsFilter(
                job_name=self.group.job_name, statuses=[dg.DagsterRunStatus.STARTED]
            )
        )
        return any(r.dagster_run.run_id != self.context.run_id for r in started)


def build_follow_sensor(
    group: FollowGroup, job: dg.JobDefinition, source_slots: SourceSlots | None
) -> dg.SensorDefinition:
    """Requests a follow run whenever none is in progress; stops one with older settings."""
    fingerprint = group.fingerprint(source_slots)

    @dg.sensor(
        name=group.sensor_name,
        job=job,
        minimum_interval_seconds=5,
        description=(
            f"Keeps a run of `{group.job_name}` going: requests one whenever none is in "
            "progress (a run that was killed is replaced at the next tick), and stops one "
            "that follows settings the code location no longer has."
        ),
        default_status=dg.DefaultSensorStatus.RUNNING
        if group.settings.running
        else dg.DefaultSensorStatus.STOPPED,
    )
    def _keeper(context: dg.SensorEvaluationContext) -> dg.SensorResult:
        instance = context.instance
        replaced = set(orjson.loads(context.cursor)) if context.cursor else set()
        runs = instance.get_run_records(
            filters=dg.RunsFilter(job_name=group.job_name, statuses=IN_PROGRESS)
        )
        older = [r.dagster_run for r in runs if r.dagster_run.tags.get(SETTINGS_TAG) != fingerprint]
        for run in older:
            if run.status != dg.DagsterRunStatus.CANCELING:
                context.log.info(f"stopping follow run {run.run_id}: it follows older settings")
                instance.run_coordinator.cancel_run(run.run_id)
                replaced.add(run.run_id)
        cursor = orjson.dumps(sorted(replaced)[-20:]).decode()
        staying = [r for r in runs if HANDOVER_TAG not in r.dagster_run.tags]
        if staying:
            following = staying[0].dagster_run.run_id
            return dg.SensorResult(skip_reason=f"run {following} is following", cursor=cursor)
        if runs:
            # Every run in progress is handing over: its successor (it follows on until then).
            return dg.SensorResult(
                run_requests=[dg.RunRequest(tags={SETTINGS_TAG: fingerprint})], cursor=cursor
            )
        last = instance.get_run_records(filters=dg.RunsFilter(job_name=group.job_name), limit=1)
        if (
            last
            and last[0].dagster_run.status == dg.DagsterRunStatus.CANCELED
            and last[0].dagster_run.run_id not in replaced
        ):
            # Terminated by someone: following stays stopped until a run of the job is
            # launched by hand (this sensor then keeps it going).
            return dg.SensorResult(
                skip_reason=(
                    f"the last follow run was terminated; launch `{group.job_name}` to follow again"
                ),
                cursor=cursor,
            )
        return dg.SensorResult(
            run_requests=[dg.RunRequest(tags={SETTINGS_TAG: fingerprint})], cursor=cursor
        )

    return _keeper
