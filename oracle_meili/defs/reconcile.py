"""Reconciliation (hard deletes) as a Dagster job per index, optionally scheduled.

No ``from __future__ import annotations``: Dagster reads the op function's annotations.
"""

import dagster as dg
from pydantic import Field

from oracle_meili.config import IndexConfig
from oracle_meili.defs.assets import index_asset_key, pool_name
from oracle_meili.defs.jobs import job_name
from oracle_meili.defs.resources import MeilisearchResource, SourceResource
from oracle_meili.errors import ConfigError
from oracle_meili.reconcile import reconcile
from oracle_meili.source import TableSource


class ReconcileConfig(dg.Config):
    """Run configuration of ``reconcile_<index>``."""

    force: bool = Field(
        default=False,
        description="Delete even more than the index's max_delete_share of its documents.",
    )


def build_reconcile_job(index: IndexConfig) -> dg.JobDefinition:
    """``reconcile_<index>``: delete documents whose rows are gone; in the index's pool, so it
    never runs beside a sync of the same index."""
    key = index_asset_key(index)

    @dg.op(name=f"{job_name(index).replace('sync_', 'reconcile_', 1)}_op", pool=pool_name(index))
    def _reconcile(
        context: dg.OpExecutionContext,
        config: ReconcileConfig,
        source: SourceResource,
        meilisearch: MeilisearchResource,
    ) -> None:
        with source.engine() as engine, meilisearch.client() as client:
            result = reconcile(
                index,
                source=TableSource(engine, index),
                client=client,
                meili=meilisearch.settings(),
                force=config.force,
            )
        context.log.info(f"{index.name}: {result.orphans} orphans deleted")
        context.log_event(
            dg.AssetObservation(
                asset_key=key,
                metadata={
                    "oracle_meili/documents_checked": result.documents_checked,
                    "oracle_meili/orphans_deleted": result.orphans,
                    "oracle_meili/orphan_sample": dg.MetadataValue.json(list(result.orphan_sample)),
                },
            )
        )

    @dg.job(
        name=job_name(index).replace("sync_", "reconcile_", 1),
        description=f"Delete documents of `{index.name}` whose source rows are gone.",
        executor_def=dg.in_process_executor,
    )
    def _job() -> None:
        _reconcile()

    return _job


def build_reconcile_schedule(
    index: IndexConfig, job: dg.JobDefinition
) -> dg.ScheduleDefinition | None:
    """The reconcile schedule from ``schedule.reconcile``, if any."""
    cron = index.schedule.reconcile
    if cron is None:
        return None
    try:
        return dg.ScheduleDefinition(
            name=f"{job.name}_schedule",
            cron_schedule=cron,
            job=job,
            execution_timezone=index.schedule.timezone,
            default_status=dg.DefaultScheduleStatus.RUNNING
            if index.schedule.running
            else dg.DefaultScheduleStatus.STOPPED,
        )
    except dg.DagsterInvalidDefinitionError as e:
        raise ConfigError(
            f"index {index.name!r}: schedule.reconcile {cron!r} is not valid: {e}"
        ) from None
