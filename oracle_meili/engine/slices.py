"""The three steps of every full sync (:mod:`oracle_meili.engine.full`): a plan, its
key-range slices (one for ``parallel: 1``), each loaded on its own, and the publish.

    plan (watermark, SCN, key ranges, build index)
      ─> slice 0 … slice N-1 (each: pages ─> documents ─> writer, its own checkpoints)
      ─> complete (every slice finished, every row read, counts) ─> publish

The three parts run wherever the caller puts them, always through the runner's session:
in this process (``full_sync``), the CLI's worker processes
(:mod:`oracle_meili.engine.workers`), or Dagster, which runs each slice as a step of its
own (:mod:`oracle_meili.defs.sliced`). Everything one part hands to the next is JSON in the
state store (the plan, each slice's checkpoints), never a local file, so a slice can run on
another machine. All slices write into one build index, which is published once: the live
index is untouched until then.

A slice that fails is run again alone: it resumes after its own last acknowledged payload,
and the finished slices are not read again.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Mapping
from dataclasses import replace

from oracle_meili.adapters.backend import SearchBackend, TaskRef
from oracle_meili.adapters.key_ranges import key_ranges
from oracle_meili.adapters.source import TableSource
from oracle_meili.engine.build import BuildTarget, RecreateTarget
from oracle_meili.engine.checkpoint import (
    CheckpointCallback,
    CheckpointTracker,
    FullSyncCheckpoint,
    encode_key,
)
from oracle_meili.engine.events import SKIPPED_SAMPLE, Tally, drain
from oracle_meili.engine.full import load_rows
from oracle_meili.engine.pipeline import with_checkpoints
from oracle_meili.engine.publish import complete_build
from oracle_meili.engine.result import ProgressCallback, SyncResult, finished, now
from oracle_meili.engine.resume import resumable, slice_checkpoint
from oracle_meili.engine.slice_plan import PlanStore, SlicedPlan, unfinished
from oracle_meili.engine.watermark import encode_watermark
from oracle_meili.errors import SnapshotTooOldError, SyncError

log = logging.getLogger(__name__)


def begin_slices(
    source: TableSource,
    client: SearchBackend,
    state: PlanStore,
    *,
    saved_plan: SlicedPlan | None,
    owner: str | None = None,
) -> tuple[SlicedPlan, dict[int, FullSyncCheckpoint]]:
    """Plan (or resume ``saved_plan``, the plan in ``state``), keep the plan in ``state`` for the
    slices, and return it with the checkpoints its slices already have."""
    plan = plan_slices(source, client, resume=saved_plan, owner=owner)
    state.save_plan(plan)
    return plan, state.slice_checkpoints(plan.index, plan.build_index)


def plan_slices(
    source: TableSource,
    client: SearchBackend,
    *,
    resume: SlicedPlan | None,
    owner: str | None = None,
) -> SlicedPlan:
    """The plan of a sliced full sync: ``resume`` if its build index is still there (its
    finished slices are then kept), else a new one with its build index created.

    A new plan takes the watermark (and SCN) before it reads, so that rows changed during
    the read are read again by the next incremental sync rather than missed, and cuts the
    live rows into ``index.parallel`` ranges of nearly equal size (one range for 1)."""
    index = source.index
    client.check_health()
    client.prepare_writes()
    if resume is not None and resumable(resume, source, client):
        log.info(
            "full sync of %r resumes the plan of %d slices into %r",
            index.name,
            resume.slices,
            resume.build_index,
        )
        return replace(resume, owner=owner)
    started = now()
    highest = source.max_cursor()
    target = (
        RecreateTarget(index.name, index.name)
        if index.full_strategy == "recreate"
        else BuildTarget.fresh(index.name, started=started)
    )
    scn = source.current_scn() if index.consistent_snapshot else None
    reader = source.as_of(scn) if scn is not None else source
    count_before = reader.count_live() if source.cursor_order is None and scn is None else None
    ranges = key_ranges(reader, index.parallel)
    try:
        target.prepare(client, index, id_field=source.document_shape().id_field)
    except BaseException:
        target.discard(client)  # created, but its settings refused: nothing to resume
        raise
    plan = SlicedPlan(
        index=index.name,
        build_index=target.uid,
        parallel=index.parallel,
        bounds=tuple(encode_key(r.upto) for r in ranges if r.upto is not None),
        watermark=encode_watermark(highest.value if highest is not None else None),
        scn=scn,
        count_before=count_before,
        started=started.isoformat(),
        owner=owner,
    )
    log.info("full sync of %r: %d key-range slices into %r", index.name, plan.slices, target.uid)
    return plan


def load_slice(
    source: TableSource,
    client: SearchBackend,
    plan: SlicedPlan,
    number: int,
    *,
    resume: FullSyncCheckpoint | None = None,
    on_checkpoint: CheckpointCallback | None = None,
    on_progress: ProgressCallback | None = None,
    task_uids: list[TaskRef] | None = None,
) -> FullSyncCheckpoint:
    """Read slice ``number`` of ``plan`` into its build index; its finished checkpoint.

    ``resume``, this slice's latest checkpoint: a finished slice is not read again, and an
    unfinished one continues after its last acknowledged payload. ``task_uids`` collects
    the tasks of its payloads.

    Raises:
        SyncError: the build index is gone (the plan is void: start the full sync again).
        SnapshotTooOldError: the plan's SCN is gone from undo; the build index is dropped,
            so the next full sync starts afresh with a new SCN.
    """
    index = source.index
    checkpoint = slice_checkpoint(client, plan, number, resume)
    if checkpoint is not None and checkpoint.finished:
        log.info("full sync of %r: slice %d finished already", index.name, number)
        return checkpoint
    tally, last = read_slice(source, client, plan, number, checkpoint, on_checkpoint, on_progress)
    if task_uids is not None:
        task_uids.extend(tally.task_uids)
    done = replace(
        last,
        rows_acknowledged=tally.documents_sent,
        rows_read=tally.rows_read,
        rows_skipped=(checkpoint.rows_skipped if checkpoint is not None else 0)
        + tally.rows_skipped,
        skipped_sample=tuple(tally.skipped_sample),
        in_flight_task=None,
        in_flight_rows=None,
        in_flight_last_key=None,
    )
    if on_checkpoint is not None:
        on_checkpoint(done)
    log.info(
        "full sync of %r: slice %d of %d read %d rows",
        index.name,
        number,
        plan.slices,
        tally.rows_read,
    )
    return done


def read_slice(
    source: TableSource,
    client: SearchBackend,
    plan: SlicedPlan,
    number: int,
    checkpoint: FullSyncCheckpoint | None,
    on_checkpoint: CheckpointCallback | None,
    on_progress: ProgressCallback | None,
) -> tuple[Tally, FullSyncCheckpoint]:
    """Load the rows of slice ``number`` after ``checkpoint`` (from its start without one):
    what it read and sent, counted from the checkpoint's rows on, and its last checkpoint."""
    key_range = plan.key_range(number)
    rows = checkpoint.rows_acknowledged if checkpoint is not None else 0
    start = checkpoint.key_values() if checkpoint is not None else None
    tracker = CheckpointTracker(
        index=source.index.name,
        build_index=plan.build_index,
        watermark=plan.watermark,
        scn=plan.scn,
        rows=rows,
        slice=number,
    )
    tally = Tally(rows_read=rows, documents_sent=rows)
    events = load_rows(
        plan.reader(source),
        client,
        plan.build_index,
        after=start if start is not None else key_range.after,
        upto=key_range.upto,
    )
    try:
        drain(
            with_checkpoints(events, tracker),
            tally,
            on_progress=on_progress,
            on_checkpoint=on_checkpoint,
        )
    except SnapshotTooOldError:
        plan.target().discard(client)
        raise
    return tally, tracker.checkpoint


def complete_slices(
    source: TableSource,
    client: SearchBackend,
    plan: SlicedPlan,
    slices: Mapping[int, FullSyncCheckpoint],
    *,
    task_uids: list[TaskRef] | None = None,
) -> SyncResult:
    """Check that every slice finished and the build holds every row, then publish it
    (``task_uids``: the payloads' tasks, when the slices were read here).

    A build that fails these checks cannot be mended by resuming it, so it is dropped: the
    next full sync starts afresh.

    Raises:
        SyncError, ShortReadError: the live index was not changed.
    """
    index = source.index
    left = unfinished(plan, slices)
    if left:
        raise SyncError(
            f"index {index.name!r}: slice(s) {', '.join(map(str, left))} of "
            f"{plan.slices} have not finished; the live index was not changed"
        )
    tally = Tally(task_uids=list(task_uids or []))
    for _, checkpoint in sorted(slices.items()):
        tally.rows_read += checkpoint.rows_read or 0
        tally.documents_sent += checkpoint.rows_acknowledged
        tally.rows_skipped += checkpoint.rows_skipped
        room = SKIPPED_SAMPLE - len(tally.skipped_sample)
        tally.skipped_sample.extend(checkpoint.skipped_sample[:room])
    started = dt.datetime.fromisoformat(plan.started)
    try:
        count = complete_build(source, client, plan, tally)
    except SyncError:
        plan.target().discard(client)
        raise
    return finished(
        tally,
        index=index.name,
        mode="full",
        started=started,
        # The slices may have run elsewhere: the duration is the plan's age.
        clock=time.monotonic() - (now() - started).total_seconds(),
        index_document_count=count,
        watermark=plan.watermark,
        previous_watermark=None,
        strategy=index.full_strategy,
    )
