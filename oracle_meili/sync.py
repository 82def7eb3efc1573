"""Full and incremental syncs: source rows in, Meilisearch documents out, a SyncResult back.

Plain Python: the Dagster assets and the CLI call these functions and record the result.
A failed sync leaves the live index as it was (full sync with the ``swap`` strategy) and
never moves the watermark: the caller records the new one only from a returned result.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field, replace
from typing import Any, TypeVar

from oracle_meili.checkpoint import (
    CheckpointCallback,
    FullSyncCheckpoint,
    encode_key,
)
from oracle_meili.config import BadRowPolicy, IndexConfig, MeilisearchConfig, SyncMode
from oracle_meili.consistency import check_consistency
from oracle_meili.documents import DocumentShape, document_id, encode_document
from oracle_meili.errors import (
    DocumentError,
    MeilisearchTaskError,
    SnapshotTooOldError,
    SyncError,
)
from oracle_meili.meili import MeiliClient, TaskLog, TaskWindow, ndjson_payloads
from oracle_meili.source import Row, StoredKey, TableSource
from oracle_meili.watermark import Watermark, decode_watermark, encode_watermark, lower_bound

log = logging.getLogger(__name__)
Tag = TypeVar("Tag")

ProgressCallback = Callable[[int], None]
BUILD_SEPARATOR = "__"
# Deletions are sent in batches of this many ids (one task each).
DELETE_BATCH = 10_000
# A full sync's first payload: small, so Meilisearch starts indexing almost at once; the
# following payloads double up to max_payload_bytes (measured in bench/full_sync.py).
FIRST_PAYLOAD_BYTES = 8 * 1024 * 1024


@dataclass(frozen=True)
class SyncResult:
    """What one sync did; recorded as Dagster metadata or in ``sync_state.json``."""

    index: str
    mode: SyncMode
    started_at: dt.datetime
    finished_at: dt.datetime
    rows_read: int
    documents_upserted: int
    documents_deleted: int
    index_document_count: int
    watermark: str | None
    previous_watermark: str | None
    task_uids: tuple[int, ...] = field(default_factory=tuple)
    strategy: str | None = None
    rows_skipped: int = 0
    # The first skipped rows (``on_bad_row: skip``): key, column and reason of each.
    skipped_sample: tuple[dict[str, Any], ...] = field(default_factory=tuple)

    @property
    def duration_seconds(self) -> float:
        return (self.finished_at - self.started_at).total_seconds()

    @property
    def lag_seconds(self) -> float | None:
        """Seconds from the newest source change covered (the watermark) to the sync's end.

        Only for date/time cursors; naive cursor values are taken as UTC, so this is
        meaningful when the source stamps rows in UTC.
        """
        watermark = decode_watermark(self.watermark)
        if not isinstance(watermark, dt.datetime):
            return None
        if watermark.tzinfo is None:
            watermark = watermark.replace(tzinfo=dt.UTC)
        return (self.finished_at - watermark).total_seconds()

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (datetimes as ISO 8601)."""
        data = asdict(self)
        data["started_at"] = self.started_at.isoformat()
        data["finished_at"] = self.finished_at.isoformat()
        data["task_uids"] = list(self.task_uids)
        data["skipped_sample"] = list(self.skipped_sample)
        data["duration_seconds"] = round(self.duration_seconds, 3)
        return data


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
    """Rebuild the index from every live row (see :func:`_full_sync` for the strategies).

    A resumed sync whose snapshot SCN is gone from undo (ORA-01555, ORA-08180, ...) can
    never finish: its build index is dropped and the sync starts afresh with a new SCN,
    saying so; the caller's next checkpoint replaces the dead one.
    """
    run = functools.partial(
        _full_sync,
        index,
        source=source,
        client=client,
        meili=meili,
        on_progress=on_progress,
        on_checkpoint=on_checkpoint,
    )
    try:
        return run(resume=resume)
    except SnapshotTooOldError as e:
        if resume is None or resume.scn is None or not index.consistent_snapshot:
            raise
        log.warning(
            "full sync of %r: the checkpoint's SCN %d can no longer be read (%s); dropping "
            "build index %r and starting afresh with a new SCN",
            index.name,
            resume.scn,
            e,
            resume.build_index,
        )
        _try_delete(client, resume.build_index)
        return run(resume=None)


def _full_sync(
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
    gone or holds other than the acknowledged rows is ignored, and the sync starts afresh.

    Raises:
        SyncError, MeilisearchError, SourceError, DocumentError: nothing live has changed
            (``swap``).
    """
    started = _now()
    clock = time.monotonic()
    client.check_health()
    shape = source.document_shape()
    resumable = index.full_strategy == "swap" and on_checkpoint is not None
    checkpoint = _usable_checkpoint(client, index, resume) if resumable else None
    # The watermark is captured before reading: rows changed during the read are read again
    # by the next incremental sync rather than missed.
    if checkpoint is not None:
        upper = decode_watermark(checkpoint.watermark)
    else:
        highest = source.max_cursor()
        upper = highest.value if highest is not None else None
    scn = checkpoint.scn if checkpoint else None
    if index.consistent_snapshot:
        scn = scn if scn is not None else source.current_scn()
        log.info("full sync of %r reads %s as of SCN %d", index.name, index.table, scn)
        source = source.as_of(scn)
    # Without a cursor or a snapshot, the completeness check compares with counts taken
    # before and after the read.
    count_before = source.count_live() if source.cursor_order is None and scn is None else None
    tasks = TaskLog()
    counter = _Counter(rows=checkpoint.rows_acknowledged if checkpoint else 0)
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
        _delete_stale_builds(client, index.name)
        target = f"{index.name}{BUILD_SEPARATOR}{started:%Y%m%dT%H%M%S}_{uuid.uuid4().hex[:6]}"
    log.info("full sync of %r started (%s strategy)", index.name, index.full_strategy)
    try:
        if checkpoint is None:
            client.create_index(target, primary_key=shape.id_field, settings=index.settings)
        tracker = _AcknowledgedRows(
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
        batches = _progress(
            source.read_all(batch_size=index.batch_size, after=after), counter, on_progress
        )
        documents = _encode(
            shape,
            (list(zip(batch, batch.keys, strict=True)) for batch in batches),
            on_bad_row=index.on_bad_row,
            skipped=skipped,
            max_bytes=meili.max_payload_bytes,
        )
        lines = tracker.watch(documents)
        payloads = ndjson_payloads(
            lines, max_bytes=meili.max_payload_bytes, first_bytes=FIRST_PAYLOAD_BYTES
        )
        try:
            for payload in payloads:
                task_uid = client.add_documents(target, payload.data, primary_key=shape.id_field)
                tracker.sent(task_uid, rows=payload.documents)
                window.add(task_uid)
            window.wait_all()
        except MeilisearchTaskError as e:
            raise _name_the_batch(e, tracker) from e
        _check_read_complete(
            index, source=source, rows_read=counter.rows, upper=upper, count_before=count_before
        )
        count = client.document_count(target)
        if count != tracker.documents_sent:
            raise SyncError(
                f"index {index.name!r}: {tracker.documents_sent} documents were sent but the new "
                f"index holds {count} (duplicate ids?); the live index was not changed"
            )
        if index.verify_before_swap and target != index.name:
            _verify(index, source=source, client=client, build=target)
        if target != index.name:
            _publish(client, live=index.name, build=target, tasks=tasks)
    except ShortReadError:
        # A build that missed rows cannot be completed by resuming it: start afresh.
        if target != index.name:
            _try_delete(client, target)
        raise
    except BaseException:
        if target != index.name and not resumable:
            _try_delete(client, target)
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
    )
    log.info(
        "full sync of %r finished: %d documents in %.1f s",
        index.name,
        count,
        result.duration_seconds,
    )
    return result


def incremental_sync(
    index: IndexConfig,
    *,
    source: TableSource,
    client: MeiliClient,
    meili: MeilisearchConfig,
    watermark: str | None,
    on_progress: ProgressCallback | None = None,
) -> SyncResult:
    """Upsert rows changed since ``watermark`` and delete soft-deleted ones.

    Reads ``watermark - lookback_seconds < cursor <= upper``, where ``upper`` is the highest
    cursor value captured before reading. The returned watermark is ``upper``; the caller
    stores it only after this function returns, i.e. after every task succeeded.
    """
    started = _now()
    clock = time.monotonic()
    if source.cursor_column is None:
        raise SyncError(f"index {index.name!r}: an incremental sync needs `cursor` in the config")
    client.check_health()
    shape = source.document_shape()
    previous = decode_watermark(watermark)
    after = lower_bound(previous, index.lookback_seconds)
    highest = source.max_cursor()
    tasks = TaskLog()
    if not client.index_exists(index.name):
        client.create_index(index.name, primary_key=shape.id_field, settings=index.settings)

    counter = _Counter()
    skipped = SkippedRows()
    deleted_ids: list[int | str] = []
    upserted = deleted = 0
    window = TaskWindow(client, index.name, limit=meili.max_tasks_in_flight, log=tasks)
    if highest is not None:
        batches = source.read_changed(after=after, upto=highest, batch_size=index.batch_size)

        def live_rows() -> Iterator[list[tuple[Row, None]]]:
            for batch in _progress(batches, counter, on_progress):
                live: list[tuple[Row, None]] = []
                for row in batch:
                    if source.is_deleted(row):
                        deleted_ids.append(document_id(shape, row))
                    else:
                        live.append((row, None))
                yield live

        encoded = _encode(
            shape,
            live_rows(),
            on_bad_row=index.on_bad_row,
            skipped=skipped,
            max_bytes=meili.max_payload_bytes,
        )
        lines = (line for _, line in encoded)
        for payload in ndjson_payloads(lines, max_bytes=meili.max_payload_bytes):
            window.add(client.add_documents(index.name, payload.data, primary_key=shape.id_field))
        upserted = counter.rows - len(deleted_ids) - skipped.count
        for start in range(0, len(deleted_ids), DELETE_BATCH):
            window.add(
                client.delete_documents(index.name, deleted_ids[start : start + DELETE_BATCH])
            )
        deleted = len(deleted_ids)
        window.wait_all()

    # The watermark never moves back (an empty source, or rows deleted at the top).
    upper = highest.value if highest is not None else None
    caught_up = upper is None or (previous is not None and previous >= upper)
    new_watermark = previous if caught_up else upper
    result = SyncResult(
        index=index.name,
        mode="incremental",
        started_at=started,
        finished_at=started + dt.timedelta(seconds=time.monotonic() - clock),
        rows_read=counter.rows,
        documents_upserted=upserted,
        documents_deleted=deleted,
        index_document_count=client.document_count(index.name),
        watermark=encode_watermark(new_watermark),
        previous_watermark=watermark,
        task_uids=tuple(tasks.uids),
        rows_skipped=skipped.count,
        skipped_sample=tuple(skipped.sample),
    )
    log.info(
        "incremental sync of %r finished: %d read, %d upserted, %d deleted in %.1f s",
        index.name,
        result.rows_read,
        upserted,
        deleted,
        result.duration_seconds,
    )
    return result


@dataclass
class _Counter:
    rows: int = 0


class _AcknowledgedRows:
    """Follows which rows each payload carried, and reports a checkpoint as tasks succeed."""

    def __init__(
        self,
        *,
        index: str,
        build_index: str,
        watermark: str | None,
        scn: int | None,
        rows: int,
        report: CheckpointCallback | None,
    ) -> None:
        self._checkpoint = FullSyncCheckpoint(
            index=index,
            build_index=build_index,
            rows_acknowledged=rows,
            last_key=None,
            watermark=watermark,
            scn=scn,
        )
        self._report = report
        self._rows_sent = rows
        # The serializer runs at most one row ahead of the payloads: keep the last two keys.
        self._recent: list[tuple[int, tuple[Any, ...]]] = []
        self._produced = rows
        self._by_task: dict[int, tuple[int, tuple[Any, ...]]] = {}
        # For failure records: each payload's number and key range, by task uid.
        self._payloads = 0
        self._next_first_key: tuple[Any, ...] | None = None
        self.batches: dict[int, Batch] = {}

    @property
    def documents_sent(self) -> int:
        """Documents in the build index once every payload sent so far is indexed."""
        return self._rows_sent

    def watch(self, documents: Iterator[tuple[StoredKey, bytes]]) -> Iterator[bytes]:
        for key, line in documents:
            self._produced += 1
            self._recent = [*self._recent[-1:], (self._produced, key)]
            if self._produced == self._rows_sent + 1:
                self._next_first_key = key
            yield line

    def sent(self, task_uid: int, *, rows: int) -> None:
        self._rows_sent += rows
        for number, key in self._recent:
            if number == self._rows_sent:
                self._by_task[task_uid] = (number, key)
                break
        else:
            raise AssertionError("payload boundary not among the last keys read")
        self._payloads += 1
        self.batches[task_uid] = Batch(
            number=self._payloads,
            task_uid=task_uid,
            documents=rows,
            first_key=self._next_first_key or key,
            last_key=key,
        )
        self._next_first_key = next((k for n, k in self._recent if n == self._rows_sent + 1), None)
        self._checkpoint = replace(
            self._checkpoint,
            in_flight_task=task_uid,
            in_flight_rows=number,
            in_flight_last_key=encode_key(key),
        )
        self._publish()

    def done(self, task_uid: int) -> None:
        rows, key = self._by_task.pop(task_uid)
        acknowledged = replace(self._checkpoint, rows_acknowledged=rows, last_key=encode_key(key))
        if acknowledged.in_flight_task == task_uid:
            acknowledged = acknowledged.acknowledge_in_flight()
        self._checkpoint = acknowledged
        self._publish()

    def _publish(self) -> None:
        if self._report is not None:
            self._report(self._checkpoint)


@dataclass(frozen=True)
class Batch:
    """One payload sent as one task: what a failure record names."""

    number: int
    task_uid: int
    documents: int
    first_key: tuple[Any, ...]
    last_key: tuple[Any, ...]

    def describe(self) -> str:
        first = self.first_key[0] if len(self.first_key) == 1 else self.first_key
        last = self.last_key[0] if len(self.last_key) == 1 else self.last_key
        return f"batch {self.number} ({self.documents} documents, keys {first!r} to {last!r})"


class ShortReadError(SyncError):
    """A full read came back with fewer rows than the source holds."""


def _check_read_complete(
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


def _name_the_batch(
    error: MeilisearchTaskError, tracker: _AcknowledgedRows
) -> MeilisearchTaskError:
    """A failed document task, naming the batch it carried (seed TEST-093)."""
    batch = tracker.batches.get(error.task_uid)
    if batch is None:
        return error
    return MeilisearchTaskError(
        index=error.index,
        task_uid=error.task_uid,
        status=error.status,
        code=error.code,
        message=error.message,
        batch=batch.describe(),
    )


def _usable_checkpoint(
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


Rows = TypeVar("Rows", bound=list[Row])


def _progress(
    batches: Iterator[Rows], counter: _Counter, on_progress: ProgressCallback | None
) -> Iterator[Rows]:
    for batch in batches:
        counter.rows += len(batch)
        yield batch
        if on_progress is not None:
            on_progress(counter.rows)


class SkippedRows:
    """Rows left out under ``on_bad_row: skip``: how many, and the first few in detail."""

    SAMPLE = 100

    def __init__(self) -> None:
        self.count = 0
        self.sample: list[dict[str, Any]] = []

    def add(self, error: DocumentError) -> None:
        self.count += 1
        if len(self.sample) < self.SAMPLE:
            key = error.key if isinstance(error.key, int | str) else repr(error.key)
            self.sample.append({"key": key, "column": error.column, "error": str(error)})
        log.warning("skipping a row (on_bad_row: skip): %s", error)


def _encode(
    shape: DocumentShape,
    batches: Iterator[list[tuple[Row, Tag]]],
    *,
    on_bad_row: BadRowPolicy,
    skipped: SkippedRows,
    max_bytes: int,
) -> Iterator[tuple[Tag, bytes]]:
    """Each row's tag (its stored key, in a full sync) with the row's NDJSON line; a bad row
    fails the sync or is skipped and counted."""
    for batch in batches:
        for row, tag in batch:
            try:
                line = encode_document(shape, row)
                if len(line) > max_bytes:
                    raise DocumentError(
                        f"the document is {len(line):,} bytes, over the payload limit of "
                        f"{max_bytes:,} (meilisearch.max_payload_bytes)",
                        index=shape.index,
                        key=document_id(shape, row),
                        column=_largest_field(shape, row),
                    )
            except DocumentError as e:
                if on_bad_row == "fail":
                    raise
                skipped.add(e)
                continue
            yield tag, line


def _largest_field(shape: DocumentShape, row: Row) -> str:
    sizes = [len(str(value)) for value in row]
    return shape.fields[sizes.index(max(sizes))]


def _verify(index: IndexConfig, *, source: TableSource, client: MeiliClient, build: str) -> None:
    """The consistency checks as a gate: a failing one leaves the old index live.

    NOTE: rows changed while the full sync ran count as mismatches; on a busy table use it
    with ``consistent_snapshot`` (Oracle), which compares against the same SCN.
    """
    report = check_consistency(index, source=source, client=client, uid=build)
    if not report.consistent:
        raise SyncError(
            f"index {index.name!r}: the new index failed its consistency check "
            f"({report.consistent_percent:.2f} % consistent, {report.mismatched} mismatched, "
            f"{report.orphans} orphans, {report.missing} missing; mismatching ids "
            f"{list(report.mismatch_sample)}); the live index was not changed"
        )
    log.info("index %r: the new index passed its consistency check", index.name)


def _publish(client: MeiliClient, *, live: str, build: str, tasks: TaskLog) -> None:
    """Make ``build`` the live index: swap and drop the old one, or rename if none is live."""
    if client.index_exists(live):
        tasks.uids.append(client.swap(live, build))
        # After the swap, ``build`` holds the previous live documents.
        _try_delete(client, build)
    else:
        tasks.uids.append(client.rename(build, live))


def _delete_stale_builds(client: MeiliClient, name: str) -> None:
    # Build indexes left by a sync that was killed; only one sync per index runs at a time
    # (a Dagster pool per index), so any that exist now are orphans.
    for uid in client.index_uids(prefix=name + BUILD_SEPARATOR):
        log.warning("deleting build index %r left by an interrupted full sync", uid)
        client.delete_index(uid)


def _try_delete(client: MeiliClient, uid: str) -> None:
    try:
        client.delete_index(uid)
    except Exception as e:  # the original error matters more; this one is only reported
        log.warning("could not delete build index %r: %s", uid, e)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)
