"""The configuration, built into Dagster definitions: one function per index, one for the
whole.

:func:`index_definitions` turns one index's settings into its asset, checks and schedules;
:func:`build_definitions` adds the shared jobs, the sensors, the source tables and the
resources. How each asset appears (key, group, tags, ...) is the translator's
(:class:`~oracle_meili.defs.translator.OracleMeiliTranslator`).
"""

from __future__ import annotations

import functools
import inspect
import os
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import dagster as dg

from oracle_meili.config import AppConfig, IndexConfig, Orchestration
from oracle_meili.defs.apply_settings import build_apply_settings_job
from oracle_meili.defs.assets import build_index_asset
from oracle_meili.defs.checks import build_consistency_checks
from oracle_meili.defs.follow import build_follow_job, build_follow_sensor, follow_groups
from oracle_meili.defs.jobs import AssetJob, build_checks_job, build_sync_jobs, sync_job_of
from oracle_meili.defs.live_checks import build_search_checks, build_settings_checks
from oracle_meili.defs.names import Names, source_kind
from oracle_meili.defs.reconcile import build_reconcile_job
from oracle_meili.defs.reshard import build_reshard_job
from oracle_meili.defs.resources import build_resources
from oracle_meili.defs.schedules import build_job_schedule, build_schedules
from oracle_meili.defs.sensors import build_change_sensors
from oracle_meili.defs.sliced import build_sliced_index_asset
from oracle_meili.defs.sources import build_observe_job, build_source_assets
from oracle_meili.defs.throttle import SourceSlots
from oracle_meili.defs.translator import OracleMeiliTranslator, Translated, translate


@dataclass(frozen=True)
class SharedJobs:
    """The jobs of a code location: a fixed few, whatever the number of indexes."""

    sync: dict[str, AssetJob]
    checks: AssetJob
    observe: AssetJob | None
    reconcile: dg.JobDefinition
    apply_settings: dg.JobDefinition
    reshard: dg.JobDefinition | None

    @classmethod
    def of(
        cls, indexes: Sequence[IndexConfig], translated: Translated, *, sharded: bool
    ) -> SharedJobs:
        names = translated.names
        return cls(
            sync=build_sync_jobs(indexes, names),
            checks=build_checks_job(indexes, names),
            observe=build_observe_job(translated),
            reconcile=build_reconcile_job(indexes, names),
            apply_settings=build_apply_settings_job(indexes, names),
            reshard=build_reshard_job(indexes, names) if sharded else None,
        )

    def all(self) -> list[AssetJob | dg.JobDefinition]:
        jobs = [
            *self.sync.values(),
            self.checks,
            self.observe,
            self.reconcile,
            self.apply_settings,
            self.reshard,
        ]
        return [job for job in jobs if job is not None]


@dataclass(frozen=True)
class IndexDefinitions:
    """What Dagster holds for one index."""

    asset: dg.AssetsDefinition
    sync: AssetJob
    schedules: tuple[dg.ScheduleDefinition, ...]


def index_definitions(
    index: IndexConfig,
    spec: dg.AssetSpec,
    orchestration: Orchestration,
    jobs: SharedJobs,
    source_slots: SourceSlots | None,
    names: Names,
) -> IndexDefinitions:
    """The index's asset, and the schedules its ``schedule:`` asks for (each a run of a
    shared job for this index). Its checks are the one check definition of every index, and
    the change sensors watch several indexes at once: :func:`build_definitions` makes them.

    Raises:
        ConfigError: a schedule's cron expression or time zone is invalid.
    """
    schedule = orchestration.schedule
    sync = sync_job_of(index, jobs.sync)
    maintenance = (
        build_job_schedule(index, schedule, jobs.reconcile, what="reconcile", names=names),
        build_job_schedule(index, schedule, jobs.checks, what="checks", names=names),
        build_job_schedule(index, schedule, jobs.observe, what="observe", names=names)
        if jobs.observe is not None and index.table is not None
        else None,
    )
    build = build_sliced_index_asset if index.parallel > 1 else build_index_asset
    spec = spec.merge_attributes(metadata=code_reference(build))
    return IndexDefinitions(
        asset=build(index, orchestration, source_slots, spec=spec, names=names),
        sync=sync,
        schedules=(
            *build_schedules(index, schedule, sync, names),
            *(s for s in maintenance if s is not None),
        ),
    )


def build_definitions(
    config: AppConfig,
    environ: Mapping[str, str] | None = None,
    *,
    executor: dg.ExecutorDefinition | None = None,
    translator: OracleMeiliTranslator | None = None,
    scope: str = "",
) -> dg.Definitions:
    """Definitions for a loaded configuration (tests build their own with this).

    ``executor`` runs the sliced indexes' steps (and the UI's Materialize button): the
    multiprocess executor by default, the k8s or celery one to spread slices over machines.
    ``translator`` says how each index and table appears (its asset's key, group, tags,
    ...). ``scope`` prefixes the names of jobs, schedules, sensors and resources with
    ``<scope>__``, so that several configurations fit in one code location. ``environ`` is
    not read (``config`` was filled in when loaded; secrets are ``EnvVar``s).

    Raises:
        ConfigError: a schedule's cron expression or time zone is invalid, two assets got
            the same key, or ``scope`` is not a valid name.
    """
    slots = SourceSlots.of(config.source)
    translated = translate(
        config,
        translator or OracleMeiliTranslator(),
        source_kind=source_kind(config.source.url),
        scope=scope,
    )
    names = translated.names
    jobs = SharedJobs.of(config.indexes, translated, sharded=bool(config.meilisearch.shards))
    per_index = [
        index_definitions(
            i, translated.indexes[i.name], config.orchestration_of(i), jobs, slots, names
        )
        for i in config.indexes
    ]
    assets = [*build_source_assets(translated, names), *(d.asset for d in per_index)]
    groups = follow_groups([(i, config.orchestration_of(i).follow) for i in config.indexes], names)
    follow_jobs = [build_follow_job(group, slots, names) for group in groups]
    return dg.Definitions(
        assets=assets,
        asset_checks=asset_checks(config.indexes, names),
        jobs=[*jobs.all(), *follow_jobs],
        schedules=[schedule for d in per_index for schedule in d.schedules],
        sensors=[
            *build_change_sensors(
                [
                    (index, config.orchestration_of(index).change_sensor, d.sync)
                    for index, d in zip(config.indexes, per_index, strict=True)
                ],
                names=names,
            ),
            *(
                build_follow_sensor(group, job, slots)
                for group, job in zip(groups, follow_jobs, strict=True)
            ),
        ],
        resources=build_resources(config, names),
        executor=executor if executor is not None else default_executor(config),
    )


def asset_checks(indexes: Sequence[IndexConfig], names: Names) -> list[dg.AssetChecksDefinition]:
    """The checks of every index: consistency, settings, and searches where configured."""
    checks = [build_consistency_checks(indexes, names), build_settings_checks(indexes, names)]
    searches = build_search_checks(indexes, names)
    return checks + ([searches] if searches is not None else [])


def default_executor(config: AppConfig) -> dg.ExecutorDefinition:
    """The executor of the UI's Materialize button and of the sliced indexes' sync jobs.

    In process when every sync is one step, like the named sync jobs: a subprocess per
    step costs seconds. With an index of ``parallel`` above 1, a process per step, so that
    its slices read at once."""
    if any(index.parallel > 1 for index in config.indexes):
        return dg.multiprocess_executor
    return dg.in_process_executor


@functools.cache
def code_reference(factory: Callable[..., object]) -> dict[str, dg.CodeReferencesMetadataValue]:
    """The UI's link from an asset to the factory that built it. Read once per factory:
    Dagster's ``with_source_code_references`` reads the source file again for every asset
    (1.7 s of a code location's load at 1,000 indexes)."""
    path = inspect.getsourcefile(factory)
    assert path is not None, f"{factory.__qualname__} has no source file"
    with warnings.catch_warnings():
        # Code references are beta in Dagster 1.13; used knowingly (pinned below 1.14), so
        # the demo and the code server stay quiet.
        warnings.simplefilter("ignore", dg.BetaWarning)
        reference = dg.LocalFileCodeReference(
            file_path=os.path.abspath(path), line_number=inspect.getsourcelines(factory)[1]
        )
        value = dg.CodeReferencesMetadataValue(code_references=[reference])
    return {"dagster/code_references": value}
