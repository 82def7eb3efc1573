"""A sync's pipeline: keyset pages in, events out.

    source pages ─> encode (bad rows: fail or skip) ─> DocumentWriter ─> events

Every mode reads through the source's one keyset page loop
(:func:`~oracle_meili.adapters.keyset.keyset_batches`): a full sync all live rows in key
order, an incremental sync the changed rows in (cursor, key) order. :func:`write_pages`
turns each page into documents and hands them to the writer; a soft-deleted row (an
incremental read) becomes a deletion instead. Deletions are sent in batches as the pages
go by, so memory stays bounded by one page and one payload.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from oracle_meili.adapters.keyset import Batch, Row
from oracle_meili.config import BadRowPolicy
from oracle_meili.documents import DocumentId, DocumentShape, document_id, encode_document
from oracle_meili.engine.checkpoint import CheckpointTracker
from oracle_meili.engine.events import (
    Checkpointed,
    PageRead,
    PayloadSent,
    RowSkipped,
    SyncEvent,
    TaskSucceeded,
)
from oracle_meili.engine.writer import DocumentWriter
from oracle_meili.errors import DocumentError

# Deletions are sent in batches of this many ids (one task each).
DELETE_BATCH = 10_000


def write_pages(
    pages: Iterator[Batch],
    writer: DocumentWriter,
    shape: DocumentShape,
    *,
    on_bad_row: BadRowPolicy,
    max_bytes: int,
    is_deleted: Callable[[Row], bool] | None = None,
    delete_dropped: bool = False,
) -> Iterator[SyncEvent]:
    """Every page's rows as documents (or deletions) through ``writer``, one row at a time
    (a page's lines are never all held at once); then its tasks' end. ``is_deleted`` picks
    the rows whose documents are deleted instead; ``delete_dropped`` deletes the documents
    of rows the index's transform keeps out (an incremental sync: they may be in the index
    from before), where a full sync just leaves them out."""
    deletions: list[DocumentId] = []
    for page in pages:
        yield PageRead(len(page))
        for row, key in zip(page, page.keys, strict=True):
            line: bytes | None = None
            if is_deleted is None or not is_deleted(row):
                try:
                    line = encode_line(shape, row, max_bytes=max_bytes)
                except DocumentError as e:
                    if on_bad_row == "fail":
                        raise
                    yield RowSkipped(e)
                    continue
                if line is None and not delete_dropped:
                    continue
            if line is None:
                deletions.append(document_id(shape, row))
                if len(deletions) >= DELETE_BATCH:
                    yield from writer.delete(deletions)
                    deletions = []
                continue
            events = writer.add(key, line)
            if events:
                yield from events
    if deletions:
        yield from writer.delete(deletions)
    yield from writer.finish()


def encode_line(shape: DocumentShape, row: Row, *, max_bytes: int) -> bytes | None:
    """One row's NDJSON line (None: the index's transform keeps the row out).

    Raises:
        DocumentError: the row cannot become a document, or its document is over the
            payload limit (it could never be sent).
    """
    line = encode_document(shape, row)
    if line is not None and len(line) > max_bytes:
        raise DocumentError(
            f"the document is {len(line):,} bytes, over the payload limit of "
            f"{max_bytes:,} (meilisearch.max_payload_bytes)",
            index=shape.index,
            key=document_id(shape, row),
            column=_largest_field(shape, row),
        )
    return line


def with_checkpoints(
    events: Iterator[SyncEvent], tracker: CheckpointTracker
) -> Iterator[SyncEvent]:
    """The events, with a checkpoint after each payload sent (in flight) and acknowledged."""
    for event in events:
        yield event
        if isinstance(event, PayloadSent):
            yield Checkpointed(
                tracker.sent(event.task_uid, documents=event.documents, last_key=event.last_key)
            )
        elif isinstance(event, TaskSucceeded):
            checkpoint = tracker.done(event.task_uid)
            if checkpoint is not None:
                yield Checkpointed(checkpoint)


def _largest_field(shape: DocumentShape, row: Row) -> str:
    sizes = [len(str(value)) for value in row]
    return shape.fields[sizes.index(max(sizes))]
