"""Reconciliation (hard deletes): one Dagster job for every index, optionally scheduled.

The run's configuration names the index; the op holds that index's pool while it works, so
it never runs beside a sync of the same index.

No ``from __future__ import annotations``: Dagster reads the op function's annotations.
"""

from collections.abc import Sequence

import dagster as dg
from pydantic import Field

from oracle_meili.config import IndexConfig
from oracle_meili.defs.metadata_sets import ReconcileMetadata
from oracle_meili.defs.names import DEFAULT_NAMES, RECONCILE_JOB, Names, pool_name
from oracle_meili.defs.resources import bound_runner, resource_keys
from oracle_meili.defs.throttle import pool_slot
from oracle_meili.progress import ProgressReporter

RECONCILE_OP = f"{RECONCILE_JOB}_op"


class ReconcileConfig(dg.Config):
    """Run configuration of ``reconcile_index``."""

    index: str = Field(description="The index to reconcile (its name).")
    force: bool = Field(
        default=False,
        description="Delete even more than the index's max_delete_share of its documents.",
    )


def reconcile_run_config(
    index: IndexConfig, *, force: bool = False, names: Names = DEFAULT_NAMES
) -> dict[str, object]:
    """The run configuration that reconciles ``index``."""
    return {"ops": {names(RECONCILE_OP): {"config": {"index": index.name, "force": force}}}}


def index_named(indexes: Sequence[IndexConfig], name: str) -> IndexConfig:
    """The configured index ``name``; a run for another fails, naming the ones there are."""
    for index in indexes:
        if index.name == name:
            return index
    known = ", ".join(index.name for index in indexes)
    raise dg.Failure(f"no index {name!r} in this code location (indexes: {known})")


def build_reconcile_job(
    indexes: Sequence[IndexConfig], names: Names = DEFAULT_NAMES
) -> dg.JobDefinition:
    """``reconcile_index``: delete the documents of one index whose rows are gone."""

    @dg.op(name=names(RECONCILE_OP), required_resource_keys=resource_keys(names))
    def _reconcile(context: dg.OpExecutionContext, config: ReconcileConfig) -> None:
        index = index_named(indexes, config.index)
        why = "a sync or check of the index holds it"
        with (
            pool_slot(context, pool_name(index), holder=RECONCILE_OP, why=why),
            bound_runner(context, names).session() as session,
        ):
            result = session.reconcile(
                index,
                force=config.force,
                on_progress=ProgressReporter.per_side(index.name, context.log.info),
            )
        context.log.info(f"{index.name}: {result.orphans} orphans deleted")
        context.log_event(
            dg.AssetObservation(
                asset_key=names.index_key(index),
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
        name=names(RECONCILE_JOB),
        description="Delete the documents of an index whose source rows are gone (run "
        "configuration: the index's name).",
        executor_def=dg.in_process_executor,
    )
    def _job() -> None:
        _reconcile()

    return _job
