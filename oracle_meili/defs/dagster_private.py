"""Every Dagster API oracle-meili uses that Dagster does not export, in one place.

Dagster 1.13 has no public home for these; each is used where no public API does the job.
``oracle_meili_tests/defs/test_dagster_private.py`` fails when one moves or changes shape,
so an upgrade of Dagster shows at once what to adapt (docs/development.md).

- The type ``define_asset_job`` returns, for annotations.
- The metadata sets (Dagster's own integration libraries import them from here too).
- The pools' slots, claimed inside a step: an op has one pool, and a sync must also hold its
  source's pool (``source.max_concurrent_syncs``), or claim its index's pool when the index
  is chosen by the run's configuration (reconcile, reshard), or per sync (the follow run).
  The instance's concurrency storage, which Dagster's own steps use, is the only way.
- The Components' translation resolver, as dagster-dlt and dagster-sling use it.
- Reading the data versions of an asset's inputs again within its step: Dagster reads them
  when the step starts (``fetch_external_input_asset_version_info``,
  ``dagster/_core/execution/plan/execute_step.py`` line 460), before a sync has observed
  the table it read; its materialization would record an older version, and show stale.
- The tag that carries an observation's data version: ``ObserveResult(data_version=...)``
  sets it, but an ``AssetObservation`` logged by a sync or a sensor has no such argument.
"""

from __future__ import annotations

import dagster as dg
from dagster._core.definitions.data_version import DATA_VERSION_TAG
from dagster._core.definitions.metadata.metadata_set import (
    NamespacedMetadataSet,
    TableMetadataSet,
    UriMetadataSet,
)
from dagster._core.definitions.unresolved_asset_job_definition import (
    UnresolvedAssetJobDefinition,
)
from dagster.components.utils.translation import TranslationFn, TranslationFnResolver

__all__ = [
    "DATA_VERSION_TAG",
    "NamespacedMetadataSet",
    "TableMetadataSet",
    "TranslationFn",
    "TranslationFnResolver",
    "UnresolvedAssetJobDefinition",
    "UriMetadataSet",
    "claim_slot",
    "free_run_slots",
    "free_slot",
    "pool_is_limited",
    "pool_limit",
    "pool_run_ids",
    "reread_input_versions",
    "set_pool_limit",
]


def claim_slot(instance: dg.DagsterInstance, pool: str, run_id: str, holder: str) -> float | None:
    """Claim a slot of ``pool`` for ``holder`` of ``run_id``: None once claimed, otherwise
    how long to wait before asking again (the claim stays queued until freed)."""
    claim = instance.event_log_storage.claim_concurrency_slot(pool, run_id, holder)
    if claim.is_claimed:
        return None
    return claim.sleep_interval or 1.0


def free_slot(instance: dg.DagsterInstance, run_id: str, holder: str) -> None:
    """Free ``holder``'s slot, or take its claim off the queue."""
    instance.event_log_storage.free_concurrency_slot_for_step(run_id, holder)


def free_run_slots(instance: dg.DagsterInstance, run_id: str) -> None:
    """Free every slot ``run_id`` holds."""
    instance.event_log_storage.free_concurrency_slots_for_run(run_id)


def pool_run_ids(instance: dg.DagsterInstance) -> set[str]:
    """The runs (or holders named as runs) that hold or wait for a slot."""
    return set(instance.event_log_storage.get_concurrency_run_ids())


def pool_limit(instance: dg.DagsterInstance, pool: str) -> int | None:
    """The pool's limit, if it has one."""
    return instance.event_log_storage.get_concurrency_info(pool).slot_count


def set_pool_limit(instance: dg.DagsterInstance, pool: str, limit: int) -> None:
    instance.event_log_storage.set_concurrency_slots(pool, limit)


def pool_is_limited(instance: dg.DagsterInstance, pool: str) -> bool:
    """Whether ``pool`` has a limit: its own, or (as Dagster gives a step's pool) the
    instance's default one, set on first use."""
    storage = instance.event_log_storage
    if pool in storage.get_concurrency_keys():
        return True
    storage.initialize_concurrency_limit_to_default(pool)
    return pool in storage.get_concurrency_keys()


def reread_input_versions(context: dg.AssetExecutionContext | dg.OpExecutionContext) -> None:
    """Read the data versions of the step's inputs again, from the instance."""
    if isinstance(context, dg.AssetExecutionContext):
        context = context.op_execution_context
    context._step_execution_context.fetch_external_input_asset_version_info()
