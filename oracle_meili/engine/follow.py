"""Low-latency mode: probe the source every second or so and sync what is due at once.

One loop for every front end: the CLI's ``oracle-meili follow`` and the Dagster follow run.
Each poll reads every followed index's highest cursor in one statement, and the last sync
of each from the state store, and starts an incremental sync of each index that the change
rule (:mod:`~oracle_meili.engine.freshness`) says is due: its highest cursor is above its
watermark, or its late-commits deadline has passed. The state is read at every poll, not
remembered, so a sync recorded by someone else (a full sync that published an older
watermark, a sync run) is seen at once.

Syncs of several indexes run at once, in threads, at most ``max_concurrent_syncs``; an
index is never synced twice at once by one follower, and ``exclusive`` (the Dagster
index pool, claimed per sync) keeps it from overlapping anyone else's sync: an index whose
slot is taken is tried again at the next poll. Each sync is an incremental sync through the
:class:`~oracle_meili.engine.runner.Runner`, recorded in the runner's state store.

A sync that failed for a reason that may pass (an outage) is tried again at the next poll;
one that failed for good (a row Meilisearch cannot take, bad settings) waits
``RETRY_AFTER_FAILURE_SECONDS`` first, so that it neither floods the log nor hammers the
source twice a second, while the other indexes are followed on.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import AbstractContextManager, ExitStack, nullcontext

from oracle_meili.adapters.shards import meili_client
from oracle_meili.config import IndexConfig
from oracle_meili.engine.freshness import sync_due
from oracle_meili.engine.result import SyncResult
from oracle_meili.engine.runner import Runner
from oracle_meili.engine.session import Session
from oracle_meili.errors import OracleMeiliError

log = logging.getLogger(__name__)

# How long an index whose sync failed for good waits before it is tried again (the change
# sensor waits as long after a failed run).
RETRY_AFTER_FAILURE_SECONDS = 60

# Holds the index's exclusive right to sync for a ``with`` block; yields whether it got it.
Exclusive = Callable[[IndexConfig], AbstractContextManager[bool]]


def always(index: IndexConfig) -> AbstractContextManager[bool]:
    """No exclusion beyond the follower's own (an index is never synced twice at once)."""
    return nullcontext(True)


class Follower:
    """The indexes ``follow`` keeps in sync: one probe at a time, syncs in threads.

    Use it as a context manager: it opens the source once (shared by every sync; a SQLAlchemy
    engine is thread-safe) and one Meilisearch client per thread."""

    def __init__(
        self,
        runner: Runner,
        indexes: Sequence[IndexConfig],
        *,
        max_concurrent_syncs: int = 1,
        exclusive: Exclusive = always,
        on_sync: Callable[[SyncResult], None] | None = None,
        on_failure: Callable[[IndexConfig, OracleMeiliError], None] | None = None,
    ) -> None:
        if runner.state is None:
            raise OracleMeiliError("follow needs a state store (Runner(state=...))")
        self.runner = runner
        self.state = runner.state
        self.indexes = list(indexes)
        self.exclusive = exclusive
        self.on_sync = on_sync
        self.on_failure = on_failure
        self.syncs = 0
        self.in_flight: dict[str, Future[SyncResult | None]] = {}
        # Indexes whose last sync failed for good, and when they may be tried again.
        self.retry_after: dict[str, dt.datetime] = {}
        self._pool = ThreadPoolExecutor(max_concurrent_syncs, thread_name_prefix="follow")
        self._stack = ExitStack()
        self._local = threading.local()
        self._lock = threading.Lock()
        self.session: Session

    def __enter__(self) -> Follower:
        engine = self._stack.enter_context(self.runner.open_source())
        self._engine = engine
        self.session = self._new_session()
        return self

    def __exit__(self, *exc: object) -> None:
        # A sync in progress finishes first, so that its watermark is recorded.
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._collect()
        self._stack.close()

    def poll(self) -> None:
        """Probe once and start a sync of every index that is due and not syncing already.
        A failed probe is logged and tried again at the next poll: a long-running process
        must outlive a Meilisearch or database restart."""
        self._collect()
        idle = [index for index in self.indexes if index.name not in self.in_flight]
        probed = []
        for index in idle:
            try:
                self.session.source(index)  # reflected once; an index that fails is left out
                probed.append(index)
            except OracleMeiliError as e:
                log.error("%s: reading its source failed, retrying at the next poll: %s",
                          index.name, e)  # fmt: skip
        try:
            highest = self.session.change_markers_of(probed)
            last = self.state.last_syncs([index.name for index in probed])
        except OracleMeiliError as e:
            log.error("probing the source failed, retrying at the next poll: %s", e)
            return
        at = self.runner.clock()
        for index in probed:
            if index.name in self.retry_after and at < self.retry_after[index.name]:
                continue
            reason = sync_due(highest[index.name].max_cursor, last[index.name], at=at)
            if reason is not None:
                log.debug("%s: syncing (%s)", index.name, reason)
                self.in_flight[index.name] = self._pool.submit(self._sync, index)

    def wait(self, seconds: float, stop: threading.Event | None = None) -> None:
        """Until ``seconds`` have passed, a sync has finished, or ``stop`` is set."""
        if self.in_flight:
            wait(list(self.in_flight.values()), timeout=seconds, return_when=FIRST_COMPLETED)
        else:
            (stop or threading.Event()).wait(seconds)

    def finish_syncs(self) -> None:
        """Until every sync started so far has finished (and been counted)."""
        wait(list(self.in_flight.values()))
        self._collect()

    def _sync(self, index: IndexConfig) -> SyncResult | None:
        with self.exclusive(index) as held:
            if not held:
                log.debug("%s: another sync holds the index; trying at the next poll", index.name)
                return None
            try:
                result = self._thread_session().sync(index, "incremental")
            except OracleMeiliError as e:
                # Nothing was recorded, so the index is still due.
                if e.retryable:
                    log.error("%s: sync failed, retrying at the next poll: %s", index.name, e)
                else:
                    wait = dt.timedelta(seconds=RETRY_AFTER_FAILURE_SECONDS)
                    self.retry_after[index.name] = self.runner.clock() + wait
                    log.error("%s: sync failed, retrying in %d s: %s", index.name,
                              RETRY_AFTER_FAILURE_SECONDS, e)  # fmt: skip
                if self.on_failure is not None:
                    self.on_failure(index, e)
                return None
        self.retry_after.pop(index.name, None)
        if self.on_sync is not None:
            self.on_sync(result)
        return result

    def _collect(self) -> None:
        for name, future in list(self.in_flight.items()):
            if future.done():
                del self.in_flight[name]
                if not future.cancelled() and future.result() is not None:
                    self.syncs += 1

    def _thread_session(self) -> Session:
        session: Session | None = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = self._new_session()
        return session

    def _new_session(self) -> Session:
        with self._lock:
            client = self._stack.enter_context(meili_client(self.runner.meilisearch))
        return Session(engine=self._engine, client=client, runner=self.runner, cached=True)


def follow(
    runner: Runner,
    indexes: Sequence[IndexConfig],
    *,
    interval_seconds: float,
    stop: threading.Event,
    max_concurrent_syncs: int = 1,
    exclusive: Exclusive = always,
    on_sync: Callable[[SyncResult], None] | None = None,
) -> int:
    """Keep ``indexes`` in sync until ``stop`` is set. Returns the number of syncs.

    Every index that was never synced, or changed while nothing followed it, is synced at
    the first poll (an incremental sync from its last watermark). The syncs in progress
    finish before ``stop`` is honoured, so their watermarks are recorded.
    """
    with Follower(
        runner,
        indexes,
        max_concurrent_syncs=max_concurrent_syncs,
        exclusive=exclusive,
        on_sync=on_sync,
    ) as follower:
        while not stop.is_set():
            follower.poll()
            follower.wait(interval_seconds, stop)
    return follower.syncs
