"""The encode/skip pipeline: source batches in, (tag, NDJSON line) pairs out.

A row that cannot become a document fails the sync (``on_bad_row: fail``) or is skipped and
counted (``skip``); the row count feeds the progress callback.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

from oracle_meili.adapters.keyset import Row
from oracle_meili.config import BadRowPolicy
from oracle_meili.documents import DocumentShape, document_id, encode_document
from oracle_meili.engine.result import ProgressCallback
from oracle_meili.errors import DocumentError

log = logging.getLogger(__name__)
Tag = TypeVar("Tag")
Rows = TypeVar("Rows", bound=list[Row])


@dataclass
class Counter:
    """Rows read so far (across a resumed sync's runs)."""

    rows: int = 0


def counted(
    batches: Iterator[Rows], counter: Counter, on_progress: ProgressCallback | None
) -> Iterator[Rows]:
    """The batches, counted; ``on_progress`` is told the running total after each."""
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


def encode_rows(
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
                        column=largest_field(shape, row),
                    )
            except DocumentError as e:
                if on_bad_row == "fail":
                    raise
                skipped.add(e)
                continue
            yield tag, line


def largest_field(shape: DocumentShape, row: Row) -> str:
    sizes = [len(str(value)) for value in row]
    return shape.fields[sizes.index(max(sizes))]
