"""Progress reports for long reads: rows so far and the rate, every N rows."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable

DEFAULT_EVERY_ROWS = 50_000


class ProgressReporter:
    """A sync's ``on_progress`` callback that emits a line every ``every_rows`` rows.

    ``emit`` is where lines go: ``context.log.info`` in Dagster, a logger in the CLI.
    """

    def __init__(
        self,
        index: str,
        emit: Callable[[str], None],
        *,
        every_rows: int = DEFAULT_EVERY_ROWS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._index = index
        self._emit = emit
        self._every = every_rows
        self._clock = clock
        self._started = clock()
        self._next = every_rows

    @classmethod
    def per_side(
        cls, index: str, emit: Callable[[str], None], *, every_rows: int = DEFAULT_EVERY_ROWS
    ) -> Callable[[str, int], None]:
        """An ``on_progress(side, count)`` callback for check and reconcile, which stream
        the index (``side="index"``) and then the source (``side="source"``)."""
        reporters = {
            side: cls(f"{index} ({side})", emit, every_rows=every_rows)
            for side in ("index", "source")
        }
        return lambda side, count: reporters[side](count)

    def __call__(self, rows: int) -> None:
        if rows < self._next:
            return
        elapsed = max(self._clock() - self._started, 1e-9)
        self._emit(f"{self._index}: {rows:,} rows read ({rows / elapsed:,.0f} rows/s)")
        self._next = (rows // self._every + 1) * self._every


def terminal_progress(index: str, emit: Callable[[str], None]) -> Callable[[int], None]:
    """A live line on a terminal (stderr); a :class:`ProgressReporter` through ``emit``
    otherwise."""
    if not sys.stderr.isatty():
        return ProgressReporter(index, emit)
    started = time.monotonic()

    def show(rows: int) -> None:
        rate = rows / max(time.monotonic() - started, 1e-9)
        print(f"\r{index}: {rows:,} rows read ({rate:,.0f} rows/s)", end="", file=sys.stderr)

    return show
