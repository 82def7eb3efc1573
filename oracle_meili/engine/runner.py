"""The one way in: every front end (CLI, Dagster assets, checks, sensors, ``follow``) opens
a :class:`Runner` session and calls it; none builds a source or a client itself.

A session holds one open source engine and one Meilisearch client, and reflects each index
once. Front ends differ only in how the source engine is opened (a pooled engine per run,
or one kept across sensor ticks) and where sync state lives
(:class:`~oracle_meili.engine.state.StateStore`).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, ExitStack, contextmanager
from dataclasses import dataclass, replace
from typing import Any

import sqlalchemy as sa

from oracle_meili.adapters.backend import SearchBackend
from oracle_meili.adapters.columns import DocumentField as DocumentField
from oracle_meili.adapters.database import PROBE_ENGINES, source_engine, source_identity
from oracle_meili.adapters.markers import ChangeMarkers
from oracle_meili.adapters.meili import MeiliClient
from oracle_meili.adapters.probe import change_markers_of, probe_statement
from oracle_meili.adapters.shards import meili_client
from oracle_meili.adapters.source import TableSource
from oracle_meili.config import IndexConfig, MeilisearchConfig, SourceConfig, SyncMode
from oracle_meili.engine.apply_settings import ApplySettingsResult, apply_settings
from oracle_meili.engine.consistency import ConsistencyReport, check_consistency
from oracle_meili.engine.freshness import late_commits_until
from oracle_meili.engine.full import full_sync
from oracle_meili.engine.id_diff import SideProgress
from oracle_meili.engine.incremental import incremental_sync
from oracle_meili.engine.reconcile import ReconcileResult, reconcile
from oracle_meili.engine.reshard import ReshardResult, reshard
from oracle_meili.engine.result import (
    Clock,
    ProgressCallback,
    SyncResult,
    behind_seconds,
    held_newest,
    now,
)
from oracle_meili.engine.search_checks import SearchCheckOutcome, run_search_checks
from oracle_meili.engine.settings_drift import SettingDifference, settings_drift
from oracle_meili.engine.state import StateStore
from oracle_meili.engine.workers import sliced_full_sync
from oracle_meili.errors import OracleMeiliError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Observation:
    """What a source table holds now: live rows, newest change, and its columns."""

    live_rows: int
    newest_change: Any
    # (document field, source column, SQL type) of each column.
    columns: tuple[tuple[str, str, str], ...]


# Probe statements a session keeps: the sets of indexes probed (``follow`` leaves out the
# ones syncing), each built once.
KEPT_PROBES = 8


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


class Session:
    """An open source engine and Meilisearch client; each index reflected once."""

    def __init__(
        self, *, engine: sa.Engine, client: SearchBackend, runner: Runner, cached: bool = False
    ) -> None:
        self.engine = engine
        self.client = client
        self.runner = runner
        self._cached = cached
        self._sources: dict[str, TableSource] = {}
        self._probes: dict[tuple[str, ...], sa.Select[Any]] = {}

    def source(self, index: IndexConfig) -> TableSource:
        """The index's source, reflected on first use."""
        if index.name not in self._sources:
            make = TableSource.cached if self._cached else TableSource
            self._sources[index.name] = make(self.engine, index)
        return self._sources[index.name]

    def change_markers_of(self, indexes: Sequence[IndexConfig]) -> dict[str, ChangeMarkers]:
        """Every index's highest cursor, in one round trip to the database (its statement
        built once per set of indexes in this session)."""
        sources = [self.source(index) for index in indexes]
        names = tuple(index.name for index in indexes)
        if names not in self._probes:
            if len(self._probes) >= KEPT_PROBES:
                del self._probes[next(iter(self._probes))]  # the oldest set
            self._probes[names] = probe_statement(sources)
        markers = change_markers_of(sources, self._probes[names])
        return {index.name: marker for index, marker in zip(indexes, markers, strict=True)}

    def observe(self, index: IndexConfig) -> Observation:
        """The source table's live rows (one COUNT), newest change and columns."""
        source = self.source(index)
        return Observation(
            live_rows=source.count_live(),
            newest_change=source.change_markers().max_cursor,
            columns=source.field_columns(),
        )

    def document_fields(self, index: IndexConfig) -> tuple[DocumentField, ...]:
        """Each document field with its source columns and their SQL type."""
        return self.source(index).document_fields()

    def check(
        self, index: IndexConfig, *, on_progress: SideProgress | None = None
    ) -> ConsistencyReport:
        """Compare the index with its source, document by document (reads only)."""
        return check_consistency(self.source(index), self.client, on_progress=on_progress)

    def apply_settings(
        self,
        index: IndexConfig,
        *,
        in_place: bool = False,
        on_progress: Callable[[int], None] | None = None,
    ) -> ApplySettingsResult:
        """Give the live index its configured settings, from its own documents (see
        :mod:`~oracle_meili.engine.apply_settings`); never reads the source."""
        return apply_settings(index, self.client, in_place=in_place, on_progress=on_progress)

    def settings_drift(self, index: IndexConfig) -> list[SettingDifference]:
        """The live index's settings that are not the configured ones, on every server
        (reads only)."""
        return settings_drift(index, self.client)

    def search_checks(self, index: IndexConfig) -> list[SearchCheckOutcome]:
        """The index's search checks, on the live index (reads only)."""
        id_field = self.source(index).document_shape().id_field
        return run_search_checks(self.client, index, uid=index.name, id_field=id_field)

    def reconcile(
        self,
        index: IndexConfig,
        *,
        dry_run: bool = False,
        force: bool = False,
        on_progress: SideProgress | None = None,
    ) -> ReconcileResult:
        """Delete the documents whose rows are gone (see :mod:`~oracle_meili.engine.reconcile`)."""
        return reconcile(
            self.source(index), self.client, dry_run=dry_run, force=force, on_progress=on_progress
        )

    def reshard(
        self,
        index: IndexConfig,
        *,
        leaving: dict[str, MeilisearchConfig] | None = None,
        on_progress: Callable[[str, int], None] | None = None,
    ) -> ReshardResult:
        """Move each document to the shard it belongs to, the documents of ``leaving``
        servers included (see :mod:`~oracle_meili.engine.reshard`)."""
        with ExitStack() as stack:
            clients = {
                name: stack.enter_context(MeiliClient(config))
                for name, config in (leaving or {}).items()
            }
            return reshard(
                self.source(index), self.client, leaving=clients, on_progress=on_progress
            )

    def sync(
        self, index: IndexConfig, mode: SyncMode, *, on_progress: ProgressCallback | None = None
    ) -> SyncResult:
        """Run one sync and record its outcome in the runner's state store.

        Raises:
            OracleMeiliError: recorded as a failure first; the watermark stays.
        """
        state = self.runner.state
        if state is None:
            raise OracleMeiliError("a sync needs a state store (Runner(state=...))")
        started = self.runner.clock()
        try:
            source = self.source(index)
            if mode == "full" and index.parallel > 1:
                result = sliced_full_sync(
                    source,
                    self.client,
                    source_config=self.runner.source,
                    meilisearch_config=self.runner.meilisearch,
                    state=state,
                    on_progress=on_progress,
                )
            elif mode == "full":
                result = full_sync(
                    source,
                    self.client,
                    on_progress=on_progress,
                    resume=state.checkpoint(index.name),
                    on_checkpoint=state.save_checkpoint,
                )
            else:
                last = state.last_syncs([index.name])[index.name]
                result = incremental_sync(
                    source,
                    self.client,
                    watermark=last.watermark if last is not None else None,
                    late_commits_until=last.late_commits_until if last is not None else None,
                    on_progress=on_progress,
                    clock=self.runner.clock,
                )
            if mode == "full":
                # Rows at or below its watermark may still commit until the look-back after
                # its end (no later than after it read the watermark).
                deadline = late_commits_until(
                    lookback_seconds=index.lookback_seconds,
                    previous=None,
                    watermark=result.watermark,
                    started=started,
                    upper_read_at=self.runner.clock(),
                )
                result = replace(result, late_commits_until=deadline)
        except OracleMeiliError as e:
            state.record_failure(
                index=index.name,
                mode=mode,
                started_at=started.isoformat(),
                finished_at=dt.datetime.now(dt.UTC).isoformat(),
                error=str(e),
            )
            raise
        caught_up, behind = self.freshness(index, result.watermark)
        result = replace(
            result,
            caught_up=caught_up,
            behind_seconds=behind,
            source_table=index.table,
            document_fields=self.document_fields(index),
            source_columns=tuple(
                (column, type_name) for _, column, type_name in self.source(index).field_columns()
            ),
        )
        state.record_success(result)
        return result

    def freshness(
        self, index: IndexConfig, watermark: str | None
    ) -> tuple[bool | None, float | None]:
        """Whether an index at ``watermark`` holds its source's newest change now, and how
        many seconds behind it is (one probe of the highest cursor); None for both when that
        cannot be read: the sync itself has succeeded."""
        if index.cursor is None:
            return None, None
        try:
            newest = self.source(index).change_markers().max_cursor
        except OracleMeiliError as e:
            log.warning("%s: the newest change could not be read after the sync: %s", index.name, e)
            return None, None
        return held_newest(newest, watermark), behind_seconds(newest, watermark)
