"""Schedules from each index's ``schedule:`` block.

No ``from __future__ import annotations``: Dagster reads the schedule function's annotations.
"""

from typing import Literal

import dagster as dg

from oracle_meili.config import IndexConfig, ScheduleConfig, SyncMode
from oracle_meili.defs.jobs import SyncJob
from oracle_meili.defs.names import (
    checks_schedule_name,
    observe_schedule_name,
    reconcile_schedule_name,
    sync_schedule_name,
)
from oracle_meili.errors import ConfigError


def build_schedules(
    index: IndexConfig, schedule: ScheduleConfig, job: SyncJob
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
            schedules.append(_schedule(index, schedule, job, mode, cron))
        except dg.DagsterInvalidDefinitionError as e:
            raise ConfigError(
                f"index {index.name!r}: schedule.{mode} {cron!r}"
                f"{f' (timezone {schedule.timezone!r})' if schedule.timezone else ''}"
                f" is not valid: {e}"
            ) from None
    return schedules


def _schedule(
    index: IndexConfig, schedule: ScheduleConfig, job: SyncJob, mode: SyncMode, cron: str
) -> dg.ScheduleDefinition:
    @dg.schedule(
        name=sync_schedule_name(index, mode),
        cron_schedule=cron,
        job=job,
        execution_timezone=schedule.timezone,
        description=f"{mode.capitalize()} sync of `{index.name}` ({cron}).",
        default_status=dg.DefaultScheduleStatus.RUNNING
        if schedule.running
        else dg.DefaultScheduleStatus.STOPPED,
    )
    def _sync_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
        return dg.RunRequest(partition_key=mode)

    return _sync_schedule


def build_job_schedule(
    index: IndexConfig,
    schedule: ScheduleConfig,
    job: SyncJob | dg.JobDefinition,
    *,
    what: Literal["reconcile", "checks", "observe"],
) -> dg.ScheduleDefinition | None:
    """The schedule of the index's reconcile, checks or observe job (``schedule.reconcile``,
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
    try:
        return dg.ScheduleDefinition(
            name=name,
            cron_schedule=cron,
            job=job,
            execution_timezone=schedule.timezone,
            default_status=dg.DefaultScheduleStatus.RUNNING
            if schedule.running
            else dg.DefaultScheduleStatus.STOPPED,
        )
    except dg.DagsterInvalidDefinitionError as e:
        raise ConfigError(
            f"index {index.name!r}: schedule.{what} {cron!r} is not valid: {e}"
        ) from None
