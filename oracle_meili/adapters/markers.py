"""What the change probe reads: the highest cursor value, as stored and as typed."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class CursorMax:
    """The highest cursor value: as stored (to bound a read exactly) and typed (watermark)."""

    stored: Any
    value: Any


@dataclass(frozen=True)
class ChangeMarkers:
    """The cheap sign that the source changed: the highest cursor value.

    NOTE: no row count: ``COUNT(*)`` is a full scan (of an index at best) and grows with
    the table, while ``MAX(cursor)`` is an index min/max scan given an index on the cursor.
    What it cannot see: hard deletes (covered by reconcile), and a row committed with a
    cursor not above the highest one (covered by the change rule's late-commits deadline,
    :mod:`~oracle_meili.engine.freshness`).
    """

    max_cursor: Any
