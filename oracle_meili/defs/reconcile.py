"""Reconciliation (hard deletes): the job ``reconcile_index``, optionally scheduled."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import dagster as dg
from pydantic import Field

from oracle_meili.config import IndexConfig
from oracle_meili.defs.index_jobs import IndexRunConfig, build_index_job, index_run_config
from oracle_meili.defs.metadata_sets import ReconcileMetadata
from oracle_meili.defs.names import DEFAULT_NAMES, RECONCILE_JOB, Names
from oracle_meili.engine.session import Session
from oracle_meili.progress import ProgressReporter


class ReconcileConfig(IndexRunConfig):
    """Run configuration of ``reconcile_index``."""

    force: bool = Field(
        default=False,
        description="Delete even more than the index's max_delete_share of its documents.",
    )


def reconcile_run_config(
    index: IndexConfig, *, force: bool = False, names: Names = DEFAULT_NAMES
) -> dict[str, object]:
    """The run configuration that reconciles ``index``."""
    return index_run_config(RECONCILE_JOB, index, names, force=force)


def build_reconcile_job(
    indexes: Sequence[IndexConfig], names: Names = DEFAULT_NAMES
) -> dg.JobDefinition:
    """``reconcile_index``: delete the documents of one index whose rows are gone."""
    return build_index_job(
        indexes,
        names,
        job=RECONCILE_JOB,
        description="Delete the documents of an index whose source rows are gone (run "
        "configuration: the index's name).",
        config_type=ReconcileConfig,
        work=reconciled,
    )


def reconciled(
    context: dg.OpExecutionContext, session: Session, index: IndexConfig, config: ReconcileConfig
) -> Mapping[str, Any]:
    result = session.reconcile(
        index,
        force=config.force,
        on_progress=ProgressReporter.per_side(index.name, context.log.info),
    )
    context.log.info(f"{index.name}: {result.orphans} orphans deleted")
    return dict(
        ReconcileMetadata(
            documents_checked=result.documents_checked,
            orphans_deleted=result.orphans,
            orphan_sample=dg.MetadataValue.json(list(result.orphan_sample)),
        )
    )
