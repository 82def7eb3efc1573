"""Incremental sync: upsert the rows changed since the watermark, delete soft-deleted ones."""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Iterator
from typing import Any

from oracle_meili.adapters.backend import SearchBackend
from oracle_meili.adapters.keyset import Batch
from oracle_meili.adapters.markers import CursorMax
from oracle_meili.adapters.source import TableSource
from oracle_meili.engine.events import SyncEvent, Tally, drain
from oracle_meili.engine.freshness import LastSync
from oracle_meili.engine.freshness import late_commits_until as deadline_after
from oracle_meili.engine.pipeline import write_pages
from oracle_meili.engine.result import Clock, ProgressCallback, SyncResult, finished, now
from oracle_meili.engine.watermark import decode_watermark, encode_watermark, lower_bound
from oracle_meili.engine.writer import DocumentWriter
from oracle_meili.errors import SyncError

log = logging.getLogger(__name__)


class ReReadRows:
    """Counts the rows read again: those at or below the previous watermark, which the
    look-back window re-reads (in case a late commit slipped below it), as opposed to rows
    changed since. Both come from the cursor column, so they compare as one type."""

    def __init__(self, source: TableSource, previous: Any) -> None:
        assert source.cursor_column is not None
        self.position = source.columns.index(source.cursor_column.name)
        self.previous = previous
        self.rows = 0

    def counted(self, pages: Iterator[Batch]) -> Iterator[Batch]:
        for batch in pages:
            if self.previous is not None:
                self.rows += sum(
                    1
                    for row in batch
                    if row[self.position] is not None and row[self.position] <= self.previous
                )
            yield batch


def incremental_sync(
    source: TableSource,
    client: SearchBackend,
    *,
    watermark: str | None,
    late_commits_until: dt.datetime | None = None,
    on_progress: ProgressCallback | None = None,
    clock: Clock = now,
) -> SyncResult:
    """Upsert rows changed since ``watermark`` and delete soft-deleted ones: reads
    ``watermark - lookback_seconds < cursor <= upper``, ``upper`` the highest cursor value
    captured before reading, and returns ``upper`` as the watermark, which the caller stores
    only once every task succeeded. ``late_commits_until`` is the previous sync's deadline
    for late commits; the result carries this sync's (:mod:`~oracle_meili.engine.freshness`),
    measured on ``clock``."""
    started, elapsed, index = clock(), time.monotonic(), source.index
    if source.cursor_column is None:
        raise SyncError(f"index {index.name!r}: an incremental sync needs `cursor` in the config")
    client.check_health()
    client.prepare_writes()
    shape = source.document_shape()
    previous = decode_watermark(watermark)
    highest = source.max_cursor()
    upper_read_at = clock()
    if not client.index_exists(index.name):
        settings = index.meilisearch_settings
        client.create_index(index.name, primary_key=shape.id_field, settings=settings)
    tally = Tally()
    reread = ReReadRows(source, previous)
    if highest is not None:
        drain(
            changed_rows_written(source, client, previous, highest, reread),
            tally,
            on_progress=on_progress,
        )
    recorded = encode_watermark(next_watermark(previous, highest))
    result = finished(
        tally,
        index=index.name,
        mode="incremental",
        started=started,
        clock=elapsed,
        index_document_count=client.document_count(index.name),
        watermark=recorded,
        previous_watermark=watermark,
        late_commits_until=deadline_after(
            lookback_seconds=index.lookback_seconds,
            previous=LastSync(watermark, late_commits_until),
            watermark=recorded,
            started=started,
            upper_read_at=upper_read_at,
        ),
        rows_reread=reread.rows,
    )
    log.info(
        "incremental sync of %r finished: %d read, %d upserted, %d deleted in %.1f s",
        *(index.name, result.rows_read, result.documents_upserted, result.documents_deleted),
        result.duration_seconds,
    )
    return result


def next_watermark(previous: Any, highest: CursorMax | None) -> Any:
    """The watermark after a sync that read up to ``highest``: it never moves back (an
    empty source, or rows deleted at the top)."""
    upper = highest.value if highest is not None else None
    caught_up = upper is None or (previous is not None and previous >= upper)
    return previous if caught_up else upper


def changed_rows_written(
    source: TableSource,
    client: SearchBackend,
    previous: Any,
    highest: CursorMax,
    reread: ReReadRows,
) -> Iterator[SyncEvent]:
    """The events of writing the rows changed after ``previous`` (less the look-back) up to
    ``highest``: live rows upserted, soft-deleted ones deleted."""
    index = source.index
    shape = source.document_shape()
    pages = reread.counted(
        source.read_changed(
            after=lower_bound(previous, index.lookback_seconds),
            upto=highest,
            batch_size=index.batch_size,
        )
    )
    return write_pages(
        pages,
        DocumentWriter(client, index.name, id_field=shape.id_field),
        shape,
        on_bad_row=index.on_bad_row,
        max_bytes=client.config.max_payload_bytes,
        is_deleted=source.is_deleted,
        delete_dropped=True,
    )
