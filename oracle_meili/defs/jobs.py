"""The jobs: a fixed few, whatever the number of indexes.

A run picks its index by asset selection (and its partition), as the UI's Materialize button,
``dg launch --assets meilisearch/<index> --partition full`` and the schedules and sensors
do. Dagster resolves every asset job against the whole asset graph when it loads the code
location, so jobs per index would make loading grow with the square of the indexes.
"""

from __future__ import annotations

from collections.abc import Sequence

import dagster as dg

from oracle_meili.config import IndexConfig
from oracle_meili.defs.dagster_private import UnresolvedAssetJobDefinition
from oracle_meili.defs.names import (
    CHECKS_JOB,
    DEFAULT_NAMES,
    SLICED_SYNC_JOB,
    SYNC_JOB,
    Names,
    sync_job_name,
)

AssetJob = UnresolvedAssetJobDefinition
# The sync step tried again when what failed may pass later (Meilisearch or the database down
# longer than the engine's own retries); the asset marks final failures as not retryable.
# A full sync retried resumes from its checkpoint.
SYNC_RETRY_POLICY = dg.RetryPolicy(
    max_retries=2, delay=30, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS
)


def build_sync_jobs(
    indexes: Sequence[IndexConfig], names: Names = DEFAULT_NAMES
) -> dict[str, AssetJob]:
    """``sync_indexes``, and ``sync_sliced_indexes`` when an index has ``parallel`` above 1.

    ``sync_indexes`` runs in process: a sync is one step, and skipping the per-step
    subprocess saves seconds of latency per run. A sliced index has a step per key range:
    its job takes the code location's executor (multiprocess unless the deployment chooses
    another), so that the slices read at once. Neither carries the consistency checks: they
    read the whole index and table, so an incremental run would cost what the table costs.
    """
    jobs = {}
    for name, members in ((SYNC_JOB, False), (SLICED_SYNC_JOB, True)):
        chosen = [i for i in indexes if (i.parallel > 1) == members]
        if chosen:
            # The consistency checks stay out; each sync's own check is part of its step.
            selection = dg.AssetSelection.assets(*(names.index_key(i) for i in chosen))
            checks = [key for i in chosen for key in names.sync_checks(i)]
            jobs[name] = dg.define_asset_job(
                name=names(name),
                selection=selection.without_checks() | dg.AssetSelection.checks(*checks),
                executor_def=None if members else dg.in_process_executor,
                description=(
                    "Sync Meilisearch indexes: select the index (its asset) and the "
                    "partition, `full` or `incremental`."
                ),
            )
    return jobs


def sync_job_of(index: IndexConfig, jobs: dict[str, AssetJob]) -> AssetJob:
    """The sync job that holds ``index``."""
    return jobs[sync_job_name(index)]


def build_checks_job(indexes: Sequence[IndexConfig], names: Names = DEFAULT_NAMES) -> AssetJob:
    """``check_indexes``: the consistency checks and the search checks, on demand or on
    ``schedule.checks``.

    They stream the whole index and the whole live table once (about what a full sync reads),
    in bounded memory; the checks run in the index's pool, so never beside one of its syncs.
    """
    return dg.define_asset_job(
        name=names(CHECKS_JOB),
        selection=dg.AssetSelection.checks(
            *(key for i in indexes for key in names.index_checks(i))
        ),
        executor_def=dg.in_process_executor,
        description="Compare Meilisearch indexes with their sources, and run their search "
        "checks: select the checks of one.",
    )
