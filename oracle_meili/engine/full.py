"""Full sync: rebuild an index from every live row, with zero downtime and resumable.

    plan (watermark, snapshot, target) ─> pages ─> documents ─> writer ─> checks ─> publish

Plain Python: the runner calls it and records the result. A failed sync leaves the live
index as it was (strategy ``swap``) and never moves the watermark.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass

from oracle_meili.adapters.backend import SearchBackend
from oracle_meili.adapters.keyset import StoredKey
from oracle_meili.adapters.source import TableSource
from oracle_meili.config import IndexConfig
from oracle_meili.engine.build import BuildTarget, RecreateTarget
from oracle_meili.engine.checkpoint import CheckpointCallback, CheckpointTracker, FullSyncCheckpoint
from oracle_meili.engine.completeness import ShortReadError, check_read_complete
from oracle_meili.engine.events import SyncEvent, Tally, drain
from oracle_meili.engine.pipeline import with_checkpoints, write_pages
from oracle_meili.engine.publish import verify_build
from oracle_meili.engine.result import ProgressCallback, SyncResult, finished, now
from oracle_meili.engine.watermark import Watermark, decode_watermark, encode_watermark
from oracle_meili.engine.writer import DocumentWriter
from oracle_meili.errors import MeilisearchTaskError, SnapshotTooOldError, SyncError

log = logging.getLogger(__name__)
# A full sync's first payload: small, so Meilisearch starts indexing almost at once; the
# following payloads double up to max_payload_bytes (measured in bench/full_sync.py).
FIRST_PAYLOAD_BYTES = 8 * 1024 * 1024


def full_sync(
    source: TableSource,
    client: SearchBackend,
    *,
    on_progress: ProgressCallback | None = None,
    resume: FullSyncCheckpoint | None = None,
    on_checkpoint: CheckpointCallback | None = None,
) -> SyncResult:
    """Rebuild the index of ``source`` from every live row.

    Strategy ``swap`` (default): load a new index ``<name>__<suffix>``, check it, then swap
    it with the live index (or rename it when there is none) and delete the old one; the
    live index is untouched if anything fails. Strategy ``recreate``: delete the live index
    and load it again (searches see a partial index meanwhile).

    With ``on_checkpoint`` (``swap`` only), a checkpoint is reported after every payload
    Meilisearch acknowledged, and a failed sync keeps its build index; passing the last
    checkpoint as ``resume`` continues into that index after the last acknowledged row,
    with the watermark (and SCN) of the interrupted sync. A checkpoint whose build index is
    gone or holds other than the acknowledged rows is ignored; one whose snapshot SCN has
    left the undo (ORA-01555, ORA-08180, ...) could never finish, so its build index is
    dropped and the sync starts afresh with a new SCN.

    Raises:
        SyncError, MeilisearchError, SourceError, DocumentError: nothing live has changed
            (``swap``).
    """
    client.check_health()
    client.prepare_writes()
    # Only a build index kept after a failure can be resumed: strategy swap, checkpoints kept.
    resumable = source.index.full_strategy == "swap" and on_checkpoint is not None
    checkpoints = on_checkpoint if resumable else None
    plan = FullSyncPlan.make(source, client, resume=resume if resumable else None)
    try:
        return load(plan, client, on_progress=on_progress, on_checkpoint=checkpoints)
    except SnapshotTooOldError as e:
        if not plan.target.resumed:
            raise
        log.warning(
            "full sync of %r: the checkpoint's SCN %s can no longer be read (%s); dropping "
            "build index %r and starting afresh with a new SCN",
            source.index.name,
            plan.scn,
            e,
            plan.target.uid,
        )
        plan.target.discard(client)
    fresh = FullSyncPlan.make(source, client, resume=None)
    return load(fresh, client, on_progress=on_progress, on_checkpoint=checkpoints)


@dataclass(frozen=True)
class FullSyncPlan:
    """What a full sync reads and where it writes, fixed before the first row is read."""

    source: TableSource
    # What the pages come from: ``source`` itself, or ``source`` as of ``scn``.
    reader: TableSource
    target: BuildTarget
    # The watermark, captured before reading: rows changed during the read are read again
    # by the next incremental sync rather than missed.
    upper: Watermark | None
    scn: int | None
    # The stored key a resumed read continues after.
    after: StoredKey | None
    # Live rows before the read, for the completeness check of a source with neither a
    # cursor nor a snapshot.
    count_before: int | None

    @classmethod
    def make(
        cls, source: TableSource, client: SearchBackend, *, resume: FullSyncCheckpoint | None
    ) -> FullSyncPlan:
        index = source.index
        checkpoint = usable_checkpoint(client, index, resume)
        if checkpoint is not None:
            upper = decode_watermark(checkpoint.watermark)
            target = BuildTarget(
                index.name, checkpoint.build_index, resumed_rows=checkpoint.rows_acknowledged
            )
        else:
            highest = source.max_cursor()
            upper = highest.value if highest is not None else None
            target = (
                RecreateTarget(index.name, index.name)
                if index.full_strategy == "recreate"
                else BuildTarget.fresh(index.name, started=now())
            )
        scn = checkpoint.scn if checkpoint is not None else None
        if index.consistent_snapshot and scn is None:
            scn = source.current_scn()
        if scn is not None:
            log.info("full sync of %r reads %s as of SCN %d", index.name, index.table, scn)
        reader = source.as_of(scn) if scn is not None else source
        count_before = reader.count_live() if source.cursor_order is None and scn is None else None
        return cls(
            source=source,
            reader=reader,
            target=target,
            upper=upper,
            scn=scn,
            after=checkpoint.key_values() if checkpoint is not None else None,
            count_before=count_before,
        )


def load(
    plan: FullSyncPlan,
    client: SearchBackend,
    *,
    on_progress: ProgressCallback | None,
    on_checkpoint: CheckpointCallback | None,
) -> SyncResult:
    """Load every row of the plan into its target, check the result, and publish it."""
    started, clock = now(), time.monotonic()
    index, target = plan.source.index, plan.target
    shape = plan.source.document_shape()
    watermark = encode_watermark(plan.upper)
    tally = Tally(rows_read=target.resumed_rows, documents_sent=target.resumed_rows)
    log.info("full sync of %r started (%s strategy)", index.name, index.full_strategy)
    try:
        target.prepare(client, index, id_field=shape.id_field)
        events = load_rows(plan.reader, client, target.uid, after=plan.after)
        if on_checkpoint is not None:
            tracker = CheckpointTracker(
                index=index.name,
                build_index=target.uid,
                watermark=watermark,
                scn=plan.scn,
                rows=target.resumed_rows,
            )
            events = with_checkpoints(events, tracker)
        drain(events, tally, on_progress=on_progress, on_checkpoint=on_checkpoint)
        count = complete_build(plan, client, tally)
    except ShortReadError:
        # A build that missed rows cannot be completed by resuming it: start afresh.
        target.discard(client)
        raise
    except BaseException:
        if on_checkpoint is None:
            target.discard(client)
        raise
    result = finished(
        tally,
        index=index.name,
        mode="full",
        started=started,
        clock=clock,
        index_document_count=count,
        watermark=watermark,
        previous_watermark=None,
        strategy=index.full_strategy,
    )
    log.info(
        "full sync of %r finished: %d documents in %.1f s",
        index.name,
        count,
        result.duration_seconds,
    )
    return result


def load_rows(
    reader: TableSource,
    client: SearchBackend,
    uid: str,
    *,
    after: StoredKey | None,
    upto: StoredKey | None = None,
) -> Iterator[SyncEvent]:
    """The events of loading the live rows after ``after`` (up to ``upto``) into ``uid``:
    the page loop of a full sync, or of one of its key-range slices."""
    index = reader.index
    shape = reader.document_shape()
    return write_pages(
        reader.read_all(batch_size=index.batch_size, after=after, upto=upto),
        DocumentWriter(client, uid, id_field=shape.id_field, first_bytes=FIRST_PAYLOAD_BYTES),
        shape,
        on_bad_row=index.on_bad_row,
        max_bytes=client.config.max_payload_bytes,
    )


def complete_build(plan: FullSyncPlan, client: SearchBackend, tally: Tally) -> int:
    """Check a loaded build (every row read, every document held, and the consistency gate
    when asked) and publish it; the documents it holds.

    Raises:
        ShortReadError: the read missed rows.
        SyncError: the build holds other than the documents sent, or failed its check.
    """
    index, target = plan.source.index, plan.target
    check_read_complete(plan, rows_read=tally.rows_read)
    count = client.document_count(target.uid)
    if count != tally.documents_sent:
        raise SyncError(
            f"index {index.name!r}: {tally.documents_sent} documents were sent but the new "
            f"index holds {count} (duplicate ids?); the live index was not changed"
        )
    if index.verify_before_swap and target.uid != index.name:
        verify_build(plan.reader, client=client, build=target.uid)
    tally.task_uids.extend(target.publish(client))
    return count


def usable_checkpoint(
    client: SearchBackend, index: IndexConfig, resume: FullSyncCheckpoint | None
) -> FullSyncCheckpoint | None:
    """``resume``, if its build index still holds exactly the acknowledged rows."""
    if resume is None or resume.index != index.name or resume.slice is not None:
        return None
    if not client.index_exists(resume.build_index):
        return None
    if resume.in_flight_task is not None:
        try:
            client.wait(resume.in_flight_task, resume.build_index)
            resume = resume.acknowledge_in_flight()
        except MeilisearchTaskError:
            pass  # that payload did not land: resume after the last acknowledged one
    if resume.last_key is None:
        return None
    count = client.document_count(resume.build_index)
    if count != resume.rows_acknowledged:
        log.warning(
            "not resuming %r: build index %r holds %d documents, the checkpoint says %d",
            index.name,
            resume.build_index,
            count,
            resume.rows_acknowledged,
        )
        return None
    return resume
