"""Did a full read return every row it had to? The cross-check against the source's own
count, before a build is published."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from oracle_meili.engine.watermark import decode_watermark, lower_bound
from oracle_meili.errors import SyncError

if TYPE_CHECKING:
    from oracle_meili.adapters.source import TableSource
    from oracle_meili.engine.slice_plan import SlicedPlan

log = logging.getLogger(__name__)


class ShortReadError(SyncError):
    """A full read came back with fewer rows than the source holds."""


def check_read_complete(source: TableSource, plan: SlicedPlan, *, rows_read: int) -> None:
    """Cross-check the rows a full read of ``source`` (what the plan's slices read: the
    table, or the table as of its SCN) returned against the source's own count.

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
    index, upper, count_before = source.index, decode_watermark(plan.watermark), plan.count_before
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
