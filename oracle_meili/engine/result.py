"""What one sync did: recorded as Dagster metadata, in ``sync_state.json``, or printed."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from oracle_meili.adapters.backend import TaskRef
from oracle_meili.adapters.columns import DocumentField
from oracle_meili.config import SyncMode
from oracle_meili.engine.watermark import decode_watermark

if TYPE_CHECKING:
    from oracle_meili.engine.events import Tally

# Called with the number of rows read so far, after each batch.
ProgressCallback = Callable[[int], None]
# The current time in UTC: :func:`now`, or a test's own clock.
Clock = Callable[[], dt.datetime]


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
    task_uids: tuple[TaskRef, ...] = field(default_factory=tuple)
    strategy: str | None = None
    rows_skipped: int = 0
    # Of the rows read, those an incremental sync read again: at or below the previous
    # watermark, in the look-back window (unchanged, unless a late commit slipped in).
    rows_reread: int = 0
    # The first skipped rows (``on_bad_row: skip``): key, column and reason of each.
    skipped_sample: tuple[dict[str, Any], ...] = field(default_factory=tuple)
    # Until when a row may still commit with a cursor at or below the watermark; a sync is
    # due once it has passed (see engine/freshness.py).
    late_commits_until: dt.datetime | None = None
    # How far the index was behind its source when the sync ended: see behind_seconds().
    behind_seconds: float | None = None
    # Whether, when the sync ended, the index held its source's newest change (None: the
    # source could not be read then, or has no cursor).
    caught_up: bool | None = None
    # The table read (None for a query), and each document field with its source columns:
    # what the Dagster metadata shows as the index's columns and their lineage.
    source_table: str | None = None
    document_fields: tuple[DocumentField, ...] = ()
    # The table's own columns with their SQL types (excluded ones too): what the sync's
    # observation of the table shows.
    source_columns: tuple[tuple[str, str], ...] = ()

    @property
    def duration_seconds(self) -> float:
        return (self.finished_at - self.started_at).total_seconds()

    @property
    def newest_change_age_seconds(self) -> float | None:
        """Seconds from the newest source change the index holds (the watermark) to the
        sync's end: how long ago the table last changed, not how far the index is behind
        (that is :attr:`behind_seconds`).

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
        late = self.late_commits_until
        data["late_commits_until"] = late.isoformat() if late is not None else None
        data["task_uids"] = list(self.task_uids)
        data["skipped_sample"] = list(self.skipped_sample)
        data["duration_seconds"] = round(self.duration_seconds, 3)
        # The schemas are the configuration's and the table's, not the history's.
        del data["document_fields"], data["source_columns"]
        return data


def behind_seconds(newest: Any, watermark: str | None) -> float | None:
    """How far the index is behind its source: the source's newest change less the index's
    watermark, in seconds (0 when the index holds the newest change). Only for date/time
    cursors; None otherwise, or when either is unknown."""
    held = decode_watermark(watermark)
    if not isinstance(newest, dt.datetime) or not isinstance(held, dt.datetime):
        return None
    if (newest.tzinfo is None) != (held.tzinfo is None):
        return None  # not comparable: one is stamped with a zone, the other is not
    return max(0.0, (newest - held).total_seconds())


def held_newest(newest: Any, watermark: str | None) -> bool:
    """Whether an index at ``watermark`` holds the source's ``newest`` change (an empty
    source's None included). Both come from one cursor column: of one type."""
    if newest is None:
        return True
    held = decode_watermark(watermark)
    return held is not None and bool(newest <= held)


def finished(
    tally: Tally,
    *,
    index: str,
    mode: SyncMode,
    started: dt.datetime,
    clock: float,
    index_document_count: int,
    watermark: str | None,
    previous_watermark: str | None,
    strategy: str | None = None,
    late_commits_until: dt.datetime | None = None,
    rows_reread: int = 0,
) -> SyncResult:
    """The result of a sync that has just ended: its tally, and what the caller measured.

    ``clock`` is ``time.monotonic()`` when it started (the duration does not jump with the
    wall clock)."""
    return SyncResult(
        index=index,
        mode=mode,
        strategy=strategy,
        started_at=started,
        finished_at=started + dt.timedelta(seconds=time.monotonic() - clock),
        rows_read=tally.rows_read,
        documents_upserted=tally.documents_sent,
        documents_deleted=tally.documents_deleted,
        index_document_count=index_document_count,
        rows_skipped=tally.rows_skipped,
        skipped_sample=tuple(tally.skipped_sample),
        watermark=watermark,
        previous_watermark=previous_watermark,
        task_uids=tuple(tally.task_uids),
        late_commits_until=late_commits_until,
        rows_reread=rows_reread,
    )


def now() -> dt.datetime:
    """The current time in UTC (when a sync starts)."""
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True)
class Observation:
    """What a source table holds now: live rows, newest change, and its columns."""

    live_rows: int
    newest_change: Any
    # (document field, source column, SQL type) of each column.
    columns: tuple[tuple[str, str, str], ...]
