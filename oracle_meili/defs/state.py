"""Sync state kept in a Dagster instance: the :class:`~oracle_meili.engine.state.StateStore`
protocol over the event log.

- :class:`DagsterInstanceState`, for syncs outside Dagster runs (``oracle-meili sync
  --dagster``, ``follow --dagster``): each success is a runless materialization of the
  index asset, so the asset's history in the UI stays complete.
- :class:`DagsterRunState`, inside the asset's own run: checkpoints go to the run's event
  log, and the asset reports the materialization itself.
"""

from __future__ import annotations

import logging
import math
import queue
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import dagster as dg

from oracle_meili.defs.history import materialization_history
from oracle_meili.defs.metadata import (
    checkpoint_observation,
    last_syncs,
    latest_plan,
    latest_watermark,
    plan_observation,
    result_metadata,
    schema_metadata,
    slice_checkpoints,
)
from oracle_meili.defs.names import DEFAULT_NAMES, Names
from oracle_meili.engine.checkpoint import FullSyncCheckpoint
from oracle_meili.engine.freshness import LastSync
from oracle_meili.engine.result import SyncResult
from oracle_meili.engine.slice_plan import SlicedPlan
from oracle_meili.engine.state import HISTORY_LIMIT

log = logging.getLogger(__name__)
# How often a follow run reads its indexes' last syncs from the instance (see FollowRunState).
FOLLOW_STATE_REFRESH_SECONDS = 5.0


class DagsterInstanceState:
    """State in a Dagster instance, for syncs that run outside Dagster runs; each index's
    on its asset, whose key ``names`` gives (the default keys outside a code location)."""

    def __init__(
        self,
        instance: dg.DagsterInstance,
        *,
        meilisearch_url: str,
        names: Names = DEFAULT_NAMES,
    ) -> None:
        self.instance = instance
        self.meilisearch_url = meilisearch_url
        self.key = names.index_key
        self.table_key = names.table_key

    def watermark(self, index: str) -> str | None:
        return latest_watermark(self.instance, self.key(index))

    def last_syncs(self, indexes: Sequence[str]) -> dict[str, LastSync | None]:
        found = last_syncs(self.instance, [self.key(index) for index in indexes])
        return {index: found[self.key(index)] for index in indexes}

    def save_checkpoint(self, checkpoint: FullSyncCheckpoint) -> None:
        observation = checkpoint_observation(self.key(checkpoint.index), checkpoint)
        self.instance.report_runless_asset_event(observation)

    def plan(self, index: str) -> SlicedPlan | None:
        return latest_plan(self.instance, self.key(index))

    def save_plan(self, plan: SlicedPlan) -> None:
        self.instance.report_runless_asset_event(plan_observation(self.key(plan.index), plan))

    def slice_checkpoints(self, index: str, build_index: str) -> dict[int, FullSyncCheckpoint]:
        return slice_checkpoints(self.instance, self.key(index), build_index)

    def record_success(self, result: SyncResult) -> None:
        self.instance.report_runless_asset_event(
            dg.AssetMaterialization(
                asset_key=self.key(result.index),
                partition=result.mode,
                metadata={
                    **result_metadata(result, meilisearch_url=self.meilisearch_url),
                    # The columns, as a sync run records them (when the sync knew them).
                    **(
                        schema_metadata(result.source_table, result.document_fields, self.table_key)
                        if result.document_fields
                        else {}
                    ),
                },
                description="oracle-meili (outside a Dagster run)",
            )
        )

    def record_failure(
        self, *, index: str, mode: str, started_at: str, finished_at: str, error: str
    ) -> None:
        # The event log has no runless failure event; a failure is the caller's error (and
        # the CLI's exit status). Nothing moved: the watermark stays.
        log.debug("%s: %s sync failed (not recorded in the instance): %s", index, mode, error)

    def history(self, index: str, limit: int = HISTORY_LIMIT) -> list[dict[str, Any]]:
        return materialization_history(self.instance, index, self.key(index), limit=limit)


@contextmanager
def instance_state(
    home: str | None, *, meilisearch_url: str, names: Names = DEFAULT_NAMES
) -> Iterator[DagsterInstanceState]:
    """The state kept in the Dagster instance in the folder ``home`` (``$DAGSTER_HOME`` when
    None): the CLI's ``--dagster``."""
    instance = dg.DagsterInstance.from_config(home) if home else dg.DagsterInstance.get()
    with instance:
        yield DagsterInstanceState(instance, meilisearch_url=meilisearch_url, names=names)


class DagsterRunState(DagsterInstanceState):
    """State for the index asset's own run."""

    def __init__(
        self,
        context: dg.AssetExecutionContext | dg.OpExecutionContext,
        *,
        meilisearch_url: str,
        names: Names = DEFAULT_NAMES,
    ) -> None:
        super().__init__(context.instance, meilisearch_url=meilisearch_url, names=names)
        self.context = context

    def save_checkpoint(self, checkpoint: FullSyncCheckpoint) -> None:
        key = self.key(checkpoint.index)
        self.context.log_event(checkpoint_observation(key, checkpoint))

    def save_plan(self, plan: SlicedPlan) -> None:
        self.context.log_event(plan_observation(self.key(plan.index), plan))

    def record_success(self, result: SyncResult) -> None:
        """Nothing: the asset returns the result as its MaterializeResult."""


class FollowRunState(DagsterInstanceState):
    """State for a follow run: its syncs finish in worker threads, and only the op itself
    can report their materializations (by yielding them), so each result waits in
    :attr:`recorded` until the op has. Meanwhile :meth:`last_syncs` answers with it: the run
    never takes an index for behind what it has just synced.

    The instance is read again every ``refresh_seconds``, not at every poll: the run knows
    its own syncs, and only a sync by someone else (a full sync publishing an older
    watermark) is learnt from the instance, at most that much later. At two polls a second
    over 50 indexes, reading the instance at every poll was half the idle run's CPU."""

    def __init__(
        self,
        instance: dg.DagsterInstance,
        *,
        meilisearch_url: str,
        refresh_seconds: float = FOLLOW_STATE_REFRESH_SECONDS,
        names: Names = DEFAULT_NAMES,
    ) -> None:
        super().__init__(instance, meilisearch_url=meilisearch_url, names=names)
        self.recorded: queue.SimpleQueue[SyncResult] = queue.SimpleQueue()
        self.refresh_seconds = refresh_seconds
        self._pending: dict[str, SyncResult] = {}
        self._read: dict[str, LastSync | None] = {}
        self._read_at = -math.inf
        self._lock = threading.Lock()

    def last_syncs(self, indexes: Sequence[str]) -> dict[str, LastSync | None]:
        stale = time.monotonic() - self._read_at >= self.refresh_seconds
        if stale or any(name not in self._read for name in indexes):
            self._read = super().last_syncs(sorted({*indexes, *self._read}))
            self._read_at = time.monotonic()
        found = {name: self._read[name] for name in indexes}
        with self._lock:
            pending = dict(self._pending)
        for name, result in pending.items():
            if name in found:
                found[name] = LastSync(result.watermark, result.late_commits_until)
        return found

    def record_success(self, result: SyncResult) -> None:
        with self._lock:
            self._pending[result.index] = result
        self.recorded.put(result)

    def reported(self, result: SyncResult) -> None:
        """The op has reported ``result``: the instance answers for it from now on."""
        with self._lock:
            if self._pending.get(result.index) is result:
                del self._pending[result.index]
        self._read[result.index] = LastSync(result.watermark, result.late_commits_until)
