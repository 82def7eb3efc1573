"""When an index needs an incremental sync: the one rule of every change-triggered path
(``follow``, the change sensor).

The probe reads ``MAX(cursor)``, and a highest value that has not moved says nothing about
a row committed with a cursor at or below it: a row stamped in the same tick as the newest
one, or a transaction that stamped its rows before the last sync and committed after it.
The look-back window re-reads such rows, but only when a sync runs; on a quiet table none
would. So the rule keeps two facts of the index's last sync and compares the probe with
them, never with an earlier probe:

- its **watermark**: a highest cursor above it is a change, whether it was made a second ago
  or while nothing was watching (a stopped sensor, a process that was down, a full sync
  that published an older watermark);
- its **late-commits deadline** (:attr:`LastSync.late_commits_until`): until then, a row may
  still commit with a cursor at or below the watermark. Once it has passed, one more sync
  is due, and it re-reads the window; no later change has to come first.

Why that is enough, given the look-back's own premise (a row commits at most
``lookback_seconds`` after the cursor value it carries, and no cursor value is ahead of the
database's clock): a row committed at time *t* is read by the first sync that starts after
*t*, since that sync's upper bound is at least the row's cursor and its window starts above
the previous upper bound less the look-back. So no commit is missed as long as some sync
starts after it, and the two facts above see to that: a commit whose cursor is above the
watermark moves the probe; one at or below it is committed before the deadline, after which
a sync starts. Every committed change is therefore read within ``lookback_seconds`` plus one
probe interval of its commit (plus the sync itself).

Every time here is this machine's clock (UTC). The deadline is measured from when the sync
read its upper bound, so an offset between this clock and the database's does not matter:
only elapsed time does.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from oracle_meili.engine.watermark import decode_watermark, encode_watermark
from oracle_meili.errors import SyncError


@dataclass(frozen=True)
class LastSync:
    """What the change rule needs of an index's last successful sync."""

    watermark: str | None
    # Until when a row may still commit with a cursor at or below the watermark (None: no
    # such row can come any more, or the index has no look-back).
    late_commits_until: dt.datetime | None


def sync_due(highest: Any, last: LastSync | None, *, at: dt.datetime) -> str | None:
    """Why the index needs an incremental sync at ``at``, or None when it does not.

    ``highest`` is the probe's highest cursor (typed); ``last`` the index's last successful
    sync (None: never synced).
    """
    if last is None:
        return "never synced"
    if highest is not None and _above(highest, last.watermark):
        return f"changes up to {encode_watermark(highest)}, synced up to {last.watermark}"
    if last.late_commits_until is not None and at >= last.late_commits_until:
        return (
            "the look-back window is re-read once its late commits are all in "
            f"(due {last.late_commits_until.isoformat()})"
        )
    return None


def late_commits_until(
    *,
    lookback_seconds: float,
    previous: LastSync | None,
    watermark: str | None,
    started: dt.datetime,
    upper_read_at: dt.datetime,
) -> dt.datetime | None:
    """The late-commits deadline of a sync that just finished.

    ``started``: when the sync began (before it read its upper bound); ``upper_read_at``:
    just after it read its upper bound, ``watermark`` the watermark it records.

    - A new watermark: rows at or below it may commit until ``lookback_seconds`` after it
      was read (it is no later than the database's clock then).
    - The same watermark: a sync that started after the previous deadline has read every
      late commit there could be (nothing is pending any more); one that started before it
      leaves the deadline as it was.
    """
    if lookback_seconds <= 0 or watermark is None:
        return None  # no window to re-read, or nothing synced
    if previous is not None and previous.watermark == watermark:
        pending = previous.late_commits_until
        return pending if pending is not None and started < pending else None
    return upper_read_at + dt.timedelta(seconds=lookback_seconds)


def _above(highest: Any, watermark: str | None) -> bool:
    """Whether the probe's highest cursor is above the watermark. A value that cannot be
    compared with it (a column whose type changed, say) counts as above: a sync is cheap
    and settles it."""
    try:
        synced = decode_watermark(watermark)
    except SyncError:
        return True
    if synced is None:
        return True
    try:
        return bool(highest > synced)
    except TypeError:
        return encode_watermark(highest) != watermark
