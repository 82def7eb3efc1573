"""Schedules from each index's ``schedule:`` block: each requests a run of one of the
shared jobs, for the index's asset (and partition), its checks, its table, or (reconcile)
with the index in the run's configuration.

No ``from __future__ import annotations``: Dagster reads the schedule function's annotations.
"""

from typing import Literal

import dagster as dg

from oracle_meili.config import IndexConfig, ScheduleConfig, SyncMode
from oracle_meili.defs.jobs import AssetJob
from oracle_meili.defs.names import (
    DEFAULT_NAMES,
    Names,
    checks_schedule_name,
    index_tag,
    observe_schedule_name,
    reconcile_schedule_name,
    sync_schedule_name,
)
from oracle_meili.defs.reconcile import reconcile_run_config
from oracle_meili.errors import ConfigError


def build_schedules(
    index: IndexConfig, schedule: ScheduleConfig, job: AssetJob, names: Names = DEFAULT_NAMES
) -> list[dg.ScheduleDefinition]:
    """A schedule per configured cron expression, each requesting one partition.

    Raises:
        ConfigError: naming the index and the expression, for a bad cron or time zone.
    """
    schedules: list[dg.ScheduleDefinition] = []
    modes: tuple[SyncMode, ...] = ("incremental", "full")
    for mode in modes:
        cron = getattr(schedule, mode)
        if cron is None:
            continue
        try:
            schedules.append(_schedule(index, schedule, job, mode, cron, names))
        except dg.DagsterInvalidDefinitionError as e:
            raise ConfigError(
                f"index {index.name!r}: schedule.{mode} {cron!r}"
                f"{f' (timezone {schedule.timezone!r})' if schedule.timezone else ''}"
                f" is not valid: {e}"
            ) from None
    return schedules


def _schedule(
    index: IndexConfig,
    schedule: ScheduleConfig,
    job: AssetJob,
    mode: SyncMode,
    cron: str,
    names: Names,
) -> dg.ScheduleDefinition:
    @dg.schedule(
        name=names(sync_schedule_name(index, mode)),
        cron_schedule=cron,
        job=job,
        execution_timezone=schedule.timezone,
        description=f"{mode.capitalize()} sync of `{index.name}` ({cron}).",
        default_status=dg.DefaultScheduleStatus.RUNNING
        if schedule.running
        else dg.DefaultScheduleStatus.STOPPED,
    )
    def _sync_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
        return dg.RunRequest(
            partition_key=mode,
            asset_selection=[names.index_key(index)],
            # Its own check, not the consistency checks (Dagster would add every check).
            asset_check_keys=names.sync_checks(index),
            tags=index_tag(index),
        )

    return _sync_schedule


def build_job_schedule(
    index: IndexConfig,
    schedule: ScheduleConfig,
    job: AssetJob | dg.JobDefinition,
    *,
    what: Literal["reconcile", "checks", "observe"],
    names: Names = DEFAULT_NAMES,
) -> dg.ScheduleDefinition | None:
    """The schedule of the index's reconcile, checks or observe run (``schedule.reconcile``,
    ``schedule.checks``, ``schedule.observe``), if one is configured.

    Raises:
        ConfigError: naming the index and the expression, for a bad cron or time zone.
    """
    cron = getattr(schedule, what)
    if cron is None:
        return None
    name = {
        "reconcile": reconcile_schedule_name,
        "checks": checks_schedule_name,
        "observe": observe_schedule_name,
    }[what](index)
    if what == "reconcile":
        request = dg.RunRequest(run_config=reconcile_run_config(index, names=names))
    elif what == "checks":
        request = dg.RunRequest(asset_selection=[], asset_check_keys=names.index_checks(index))
    else:
        assert index.table is not None, "a query's index has no table to observe"
        request = dg.RunRequest(asset_selection=[names.table_key(index.table)])
    try:

        @dg.schedule(
            name=names(name),
            cron_schedule=cron,
            job=job,
            execution_timezone=schedule.timezone,
            description=f"{what.capitalize()} `{index.name}` ({cron}).",
            default_status=dg.DefaultScheduleStatus.RUNNING
            if schedule.running
            else dg.DefaultScheduleStatus.STOPPED,
        )
        def _job_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
            return request

    except dg.DagsterInvalidDefinitionError as e:
        raise ConfigError(
            f"index {index.name!r}: schedule.{what} {cron!r} is not valid: {e}"
        ) from None
    return _job_schedule
