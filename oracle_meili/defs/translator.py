"""The configuration, translated into Dagster: one function per index, one for the whole.

:func:`index_definitions` turns one index's settings into its asset, checks and schedules;
:func:`build_definitions` adds the shared jobs, the sensors, the source tables and the
resources.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import dagster as dg
import sqlalchemy as sa

from oracle_meili.config import AppConfig, IndexConfig, Orchestration
from oracle_meili.defs.assets import build_index_asset
from oracle_meili.defs.checks import build_consistency_checks
from oracle_meili.defs.follow import build_follow_job, build_follow_sensor, follow_groups
from oracle_meili.defs.jobs import SyncJob, build_checks_job, build_sync_jobs, sync_job_of
from oracle_meili.defs.reconcile import build_reconcile_job
from oracle_meili.defs.reshard import build_reshard_job
from oracle_meili.defs.resources import build_resources
from oracle_meili.defs.schedules import build_job_schedule, build_schedules
from oracle_meili.defs.sensors import build_change_sensors
from oracle_meili.defs.sliced import build_sliced_index_asset
from oracle_meili.defs.sources import build_observe_job, build_source_assets
from oracle_meili.defs.throttle import SourceSlots


@dataclass(frozen=True)
class SharedJobs:
    """The jobs of a code location: a fixed few, whatever the number of indexes."""

    sync: dict[str, SyncJob]
    checks: SyncJob
    observe: SyncJob | None
    reconcile: dg.JobDefinition
    reshard: dg.JobDefinition | None

    @classmethod
    def of(cls, indexes: Sequence[IndexConfig], *, sharded: bool) -> SharedJobs:
        return cls(
            sync=build_sync_jobs(indexes),
            checks=build_checks_job(indexes),
            observe=build_observe_job(indexes),
            reconcile=build_reconcile_job(indexes),
            reshard=build_reshard_job(indexes) if sharded else None,
        )

    def all(self) -> list[SyncJob | dg.JobDefinition]:
        jobs = [*self.sync.values(), self.checks, self.observe, self.reconcile, self.reshard]
        return [job for job in jobs if job is not None]


@dataclass(frozen=True)
class IndexDefinitions:
    """What Dagster holds for one index."""

    asset: dg.AssetsDefinition
    checks: dg.AssetChecksDefinition
    sync: SyncJob
    schedules: tuple[dg.ScheduleDefinition, ...]


def index_definitions(
    index: IndexConfig,
    orchestration: Orchestration,
    jobs: SharedJobs,
    source_slots: SourceSlots | None = None,
) -> IndexDefinitions:
    """The index's asset and checks, and the schedules its ``schedule:`` asks for (each a
    run of a shared job for this index). (Change sensors watch several indexes at once:
    :func:`build_definitions` makes them.)

    Raises:
        ConfigError: a schedule's cron expression or time zone is invalid.
    """
    schedule = orchestration.schedule
    sync = sync_job_of(index, jobs.sync)
    maintenance = (
        build_job_schedule(index, schedule, jobs.reconcile, what="reconcile"),
        build_job_schedule(index, schedule, jobs.checks, what="checks"),
        build_job_schedule(index, schedule, jobs.observe, what="observe")
        if jobs.observe is not None and index.table is not None
        else None,
    )
    return IndexDefinitions(
        asset=(
            build_sliced_index_asset(index, orchestration, source_slots)
            if index.parallel > 1
            else build_index_asset(index, orchestration, source_slots)
        ),
        checks=build_consistency_checks(index),
        sync=sync,
        schedules=(
            *build_schedules(index, schedule, sync),
            *(s for s in maintenance if s is not None),
        ),
    )


def build_definitions(
    config: AppConfig,
    environ: Mapping[str, str],
    *,
    executor: dg.ExecutorDefinition | None = None,
) -> dg.Definitions:
    """Definitions for a loaded configuration (tests build their own with this).

    ``executor`` runs the sliced indexes' steps (and the UI's Materialize button): the
    multiprocess executor by default, the k8s or celery one to spread slices over machines.

    Raises:
        ConfigError: a schedule's cron expression or time zone is invalid.
    """
    slots = SourceSlots.of(config.source)
    jobs = SharedJobs.of(config.indexes, sharded=bool(config.meilisearch.shards))
    per_index = [
        index_definitions(i, config.orchestration_of(i), jobs, slots) for i in config.indexes
    ]
    with warnings.catch_warnings():
        # Code references are beta in Dagster 1.13; used knowingly (pinned below 1.14), so
        # the demo and the code server stay quiet.
        warnings.simplefilter("ignore", dg.BetaWarning)
        # With code references: the UI links each asset to the factory that built it.
        assets = dg.with_source_code_references(
            [
                *build_source_assets(
                    config.indexes,
                    kind=source_kind(config),
                    groups={i.name: config.orchestration_of(i).group for i in config.indexes},
                ),
                *(d.asset for d in per_index),
            ]
        )
    groups = follow_groups([(i, config.orchestration_of(i).follow) for i in config.indexes])
    follow_jobs = [build_follow_job(group, slots) for group in groups]
    return dg.Definitions(
        assets=assets,
        asset_checks=[d.checks for d in per_index],
        jobs=[*jobs.all(), *follow_jobs],
        schedules=[schedule for d in per_index for schedule in d.schedules],
        sensors=[
            *build_change_sensors(
                [
                    (index, config.orchestration_of(index).change_sensor, d.sync)
                    for index, d in zip(config.indexes, per_index, strict=True)
                ]
            ),
            *(
                build_follow_sensor(group, job, slots)
                for group, job in zip(groups, follow_jobs, strict=True)
            ),
        ],
        resources=build_resources(config, environ),
        executor=executor if executor is not None else default_executor(config),
    )


def default_executor(config: AppConfig) -> dg.ExecutorDefinition:
    """The executor of the UI's Materialize button and of the sliced indexes' sync jobs.

    In process when every sync is one step, like the named sync jobs: a subprocess per
    step costs seconds. With an index of ``parallel`` above 1, a process per step, so that
    its slices read at once."""
    if any(index.parallel > 1 for index in config.indexes):
        return dg.multiprocess_executor
    return dg.in_process_executor


def source_kind(config: AppConfig) -> str:
    """The source database's kind for the UI: ``oracle``, or the URL's backend."""
    if config.source.url is None:
        return "oracle"
    return sa.make_url(config.source.url).get_backend_name()
