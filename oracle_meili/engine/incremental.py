"""Incremental sync: upsert the rows changed since the watermark, delete soft-deleted ones."""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Iterator

from oracle_meili.adapters.keyset import Row
from oracle_meili.adapters.meili import MeiliClient
from oracle_meili.adapters.payloads import TaskLog, TaskWindow, ndjson_payloads
from oracle_meili.adapters.source import TableSource
from oracle_meili.config import IndexConfig, MeilisearchConfig
from oracle_meili.documents import document_id
from oracle_meili.engine.pipeline import Counter, SkippedRows, counted, encode_rows
from oracle_meili.engine.result import ProgressCallback, SyncResult, now
from oracle_meili.engine.watermark import decode_watermark, encode_watermark, lower_bound
from oracle_meili.errors import SyncError

log = logging.getLogger(__name__)
# Deletions are sent in batches of this many ids (one task each).
DELETE_BATCH = 10_000


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
    started = now()
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

    counter = Counter()
    skipped = SkippedRows()
    deleted_ids: list[int | str] = []
    upserted = deleted = 0
    window = TaskWindow(client, index.name, limit=meili.max_tasks_in_flight, log=tasks)
    if highest is not None:
        batches = source.read_changed(after=after, upto=highest, batch_size=index.batch_size)

        def live_rows() -> Iterator[list[tuple[Row, None]]]:
            for batch in counted(batches, counter, on_progress):
                live: list[tuple[Row, None]] = []
                for row in batch:
                    if source.is_deleted(row):
                        deleted_ids.append(document_id(shape, row))
                    else:
                        live.append((row, None))
                yield live

        encoded = encode_rows(
            shape,
            live_rows(),
            on_bad_row=index.on_bad_row,
            skipped=skipped,
            max_bytes=meili.max_payload_bytes,
        )
        for payload in ndjson_payloads(encoded, max_bytes=meili.max_payload_bytes):
            window.add(client.add_documents(index.name, payload.data, primary_key=shape.id_field))
        upserted = counter.rows - len(deleted_ids) - skipped.count
        for start in range(0, len(deleted_ids), DELETE_BATCH):
            window.add(
                client.delete_documents(index.name, deleted_ids[start : start + DELETE_BATCH])
            )
        window.wait_all()
        # What Meilisearch deleted, not what was asked: a soft-deleted row that was never
        # indexed (a first incremental into a new index) deletes nothing.
        deleted = tasks.deleted

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
