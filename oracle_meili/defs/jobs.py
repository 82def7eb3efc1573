"""One job per index: what its schedules and sensor launch."""

from __future__ import annotations

import dagster as dg

# NOTE: dagster does not export the type define_asset_job returns; this is its home.
from dagster._core.definitions.unresolved_asset_job_definition import (
    UnresolvedAssetJobDefinition,
)

from oracle_meili.config import IndexConfig
from oracle_meili.defs.names import index_asset_key, job_name

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
    of latency per run.
    """
    return dg.define_asset_job(
        name=job_name(index),
        selection=dg.AssetSelection.assets(index_asset_key(index)),
        executor_def=dg.in_process_executor,
        op_retry_policy=SYNC_RETRY_POLICY,
        description=f"Sync the Meilisearch index `{index.name}`.",
    )
