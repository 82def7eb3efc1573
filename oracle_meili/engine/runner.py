"""The one way in: every front end (CLI, its worker processes, Dagster assets and steps,
checks, sensors, ``follow``) opens a :class:`Runner` session and calls it; none builds a
source or a client itself.

A session (:class:`~oracle_meili.engine.session.Session`) holds one open source engine and
one Meilisearch client, and reflects each index once. Front ends differ only in how the
source engine is opened (a pooled engine per run, or one kept across sensor ticks) and
where sync state lives (:class:`~oracle_meili.engine.state.StateStore`).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager

import sqlalchemy as sa

from oracle_meili.adapters.database import PROBE_ENGINES, source_engine, source_identity
from oracle_meili.adapters.shards import meili_client
from oracle_meili.config import IndexConfig, MeilisearchConfig, SourceConfig, SyncMode
from oracle_meili.engine.result import Clock, Observation, ProgressCallback, SyncResult, now
from oracle_meili.engine.session import Session
from oracle_meili.engine.state import StateStore

__all__ = ["Observation", "Runner", "Session"]


class Runner:
    """Runs syncs, checks and probes of configured indexes against one source database and
    one Meilisearch server."""

    def __init__(
        self,
        source: SourceConfig,
        meilisearch: MeilisearchConfig,
        *,
        state: StateStore | None = None,
        keep_source_open: bool = False,
        clock: Clock | None = None,
    ) -> None:
        """``state`` is needed by :meth:`Session.sync` only. With ``keep_source_open`` the
        source engine stays open between sessions (the change sensor's ticks), one per
        database, closed when idle (:class:`~oracle_meili.adapters.database.KeptEngines`).
        ``clock`` times the syncs' late-commits deadlines (a test's own clock)."""
        self.source = source
        self.meilisearch = meilisearch
        self.state = state
        self.keep_source_open = keep_source_open
        self.clock = clock or now

    def open_source(self) -> AbstractContextManager[sa.Engine]:
        """The source engine, for the duration of a ``with`` block."""
        if self.keep_source_open:
            source = self.source
            return PROBE_ENGINES.engine(source_identity(source), lambda: source_engine(source))
        return source_engine(self.source)

    def run(
        self, index: IndexConfig, mode: SyncMode, *, on_progress: ProgressCallback | None = None
    ) -> SyncResult:
        """One sync of ``index``: reads its state, runs the mode, records the outcome."""
        with self.session() as session:
            return session.sync(index, mode, on_progress=on_progress)

    @contextmanager
    def session(self, *, cached_reflection: bool = False) -> Iterator[Session]:
        """The source and Meilisearch opened once, for one call or many (``follow``).

        ``cached_reflection`` reuses each table's reflection for a few minutes: for the
        change sensor, which probes every second or so."""
        with self.open_source() as engine, meili_client(self.meilisearch) as client:
            yield Session(engine=engine, client=client, runner=self, cached=cached_reflection)
