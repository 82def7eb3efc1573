"""The slices of a full sync from the command line, in worker processes: the
:data:`~oracle_meili.engine.full.SliceReader` of ``parallel`` above 1.

Each worker is a fresh interpreter (``spawn``) that opens its own runner session and loads
one slice at a time through it (:meth:`~oracle_meili.engine.runner.Session.load_slice`).
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

from oracle_meili.config import IndexConfig, MeilisearchConfig, SourceConfig
from oracle_meili.engine.checkpoint import CheckpointCallback, FullSyncCheckpoint
from oracle_meili.engine.full import ProgressSum, SliceReader
from oracle_meili.engine.result import ProgressCallback
from oracle_meili.engine.slice_plan import SlicedPlan, unfinished
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


def read_in_workers(
    source: SourceConfig,
    meilisearch: MeilisearchConfig,
    index: IndexConfig,
    *,
    on_progress: ProgressCallback | None = None,
) -> SliceReader:
    """A reader of a plan's slices in at most ``parallel`` worker processes (fewer when
    ``source.max_concurrent_syncs`` is lower).

    The reader raises :class:`SlicesFailedError` when some slices failed (each named with
    its error); the finished ones are kept for the next full sync, and nothing live
    changed.
    """

    def read(
        plan: SlicedPlan,
        done: dict[int, FullSyncCheckpoint],
        on_checkpoint: CheckpointCallback,
    ) -> dict[int, FullSyncCheckpoint]:
        todo = unfinished(plan, done)
        processes = max(1, min(len(todo), source.max_concurrent_syncs or plan.slices))
        log.info(
            "full sync of %r: %d of %d slices to read, %d at a time",
            index.name,
            len(todo),
            plan.slices,
            processes,
        )
        slices = dict(done)
        progress = ProgressSum(on_progress, {n: c.rows_acknowledged for n, c in done.items()})

        def checkpointed(checkpoint: FullSyncCheckpoint) -> None:
            on_checkpoint(checkpoint)
            if checkpoint.slice is not None:
                slices[checkpoint.slice] = checkpoint

        works = [
            SliceWork(
                source=source,
                meilisearch=meilisearch,
                index=index,
                plan=plan.to_json(),
                number=n,
                resume=slices[n].to_json() if n in slices else None,
            )
            for n in todo
        ]
        outcomes = run_workers(
            works, processes=processes, on_checkpoint=checkpointed, on_progress=progress
        )
        for outcome in outcomes:
            if outcome.finished is not None:
                slices[outcome.number] = FullSyncCheckpoint.from_json(outcome.finished)
        raise_failures(index, plan, outcomes)
        return slices

    return read


def raise_failures(index: IndexConfig, plan: SlicedPlan, outcomes: list[SliceOutcome]) -> None:
    """Raise :class:`SlicesFailedError` naming each slice that failed, if any did."""
    failures = [outcome for outcome in outcomes if outcome.error is not None]
    if failures:
        raise SlicesFailedError(
            f"index {index.name!r}: {len(failures)} of {plan.slices} key-range slices "
            f"failed ({'; '.join(f'slice {f.number}: {f.error}' for f in failures)}); "
            "the live index was not changed, and the next full sync reads only the "
            "slices not finished"
        )


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
    """In a worker process: load one slice through a runner session of its own, reporting
    checkpoints and progress."""
    # Imported here: the runner imports this module.
    from oracle_meili.engine.runner import Runner

    plan = SlicedPlan.from_json(work.plan)
    resume = FullSyncCheckpoint.from_json(work.resume) if work.resume is not None else None
    try:
        with Runner(work.source, work.meilisearch).session() as session:
            done = session.load_slice(
                work.index,
                plan,
                work.number,
                resume=resume,
                on_checkpoint=lambda c: _report("checkpoint", c.to_json()),
                on_progress=lambda rows: _report("progress", (work.number, rows)),
            )
    except OracleMeiliError as e:
        return SliceOutcome(work.number, error=str(e))
    return SliceOutcome(work.number, finished=done.to_json())
