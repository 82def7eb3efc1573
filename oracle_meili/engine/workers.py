"""A sliced full sync from the command line: its slices in worker processes.

Each worker is a fresh interpreter (``spawn``) that opens its own source engine and
Meilisearch client and loads one slice at a time (:func:`~oracle_meili.engine.slices.load_slice`).
Workers send their checkpoints and progress back over a queue; only this process writes
the state store, so the state file needs no lock. A slice that fails does not stop the
others: they finish and keep their checkpoints, and the next full sync reads only what is
left.

Workers die with their parent (:mod:`oracle_meili.processes`): killed with it (kill -9, out
of memory), they would go on writing into the build index beside a rerun, then wait for
ever.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import queue
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass
from typing import Any

from oracle_meili.adapters.backend import SearchBackend
from oracle_meili.adapters.database import source_engine
from oracle_meili.adapters.shards import meili_client
from oracle_meili.adapters.source import TableSource
from oracle_meili.config import IndexConfig, MeilisearchConfig, SourceConfig
from oracle_meili.engine.checkpoint import FullSyncCheckpoint
from oracle_meili.engine.result import ProgressCallback, SyncResult
from oracle_meili.engine.slice_plan import SlicedPlan
from oracle_meili.engine.slices import begin_slices, complete_slices, load_slice, unfinished
from oracle_meili.engine.state import StateStore
from oracle_meili.errors import OracleMeiliError, SyncError
from oracle_meili.processes import die_with

log = logging.getLogger(__name__)
# How often the parent reads the workers' reports while it waits for them.
REPORT_INTERVAL_SECONDS = 0.2


class SlicesFailedError(SyncError):
    """Some slices of a sliced full sync failed; the others finished and are kept, and the
    next full sync reads only what is left."""


@dataclass(frozen=True)
class SliceWork:
    """Everything a worker needs to load one slice (picklable: configuration and JSON)."""

    source: SourceConfig
    meilisearch: MeilisearchConfig
    index: IndexConfig
    plan: dict[str, Any]
    number: int
    resume: dict[str, Any] | None


@dataclass(frozen=True)
class SliceOutcome:
    """A worker's answer: the slice's finished checkpoint, or why it failed."""

    number: int
    finished: dict[str, Any] | None = None
    error: str | None = None


def sliced_full_sync(
    source: TableSource,
    client: SearchBackend,
    *,
    source_config: SourceConfig,
    meilisearch_config: MeilisearchConfig,
    state: StateStore,
    on_progress: ProgressCallback | None = None,
) -> SyncResult:
    """A full sync of ``source.index`` in ``parallel`` key-range slices, read by at most
    ``parallel`` worker processes (fewer when ``source.max_concurrent_syncs`` is lower).

    Raises:
        SlicesFailedError: some slices failed (each named with its error); the finished
            ones are kept for the next full sync, and nothing live changed.
        SyncError: the completeness checks failed; the build is dropped.
    """
    index = source.index
    plan, slices = begin_slices(source, client, state, saved_plan=state.plan(index.name))
    todo = unfinished(plan, slices)
    limit = source_config.max_concurrent_syncs or plan.slices
    processes = max(1, min(len(todo), limit))
    log.info(
        "full sync of %r: %d of %d slices to read, %d at a time",
        index.name,
        len(todo),
        plan.slices,
        processes,
    )
    progress = ProgressSum(on_progress, {n: c.rows_acknowledged for n, c in slices.items()})

    def on_checkpoint(checkpoint: FullSyncCheckpoint) -> None:
        state.save_checkpoint(checkpoint)
        if checkpoint.slice is not None:
            slices[checkpoint.slice] = checkpoint

    works = [
        SliceWork(
            source=source_config,
            meilisearch=meilisearch_config,
            index=index,
            plan=plan.to_json(),
            number=n,
            resume=slices[n].to_json() if n in slices else None,
        )
        for n in todo
    ]
    outcomes = run_workers(
        works, processes=processes, on_checkpoint=on_checkpoint, on_progress=progress
    )
    for outcome in outcomes:
        if outcome.finished is not None:
            slices[outcome.number] = FullSyncCheckpoint.from_json(outcome.finished)
    failures = [outcome for outcome in outcomes if outcome.error is not None]
    if failures:
        raise SlicesFailedError(
            f"index {index.name!r}: {len(failures)} of {plan.slices} key-range slices failed "
            f"({'; '.join(f'slice {f.number}: {f.error}' for f in failures)}); the live index "
            "was not changed, and the next full sync reads only the slices not finished"
        )
    return complete_slices(source, client, plan, slices)


class ProgressSum:
    """The rows read by every slice, from each slice's own running count."""

    def __init__(self, callback: ProgressCallback | None, done: dict[int, int]) -> None:
        self.callback = callback
        self.rows = dict(done)

    def __call__(self, number: int, rows: int) -> None:
        self.rows[number] = rows
        if self.callback is not None:
            self.callback(sum(self.rows.values()))


def run_workers(
    works: list[SliceWork],
    *,
    processes: int,
    on_checkpoint: Callable[[FullSyncCheckpoint], None],
    on_progress: Callable[[int, int], None],
) -> list[SliceOutcome]:
    """Every slice's outcome, each loaded in one of ``processes`` worker processes."""
    context = multiprocessing.get_context("spawn")
    reports: multiprocessing.Queue[tuple[str, Any]] = context.Queue()

    def read_reports() -> None:
        while True:
            try:
                kind, payload = reports.get_nowait()
            except queue.Empty:
                return
            if kind == "checkpoint":
                on_checkpoint(FullSyncCheckpoint.from_json(payload))
            else:
                on_progress(*payload)

    outcomes: list[SliceOutcome] = []
    with ProcessPoolExecutor(
        max_workers=processes,
        mp_context=context,
        initializer=_start_worker,
        initargs=(reports, os.getpid()),
    ) as pool:
        pending: set[Future[SliceOutcome]] = {pool.submit(load_in_worker, w) for w in works}
        while pending:
            done, pending = wait(
                pending, timeout=REPORT_INTERVAL_SECONDS, return_when=FIRST_COMPLETED
            )
            read_reports()
            outcomes.extend(future.result() for future in done)
    # The workers have exited: whatever they reported is in the queue now.
    read_reports()
    return sorted(outcomes, key=lambda o: o.number)


_reports: multiprocessing.Queue[tuple[str, Any]] | None = None


def _start_worker(reports: multiprocessing.Queue[tuple[str, Any]], parent: int) -> None:
    """In each worker, first: die with ``parent``; send reports to it."""
    global _reports
    die_with(parent)
    _reports = reports


def _report(kind: str, payload: Any) -> None:
    if _reports is not None:
        _reports.put((kind, payload))


def load_in_worker(work: SliceWork) -> SliceOutcome:
    """In a worker process: load one slice, reporting checkpoints and progress."""
    plan = SlicedPlan.from_json(work.plan)
    resume = FullSyncCheckpoint.from_json(work.resume) if work.resume is not None else None
    try:
        with source_engine(work.source) as engine, meili_client(work.meilisearch) as client:
            done = load_slice(
                TableSource(engine, work.index),
                client,
                plan,
                work.number,
                resume=resume,
                on_checkpoint=lambda c: _report("checkpoint", c.to_json()),
                on_progress=lambda rows: _report("progress", (work.number, rows)),
            )
    except OracleMeiliError as e:
        return SliceOutcome(work.number, error=str(e))
    return SliceOutcome(work.number, finished=done.to_json())
