"""One job per index: what its schedules and sensor launch."""

from __future__ import annotations

import dagster as dg

# NOTE: dagster does not export the type define_asset_job returns; this is its home.
from dagster._core.definitions.unresolved_asset_job_definition import (
    UnresolvedAssetJobDefinition,
)

from oracle_meili.config import IndexConfig
from oracle_meili.defs.names import checks_job_name, index_asset_key, job_name

SyncJob = UnresolvedAssetJobDefinition
# A whole run tried again when what failed may pass later (Meilisearch or the database down
# longer than the engine's own retries); the asset marks final failures as not retryable.
# A full sync retried resumes from its checkpoint.
SYNC_RETRY_POLICY = dg.RetryPolicy(
    max_retries=2, delay=30, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS
)


def build_sync_job(index: IndexConfig) -> SyncJob:
    """Materializes the index asset; the partition (full or incremental) comes per run.

    Runs in process: a sync is one step, and skipping the per-step subprocess saves seconds
    of latency per run. An index with ``parallel`` above 1 has a step per key range: its job
    takes the code location's executor (multiprocess unless the deployment chooses another).
    """
    return dg.define_asset_job(
        name=job_name(index),
        # NOTE: without the checks: they read the whole index and table, so an incremental
        # run would cost what the table costs. They have their own job (below).
        selection=dg.AssetSelection.assets(index_asset_key(index)).without_checks(),
        executor_def=dg.in_process_executor if index.parallel == 1 else None,
        description=f"Sync the Meilisearch index `{index.name}`.",
    )


def build_checks_job(index: IndexConfig) -> SyncJob:
    """``check_<index>``: the consistency checks alone, on demand or on ``schedule.checks``.

    They stream the whole index and the whole live table once (about what a full sync reads),
    in bounded memory; the checks run in the index's pool, so never beside one of its syncs.
    """
    return dg.define_asset_job(
        name=checks_job_name(index),
        selection=dg.AssetSelection.checks_for_assets(index_asset_key(index)),
        executor_def=dg.in_process_executor,
        description=f"Compare the Meilisearch index `{index.name}` with its source.",
    )


def build_changes_job(name: str, indexes: list[IndexConfig]) -> SyncJob:
    """One job over several indexes, for a change sensor that sees several of them move in
    one tick: it asks for one run holding just those indexes' incremental syncs, so that
    many indexes changing at once cost one run's start-up, not one each."""
    return dg.define_asset_job(
        name=name,
        selection=dg.AssetSelection.assets(*(index_asset_key(i) for i in indexes)).without_checks(),
        executor_def=dg.in_process_executor,
        description="Incremental syncs of the indexes a change sensor saw move at once: "
        + ", ".join(f"`{i.name}`" for i in indexes)
        + ".",
    )
