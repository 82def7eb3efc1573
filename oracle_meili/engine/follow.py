"""Low-latency mode: probe the source every second or so and sync at once.

Each poll reads every followed index's highest cursor in one statement per database, and
the last sync of each from the state store, and syncs the indexes that the change rule
(:mod:`~oracle_meili.engine.freshness`) says are due: their highest cursor is above their
watermark, or their late-commits deadline has passed. The state is read at every poll, not
remembered, so a sync recorded by someone else (a full sync that published an older
watermark, a sync from the CLI) is seen at once.

Each sync is an incremental sync through the :class:`~oracle_meili.engine.runner.Runner`,
recorded in whichever state store the caller chose: ``sync_state.json``, or the Dagster
instance (a materialization of the index asset, partition ``incremental``), where a sync
from the CLI or a Dagster run continues from the same watermark. NOTE: these syncs run
outside Dagster runs, so the per-index pool does not cover them: do not schedule syncs of
an index that ``follow`` is keeping up to date.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence

from oracle_meili.config import IndexConfig
from oracle_meili.engine.freshness import sync_due
from oracle_meili.engine.result import SyncResult
from oracle_meili.engine.runner import Runner, Session
from oracle_meili.errors import OracleMeiliError

log = logging.getLogger(__name__)


class Follower:
    """One poll at a time of the indexes ``follow`` keeps in sync, in an open session."""

    def __init__(
        self,
        session: Session,
        indexes: Sequence[IndexConfig],
        *,
        on_sync: Callable[[SyncResult], None] | None = None,
    ) -> None:
        state = session.runner.state
        if state is None:
            raise OracleMeiliError("follow needs a state store (Runner(state=...))")
        self.session = session
        self.state = state
        self.indexes = list(indexes)
        self.on_sync = on_sync
        self.syncs = 0

    def poll(self) -> list[SyncResult]:
        """Probe once and sync every index that is due. A failed probe or sync is logged,
        and tried again at the next poll (nothing was recorded, so the index is still due):
        a long-running process must outlive a Meilisearch or database restart."""
        probed = []
        for index in self.indexes:
            try:
                self.session.source(index)  # reflected once; an index that fails is left out
                probed.append(index)
            except OracleMeiliError as e:
                log.error(
                    "%s: reading its source failed, retrying at the next poll: %s", index.name, e
                )
        try:
            highest = self.session.change_markers_of(probed)
            last = self.state.last_syncs([index.name for index in probed])
        except OracleMeiliError as e:
            log.error("probing the source failed, retrying at the next poll: %s", e)
            return []
        at = self.session.runner.clock()
        results = []
        for index in probed:
            reason = sync_due(highest[index.name].max_cursor, last[index.name], at=at)
            if reason is None:
                continue
            log.debug("%s: syncing (%s)", index.name, reason)
            try:
                result = self.session.sync(index, "incremental")
            except OracleMeiliError as e:
                log.error("%s: sync failed, retrying at the next poll: %s", index.name, e)
                continue
            self.syncs += 1
            results.append(result)
            if self.on_sync is not None:
                self.on_sync(result)
        return results


def follow(
    runner: Runner,
    indexes: Sequence[IndexConfig],
    *,
    interval_seconds: float,
    stop: threading.Event,
    on_sync: Callable[[SyncResult], None] | None = None,
) -> int:
    """Keep ``indexes`` in sync until ``stop`` is set. Returns the number of syncs.

    Every index that was never synced, or changed while nothing followed it, is synced at
    the first poll (an incremental sync from its last watermark). A sync in progress always
    finishes before ``stop`` is honoured, so its watermark is recorded.
    """
    with runner.session() as session:
        follower = Follower(session, indexes, on_sync=on_sync)
        while not stop.is_set():
            follower.poll()
            stop.wait(interval_seconds)
        return follower.syncs
