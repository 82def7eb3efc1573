"""A session of the runner: one open source engine and one Meilisearch client, through
which every front end syncs, checks, probes and observes (see :mod:`oracle_meili.engine.runner`).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from oracle_meili.adapters.backend import SearchBackend
from oracle_meili.adapters.columns import DocumentField
from oracle_meili.adapters.markers import ChangeMarkers
from oracle_meili.adapters.meili import MeiliClient
from oracle_meili.adapters.probe import change_markers_of, probe_statement
from oracle_meili.adapters.source import TableSource
from oracle_meili.config import IndexConfig, MeilisearchConfig, SyncMode
from oracle_meili.engine.apply_settings import ApplySettingsResult, apply_settings
from oracle_meili.engine.checkpoint import CheckpointCallback, FullSyncCheckpoint
from oracle_meili.engine.consistency import ConsistencyReport, check_consistency
from oracle_meili.engine.freshness import late_commits_until
from oracle_meili.engine.full import full_sync
from oracle_meili.engine.id_diff import SideProgress
from oracle_meili.engine.incremental import incremental_sync
from oracle_meili.engine.reconcile import ReconcileResult, reconcile
from oracle_meili.engine.reshard import ReshardResult, reshard
from oracle_meili.engine.result import (
    Observation,
    ProgressCallback,
    SyncResult,
    behind_seconds,
    held_newest,
)
from oracle_meili.engine.search_checks import SearchCheckOutcome, run_search_checks
from oracle_meili.engine.settings_drift import SettingDifference, settings_drift
from oracle_meili.engine.slice_plan import PlanStore, SlicedPlan
from oracle_meili.engine.slices import begin_slices, complete_slices, load_slice
from oracle_meili.engine.state import StateStore
from oracle_meili.engine.workers import read_in_workers
from oracle_meili.errors import OracleMeiliError

if TYPE_CHECKING:
    from oracle_meili.engine.runner import Runner

log = logging.getLogger(__name__)


# Probe statements a session keeps: the sets of indexes probed (``follow`` leaves out the
# ones syncing), each built once.
KEPT_PROBES = 8


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

    # -- the steps of a full sync, for callers that run its slices themselves (Dagster) ----

    def plan_full(
        self, index: IndexConfig, state: PlanStore, *, owner: str | None = None
    ) -> tuple[SlicedPlan, dict[int, FullSyncCheckpoint]]:
        """Plan a full sync of ``index`` (or resume the plan kept in ``state``); the plan and
        the checkpoints its slices have already."""
        return begin_slices(
            self.source(index), self.client, state, saved_plan=state.plan(index.name), owner=owner
        )

    def load_slice(
        self,
        index: IndexConfig,
        plan: SlicedPlan,
        number: int,
        *,
        resume: FullSyncCheckpoint | None = None,
        on_checkpoint: CheckpointCallback | None = None,
        on_progress: ProgressCallback | None = None,
    ) -> FullSyncCheckpoint:
        """Read slice ``number`` of ``plan`` into its build index; its finished checkpoint."""
        return load_slice(
            self.source(index),
            self.client,
            plan,
            number,
            resume=resume,
            on_checkpoint=on_checkpoint,
            on_progress=on_progress,
        )

    def complete_full(
        self, index: IndexConfig, plan: SlicedPlan, slices: dict[int, FullSyncCheckpoint]
    ) -> SyncResult:
        """Check that every slice finished and publish the build."""
        return complete_slices(self.source(index), self.client, plan, slices)

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
            if mode == "full":
                result = self._full(index, state, started, on_progress)
            else:
                result = self._incremental(index, state, on_progress)
        except OracleMeiliError as e:
            state.record_failure(
                index=index.name,
                mode=mode,
                started_at=started.isoformat(),
                finished_at=dt.datetime.now(dt.UTC).isoformat(),
                error=str(e),
            )
            raise
        result = self._described(index, result)
        state.record_success(result)
        return result

    def _full(
        self,
        index: IndexConfig,
        state: StateStore,
        started: dt.datetime,
        on_progress: ProgressCallback | None,
    ) -> SyncResult:
        result = full_sync(
            self.source(index),
            self.client,
            state=state,
            on_progress=on_progress,
            # One slice is read here; several in worker processes.
            read_slices=read_in_workers(
                self.runner.source, self.runner.meilisearch, index, on_progress=on_progress
            )
            if index.parallel > 1
            else None,
        )
        # Rows at or below its watermark may still commit until the look-back after its
        # end (no later than after it read the watermark).
        deadline = late_commits_until(
            lookback_seconds=index.lookback_seconds,
            previous=None,
            watermark=result.watermark,
            started=started,
            upper_read_at=self.runner.clock(),
        )
        return replace(result, late_commits_until=deadline)

    def _incremental(
        self, index: IndexConfig, state: StateStore, on_progress: ProgressCallback | None
    ) -> SyncResult:
        last = state.last_syncs([index.name])[index.name]
        return incremental_sync(
            self.source(index),
            self.client,
            watermark=last.watermark if last is not None else None,
            late_commits_until=last.late_commits_until if last is not None else None,
            on_progress=on_progress,
            clock=self.runner.clock,
        )

    def _described(self, index: IndexConfig, result: SyncResult) -> SyncResult:
        """``result`` with how far behind the index is now, and the columns it synced."""
        caught_up, behind = self.freshness(index, result.watermark)
        return replace(
            result,
            caught_up=caught_up,
            behind_seconds=behind,
            source_table=index.table,
            document_fields=self.document_fields(index),
            source_columns=tuple(
                (column, type_name) for _, column, type_name in self.source(index).field_columns()
            ),
        )

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
