"""A full sync's rows to NDJSON lines: the columnar path where it applies, else the row path.

The row path (SQLAlchemy rows, one document at a time) is the reference. The columnar path
fetches the same keyset pages as Arrow tables and encodes them a column at a time
(:mod:`oracle_meili.documents.columnar`): the same documents, byte for byte, for a fraction
of the CPU. It is chosen per sync from the source and its column types; a page it cannot
encode exactly goes through the row path, so skipped rows, failure records and checkpoints
(each line tagged with its row's stored key) are the row path's.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from oracle_meili.adapters.arrow_pages import ArrowFetchError, ArrowPages
from oracle_meili.adapters.keyset import Batch, StoredKey, check_moved
from oracle_meili.adapters.source import TableSource
from oracle_meili.config import BadRowPolicy
from oracle_meili.documents import DocumentShape
from oracle_meili.engine.pipeline import Counter, SkippedRows, counted, encode_rows
from oracle_meili.engine.result import ProgressCallback

if TYPE_CHECKING:
    from oracle_meili.documents.columnar import ColumnarPlan

# NOTE: polars and pyarrow are imported only when a sync takes the columnar path: they cost
# about 100 MB of memory and half a CPU-second to import, which the row path does without.
log = logging.getLogger(__name__)
ReadPathName = Literal["columnar", "rows"]
Line = tuple[StoredKey, bytes]


@dataclass
class ReadPath:
    """The path a full sync reads by, and why; pages that fell back to the row path."""

    name: ReadPathName
    reason: str
    pages: int = 0
    row_pages: int = 0
    fallback_reasons: list[str] = field(default_factory=list)

    def describe(self) -> str:
        if self.name == "rows":
            return f"row path ({self.reason})"
        fallback = f", {self.row_pages} of {self.pages} pages by rows" if self.row_pages else ""
        return f"columnar path ({self.reason}{fallback})"


def choose_read_path(
    source: TableSource, shape: DocumentShape, *, max_bytes: int
) -> tuple[ReadPath, ColumnarPlan | None, ArrowPages | None]:
    """The columnar path when the index asks for it (``read_path: columnar``), the source has
    an Arrow fetch and every column a columnar form; else the row path."""
    if source.index.read_path == "rows":
        return ReadPath("rows", "read_path: rows, the default"), None, None
    pages = ArrowPages.for_engine(source.engine)
    if pages is None:
        kind = source.engine.dialect.name
        return ReadPath("rows", f"no Arrow fetch for {kind} sources"), None, None
    from oracle_meili.documents.columnar import columnar_plan

    plan, reason = columnar_plan(
        shape, [c.type for c in source.selectable.columns], max_bytes=max_bytes
    )
    if plan is None:
        pages.close()
        return ReadPath("rows", reason), None, None
    return ReadPath("columnar", reason), plan, pages


def full_sync_lines(
    source: TableSource,
    shape: DocumentShape,
    *,
    after: StoredKey | None,
    batch_size: int,
    counter: Counter,
    on_progress: ProgressCallback | None,
    on_bad_row: BadRowPolicy,
    skipped: SkippedRows,
    max_bytes: int,
) -> tuple[ReadPath, Iterator[Line]]:
    """The path chosen, and every live row (after ``after``) as (stored key, NDJSON line)."""
    path, plan, pages = choose_read_path(source, shape, max_bytes=max_bytes)
    log.info("full sync of %r reads by the %s", shape.index, path.describe())
    if plan is None or pages is None:
        batches = counted(source.read_all(batch_size=batch_size, after=after), counter, on_progress)
        return path, _row_lines(shape, batches, on_bad_row, skipped, max_bytes)
    return path, _columnar_lines(
        source,
        plan,
        pages,
        path,
        after=after,
        batch_size=batch_size,
        counter=counter,
        on_progress=on_progress,
        on_bad_row=on_bad_row,
        skipped=skipped,
    )


def _row_lines(
    shape: DocumentShape,
    batches: Iterator[Batch],
    on_bad_row: BadRowPolicy,
    skipped: SkippedRows,
    max_bytes: int,
) -> Iterator[Line]:
    """The row path: each row of each batch, tagged with its stored key, as a line."""
    return encode_rows(
        shape,
        (list(zip(batch, batch.keys, strict=True)) for batch in batches),
        on_bad_row=on_bad_row,
        skipped=skipped,
        max_bytes=max_bytes,
    )


def _columnar_lines(
    source: TableSource,
    plan: ColumnarPlan,
    pages: ArrowPages,
    path: ReadPath,
    *,
    after: StoredKey | None,
    batch_size: int,
    counter: Counter,
    on_progress: ProgressCallback | None,
    on_bad_row: BadRowPolicy,
    skipped: SkippedRows,
) -> Iterator[Line]:
    from oracle_meili.documents.columnar import NotColumnar, encode_page

    width = len(plan.shape.fields)
    order_width = len(source.key_order)
    what = f"index {plan.shape.index!r}: reading {source.index.source_label}"
    last = tuple(after) if after is not None else None
    try:
        while True:
            statement = source.full_page(after=last, batch_size=batch_size)
            lines: list[Line] | None = None
            try:
                table = pages.fetch(statement, rows=batch_size)
                stored = (table.column(width + i).to_pylist() for i in range(order_width))
                keys: list[StoredKey] = list(zip(*stored, strict=True))
                check_moved(last, keys, what=what)
                encoded = encode_page(plan, table.select(range(width))) if keys else []
                lines = list(zip(keys, encoded, strict=True))
            except (NotColumnar, ArrowFetchError) as e:
                path.row_pages += 1
                if len(path.fallback_reasons) < 5:
                    path.fallback_reasons.append(str(e))
                log.debug("index %r: a page read by rows: %s", plan.shape.index, e)
            if lines is None:
                # The same page by the row path: its rows, its keys, its errors.
                batch = source.fetch_page(statement, width=width, batch_size=batch_size)
                keys = batch.keys
                check_moved(last, keys, what=what)
                lines = list(
                    _row_lines(plan.shape, iter([batch]), on_bad_row, skipped, plan.max_bytes)
                )
            if not keys:
                return
            path.pages += 1
            counter.rows += len(keys)
            yield from lines
            if on_progress is not None:
                on_progress(counter.rows)
            if len(keys) < batch_size:
                return
            last = keys[-1]
    finally:
        pages.close()
