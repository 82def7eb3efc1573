"""The one way a sync is run: source, client, mode and state wired in one place.

The CLI, the Dagster asset and ``follow`` all call :class:`Runner` (or a :class:`Session`
of it, for many syncs over one connection); they differ only in where state lives
(:class:`~oracle_meili.engine.state.StateStore`) and how the source engine is opened.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager

import sqlalchemy as sa

from oracle_meili.adapters.meili import MeiliClient
from oracle_meili.adapters.source import ChangeMarkers, TableSource
from oracle_meili.config import IndexConfig, MeilisearchConfig, SyncMode
from oracle_meili.engine.full import full_sync
from oracle_meili.engine.incremental import incremental_sync
from oracle_meili.engine.result import ProgressCallback, SyncResult
from oracle_meili.engine.state import StateStore
from oracle_meili.errors import OracleMeiliError

# Opens the source database for the duration of a ``with`` block.
SourceOpener = Callable[[], AbstractContextManager[sa.Engine]]


class Runner:
    """Runs syncs of configured indexes against one source and one Meilisearch server."""

    def __init__(
        self, *, source: SourceOpener, meilisearch: MeilisearchConfig, state: StateStore
    ) -> None:
        self.source = source
        self.meilisearch = meilisearch
        self.state = state

    def run(
        self, index: IndexConfig, mode: SyncMode, *, on_progress: ProgressCallback | None = None
    ) -> SyncResult:
        """One sync of ``index``: reads its state, runs the mode, records the outcome."""
        with self.session() as session:
            return session.sync(index, mode, on_progress=on_progress)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """The source and Meilisearch opened once, for one sync or many (``follow``)."""
        with self.source() as engine, MeiliClient(self.meilisearch) as client:
            yield Session(engine=engine, client=client, runner=self)


class Session:
    """An open source engine and Meilisearch client; each index reflected once."""

    def __init__(self, *, engine: sa.Engine, client: MeiliClient, runner: Runner) -> None:
        self.engine = engine
        self.client = client
        self.runner = runner
        self._sources: dict[str, TableSource] = {}

    def source(self, index: IndexConfig) -> TableSource:
        """The index's source, reflected on first use."""
        if index.name not in self._sources:
            self._sources[index.name] = TableSource(self.engine, index)
        return self._sources[index.name]

    def change_markers(self, index: IndexConfig) -> ChangeMarkers:
        return self.source(index).change_markers()

    def sync(
        self, index: IndexConfig, mode: SyncMode, *, on_progress: ProgressCallback | None = None
    ) -> SyncResult:
        """Run one sync and record its outcome in the runner's state store.

        Raises:
            OracleMeiliError: recorded as a failure first; the watermark stays.
        """
        state = self.runner.state
        started = dt.datetime.now(dt.UTC)
        try:
            source = self.source(index)
            result: SyncResult
            if mode == "full":
                result = full_sync(
                    index,
                    source=source,
                    client=self.client,
                    meili=self.runner.meilisearch,
                    on_progress=on_progress,
                    resume=state.checkpoint(index.name),
                    on_checkpoint=state.save_checkpoint,
                )
            else:
                result = incremental_sync(
                    index,
                    source=source,
                    client=self.client,
                    meili=self.runner.meilisearch,
                    watermark=state.watermark(index.name),
                    on_progress=on_progress,
                )
        except OracleMeiliError as e:
            state.record_failure(
                index=index.name,
                mode=mode,
                started_at=started.isoformat(),
                finished_at=dt.datetime.now(dt.UTC).isoformat(),
                error=str(e),
            )
            raise
        state.record_success(result)
        return result
