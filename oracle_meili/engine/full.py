"""Full sync: rebuild an index from every live row, with zero downtime and resumable.

    plan (watermark, snapshot, key ranges, build index) ─> slices ─> checks ─> publish

One engine for every full sync. A single-reader sync (``parallel: 1``) is a plan of one
slice, read here; ``parallel: N`` cuts N key ranges of the primary key, which a
:data:`SliceReader` reads wherever it runs them (worker processes from the command line,
:mod:`oracle_meili.engine.workers`; Dagster runs the three steps itself through the
runner). The plan and each slice's checkpoints go to a state store, so a failed sync
resumes: a finished slice is not read again, an unfinished one continues after its last
acknowledged payload. The steps are in :mod:`oracle_meili.engine.slices`.

Plain Python: the runner calls it and records the result. A failed sync leaves the live
index as it was (strategy ``swap``) and never moves the watermark.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator

from oracle_meili.adapters.backend import SearchBackend, TaskRef
from oracle_meili.adapters.keyset import StoredKey
from oracle_meili.adapters.source import TableSource
from oracle_meili.engine.checkpoint import CheckpointCallback, FullSyncCheckpoint
from oracle_meili.engine.events import SyncEvent
from oracle_meili.engine.pipeline import write_pages
from oracle_meili.engine.result import ProgressCallback, SyncResult
from oracle_meili.engine.slice_plan import PlanStore, SlicedPlan, unfinished
from oracle_meili.engine.writer import DocumentWriter
from oracle_meili.errors import SnapshotTooOldError

log = logging.getLogger(__name__)
# A full sync's first payload: small, so Meilisearch starts indexing almost at once; the
# following payloads double up to max_payload_bytes (measured in bench/full_sync.py).
FIRST_PAYLOAD_BYTES = 8 * 1024 * 1024

# Reads the unfinished slices of a plan (given each slice's latest checkpoint), reporting
# every checkpoint; returns each slice's finished checkpoint.
SliceReader = Callable[
    [SlicedPlan, dict[int, FullSyncCheckpoint], CheckpointCallback],
    dict[int, FullSyncCheckpoint],
]


def full_sync(
    source: TableSource,
    client: SearchBackend,
    *,
    state: PlanStore | None = None,
    on_progress: ProgressCallback | None = None,
    read_slices: SliceReader | None = None,
) -> SyncResult:
    """Rebuild the index of ``source`` from every live row.

    Strategy ``swap`` (default): load a new index ``<name>__<suffix>``, check it, then swap
    it with the live index (or rename it when there is none) and delete the old one; the
    live index is untouched if anything fails. Strategy ``recreate``: delete the live index
    and load it again (searches see a partial index meanwhile).

    With ``state`` (``swap`` only), the plan and the slices' checkpoints are kept there and
    a failed sync keeps its build index, which the next full sync resumes (a plan whose
    build is gone is ignored; one whose SCN left the undo, ORA-01555, starts afresh).
    ``read_slices`` reads the slices (default: one after another, in this process).

    Raises:
        SyncError, MeilisearchError, SourceError, DocumentError: nothing live has changed
            (``swap``).
    """
    # Imported here: the steps import this module's page loop.
    from oracle_meili.engine.slices import begin_slices, complete_slices

    index = source.index
    keep = state is not None and index.full_strategy == "swap"
    store: PlanStore = state if keep and state is not None else MemoryPlans()
    saved = store.plan(index.name)
    task_uids: list[TaskRef] = []
    read = read_slices or read_in_process(source, client, on_progress, task_uids)
    plan, done = begin_slices(source, client, store, saved_plan=saved)
    log.info("full sync of %r started (%s strategy)", index.name, index.full_strategy)
    try:
        try:
            done = read(plan, done, store.save_checkpoint)
        except SnapshotTooOldError as e:
            if saved is None or saved.build_index != plan.build_index:
                raise
            # The resumed plan's build index is dropped (load_slice did): a new plan.
            log.warning("full sync of %r: %s; starting afresh with a new SCN", index.name, e)
            task_uids.clear()
            plan, done = begin_slices(source, client, store, saved_plan=None)
            done = read(plan, done, store.save_checkpoint)
        result = complete_slices(source, client, plan, done, task_uids=task_uids)
    except BaseException:
        if not keep:
            plan.target().discard(client)
        raise
    log.info(
        "full sync of %r finished: %d documents in %.1f s",
        index.name,
        result.index_document_count,
        result.duration_seconds,
    )
    return result


def read_in_process(
    source: TableSource,
    client: SearchBackend,
    on_progress: ProgressCallback | None,
    task_uids: list[TaskRef],
) -> SliceReader:
    """A reader of the slices one after another, in this process (``task_uids`` collects
    each payload's task)."""
    from oracle_meili.engine.slices import load_slice

    def read(
        plan: SlicedPlan,
        done: dict[int, FullSyncCheckpoint],
        on_checkpoint: CheckpointCallback,
    ) -> dict[int, FullSyncCheckpoint]:
        progress = ProgressSum(on_progress, {n: c.rows_acknowledged for n, c in done.items()})
        finished = dict(done)
        for number in unfinished(plan, done):
            finished[number] = load_slice(
                source,
                client,
                plan,
                number,
                resume=done.get(number),
                on_checkpoint=on_checkpoint,
                on_progress=lambda rows, n=number: progress(n, rows),  # type: ignore[misc]
                task_uids=task_uids,
            )
        return finished

    return read


class ProgressSum:
    """The rows read by every slice, from each slice's own running count."""

    def __init__(self, callback: ProgressCallback | None, done: dict[int, int]) -> None:
        self.callback = callback
        self.rows = dict(done)

    def __call__(self, number: int, rows: int) -> None:
        self.rows[number] = rows
        if self.callback is not None:
            self.callback(sum(self.rows.values()))


class MemoryPlans:
    """The plan and checkpoints of a full sync with no state store: kept for its own run
    only (it cannot be resumed)."""

    def __init__(self) -> None:
        self._checkpoints: dict[int, FullSyncCheckpoint] = {}

    def plan(self, index: str) -> SlicedPlan | None:
        return None  # nothing survives from an earlier sync

    def save_plan(self, plan: SlicedPlan) -> None:
        self._checkpoints.clear()  # they belong to the plan before

    def save_checkpoint(self, checkpoint: FullSyncCheckpoint) -> None:
        if checkpoint.slice is not None:
            self._checkpoints[checkpoint.slice] = checkpoint

    def slice_checkpoints(self, index: str, build_index: str) -> dict[int, FullSyncCheckpoint]:
        return {n: c for n, c in self._checkpoints.items() if c.build_index == build_index}


def load_rows(
    reader: TableSource,
    client: SearchBackend,
    uid: str,
    *,
    after: StoredKey | None,
    upto: StoredKey | None = None,
) -> Iterator[SyncEvent]:
    """The events of loading the live rows after ``after`` (up to ``upto``) into ``uid``:
    the page loop of one slice of a full sync."""
    index = reader.index
    shape = reader.document_shape()
    return write_pages(
        reader.read_all(batch_size=index.batch_size, after=after, upto=upto),
        DocumentWriter(client, uid, id_field=shape.id_field, first_bytes=FIRST_PAYLOAD_BYTES),
        shape,
        on_bad_row=index.on_bad_row,
        max_bytes=client.config.max_payload_bytes,
    )
