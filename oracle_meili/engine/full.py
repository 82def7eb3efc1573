"""Full sync: rebuild an index from every live row, with zero downtime and resumable.

Plain Python: the runner calls it and records the result. A failed sync leaves the live
index as it was (strategy ``swap``) and never moves the watermark.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
import uuid

from oracle_meili.adapters.meili import MeiliClient
from oracle_meili.adapters.payloads import TaskLog, TaskWindow, ndjson_payloads
from oracle_meili.adapters.source import TableSource
from oracle_meili.config import IndexConfig, MeilisearchConfig
from oracle_meili.engine.checkpoint import AcknowledgedRows, CheckpointCallback, FullSyncCheckpoint
from oracle_meili.engine.pipeline import Counter, SkippedRows
from oracle_meili.engine.publish import (
    BUILD_SEPARATOR,
    delete_stale_builds,
    publish,
    try_delete,
    verify_build,
)
from oracle_meili.engine.read_path import full_sync_lines
from oracle_meili.engine.result import ProgressCallback, SyncResult, now
from oracle_meili.engine.watermark import Watermark, decode_watermark, encode_watermark, lower_bound
from oracle_meili.errors import MeilisearchTaskError, SnapshotTooOldError, SyncError

log = logging.getLogger(__name__)
# A full sync's first payload: small, so Meilisearch starts indexing almost at once; the
# following payloads double up to max_payload_bytes (measured in bench/full_sync.py).
FIRST_PAYLOAD_BYTES = 8 * 1024 * 1024


def full_sync(
    index: IndexConfig,
    *,
    source: TableSource,
    client: MeiliClient,
    meili: MeilisearchConfig,
    on_progress: ProgressCallback | None = None,
    resume: FullSyncCheckpoint | None = None,
    on_checkpoint: CheckpointCallback | None = None,
) -> SyncResult:
    """Rebuild the index from every live row.

    Strategy ``swap`` (default): load a new index ``<name>__<suffix>``, check its document
    count, then swap it with the live index (or rename it when there is none) and delete the
    old one; the live index is untouched if anything fails. Strategy ``recreate``: delete the
    live index and load it again (searches see a partial index meanwhile).

    With ``on_checkpoint`` (``swap`` only), a checkpoint is reported after every payload
    Meilisearch acknowledged, and a failed sync keeps its build index; passing the last
    checkpoint as ``resume`` continues into that index after the last acknowledged row,
    with the watermark (and SCN) of the interrupted sync. A checkpoint whose build index is
    gone or holds other than the acknowledged rows is ignored, and the sync starts afresh;
    so is one whose snapshot SCN is gone from undo (ORA-01555, ORA-08180, ...), which could
    never finish: its build index is dropped and the sync starts again with a new SCN.

    Raises:
        SyncError, MeilisearchError, SourceError, DocumentError: nothing live has changed
            (``swap``).
    """
    started = now()
    clock = time.monotonic()
    client.check_health()
    shape = source.document_shape()
    resumable = index.full_strategy == "swap" and on_checkpoint is not None
    checkpoint = usable_checkpoint(client, index, resume) if resumable else None
    # The watermark is captured before reading: rows changed during the read are read again
    # by the next incremental sync rather than missed.
    if checkpoint is not None:
        upper = decode_watermark(checkpoint.watermark)
    else:
        highest = source.max_cursor()
        upper = highest.value if highest is not None else None
    table = source
    scn = checkpoint.scn if checkpoint else None
    if index.consistent_snapshot:
        scn = scn if scn is not None else source.current_scn()
        log.info("full sync of %r reads %s as of SCN %d", index.name, index.table, scn)
        source = source.as_of(scn)  # (`table` keeps the source itself, for a restart)
    # Without a cursor or a snapshot, the completeness check compares with counts taken
    # before and after the read.
    count_before = source.count_live() if source.cursor_order is None and scn is None else None
    tasks = TaskLog()
    counter = Counter(rows=checkpoint.rows_acknowledged if checkpoint else 0)
    skipped = SkippedRows()
    after = checkpoint.key_values() if checkpoint else None

    if checkpoint is not None:
        target = checkpoint.build_index
        log.info(
            "full sync of %r resumes into %r after %d acknowledged rows",
            index.name,
            target,
            checkpoint.rows_acknowledged,
        )
    elif index.full_strategy == "recreate":
        if client.index_exists(index.name):
            client.delete_index(index.name)
        target = index.name
    else:
        delete_stale_builds(client, index.name)
        target = f"{index.name}{BUILD_SEPARATOR}{started:%Y%m%dT%H%M%S}_{uuid.uuid4().hex[:6]}"
    log.info("full sync of %r started (%s strategy)", index.name, index.full_strategy)
    try:
        if checkpoint is None:
            client.create_index(target, primary_key=shape.id_field, settings=index.settings)
        tracker = AcknowledgedRows(
            index=index.name,
            build_index=target,
            watermark=encode_watermark(upper),
            scn=scn,
            rows=counter.rows,
            report=on_checkpoint if resumable else None,
        )
        window = TaskWindow(
            client, target, limit=meili.max_tasks_in_flight, log=tasks, on_done=tracker.done
        )
        read_path, documents = full_sync_lines(
            source,
            shape,
            after=after,
            batch_size=index.batch_size,
            counter=counter,
            on_progress=on_progress,
            on_bad_row=index.on_bad_row,
            skipped=skipped,
            max_bytes=meili.max_payload_bytes,
        )
        payloads = ndjson_payloads(
            documents, max_bytes=meili.max_payload_bytes, first_bytes=FIRST_PAYLOAD_BYTES
        )
        try:
            for payload in payloads:
                task_uid = client.add_documents(target, payload.data, primary_key=shape.id_field)
                tracker.sent(
                    task_uid,
                    documents=payload.documents,
                    first_key=payload.first,
                    last_key=payload.last,
                )
                window.add(task_uid)
            window.wait_all()
        except MeilisearchTaskError as e:
            raise tracker.name_the_batch(e) from e
        check_read_complete(
            index, source=source, rows_read=counter.rows, upper=upper, count_before=count_before
        )
        count = client.document_count(target)
        if count != tracker.documents_sent:
            raise SyncError(
                f"index {index.name!r}: {tracker.documents_sent} documents were sent but the new "
                f"index holds {count} (duplicate ids?); the live index was not changed"
            )
        if index.verify_before_swap and target != index.name:
            verify_build(index, source=source, client=client, build=target)
        if target != index.name:
            publish(client, live=index.name, build=target, tasks=tasks)
    except SnapshotTooOldError as e:
        if checkpoint is None or checkpoint.scn is None:
            raise
        log.warning(
            "full sync of %r: the checkpoint's SCN %d can no longer be read (%s); dropping "
            "build index %r and starting afresh with a new SCN",
            index.name,
            checkpoint.scn,
            e,
            target,
        )
        try_delete(client, target)
        return full_sync(
            index,
            source=table,
            client=client,
            meili=meili,
            on_progress=on_progress,
            on_checkpoint=on_checkpoint,
        )
    except ShortReadError:
        # A build that missed rows cannot be completed by resuming it: start afresh.
        if target != index.name:
            try_delete(client, target)
        raise
    except BaseException:
        if target != index.name and not resumable:
            try_delete(client, target)
        raise
    result = SyncResult(
        index=index.name,
        mode="full",
        strategy=index.full_strategy,
        started_at=started,
        finished_at=started + dt.timedelta(seconds=time.monotonic() - clock),
        rows_read=counter.rows,
        documents_upserted=tracker.documents_sent,
        documents_deleted=0,
        index_document_count=count,
        rows_skipped=skipped.count,
        skipped_sample=tuple(skipped.sample),
        watermark=encode_watermark(upper),
        previous_watermark=None,
        task_uids=tuple(tasks.uids),
        read_path=read_path.describe(),
    )
    log.info(
        "full sync of %r finished: %d documents in %.1f s",
        index.name,
        count,
        result.duration_seconds,
    )
    return result


class ShortReadError(SyncError):
    """A full read came back with fewer rows than the source holds."""


def check_read_complete(
    index: IndexConfig,
    *,
    source: TableSource,
    rows_read: int,
    upper: Watermark | None,
    count_before: int | None,
) -> None:
    """Cross-check the rows a full read returned against the source's own count.

    - Under a consistent snapshot (``source`` reads as of an SCN): exactly.
    - With a cursor: at least the live rows whose cursor is at most the watermark captured
      before reading, less the look-back. Those rows were committed before the read began
      and not changed since, so the read must have returned each of them. Rows written
      during the read cannot raise a false alarm (the look-back's own promise: a change is
      committed within ``lookback_seconds`` of its cursor value).
    - Otherwise: exactly, when the counts before and after the read agree; when they differ,
      writers were active and no exact bound exists, which is logged.

    Raises:
        ShortReadError: rows were missed; the live index is left as it was.
    """
    if source.scn is not None:
        expected = source.count_live()
        short = rows_read != expected
    elif source.cursor_order is not None:
        if upper is None:
            return
        expected = source.count_live(cursor_at_most=lower_bound(upper, index.lookback_seconds))
        short = rows_read < expected
    else:
        expected = source.count_live()
        if count_before != expected:
            log.warning(
                "full sync of %r: the source changed during the read (%s live rows before, "
                "%d after); the read's completeness could not be checked exactly",
                index.name,
                count_before,
                expected,
            )
            return
        short = rows_read != expected
    if short:
        raise ShortReadError(
            f"index {index.name!r}: the full read returned {rows_read} rows but "
            f"{index.source_label} holds {expected} that it must have returned; "
            "the live index was not changed"
        )


def usable_checkpoint(
    client: MeiliClient, index: IndexConfig, resume: FullSyncCheckpoint | None
) -> FullSyncCheckpoint | None:
    """``resume``, if its build index still holds exactly the acknowledged rows."""
    if resume is None or resume.index != index.name:
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
