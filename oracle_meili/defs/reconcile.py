"""Reconciliation (hard deletes) as a Dagster job per index, optionally scheduled.

No ``from __future__ import annotations``: Dagster reads the op function's annotations.
"""

import dagster as dg
from pydantic import Field

from oracle_meili.config import IndexConfig
from oracle_meili.defs.metadata_sets import ReconcileMetadata
from oracle_meili.defs.names import (
    index_asset_key,
    pool_name,
    reconcile_job_name,
    reconcile_op_name,
)
from oracle_meili.defs.resources import MeilisearchResource, SourceResource, runner
from oracle_meili.progress import ProgressReporter


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

    @dg.op(name=reconcile_op_name(index), pool=pool_name(index))
    def _reconcile(
        context: dg.OpExecutionContext,
        config: ReconcileConfig,
        source: SourceResource,
        meilisearch: MeilisearchResource,
    ) -> None:
        with runner(source, meilisearch).session() as session:
            result = session.reconcile(
                index,
                force=config.force,
                on_progress=ProgressReporter.per_side(index.name, context.log.info),
            )
        context.log.info(f"{index.name}: {result.orphans} orphans deleted")
        context.log_event(
            dg.AssetObservation(
                asset_key=key,
                metadata=dict(
                    ReconcileMetadata(
                        documents_checked=result.documents_checked,
                        orphans_deleted=result.orphans,
                        orphan_sample=dg.MetadataValue.json(list(result.orphan_sample)),
                    )
                ),
            )
        )

    @dg.job(
        name=reconcile_job_name(index),
        description=f"Delete documents of `{index.name}` whose source rows are gone.",
        executor_def=dg.in_process_executor,
    )
    def _job() -> None:
        _reconcile()

    return _job
