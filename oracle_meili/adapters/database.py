"""The source database: opening it, and running one read with the right retries.

Any SQLAlchemy URL works (the embedded demo is SQLite); without one, Oracle through a
python-oracledb session pool (:mod:`~oracle_meili.adapters.oracle`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, ExitStack, contextmanager
from typing import Any

import sqlalchemy as sa

from oracle_meili.adapters.oracle import (
    FETCH_ROWS_OPTION,
    SNAPSHOT_TOO_OLD_CODES,
    error_codes,
    oracle_engine,
    set_session,
    source_error_is_transient,
)
from oracle_meili.config import SourceConfig
from oracle_meili.errors import (
    SnapshotTooOldError,
    SourceConnectionError,
    SourceError,
    SourceTransientError,
    SourceUnavailableError,
)
from oracle_meili.retry import retrying

SCN_STATEMENT = sa.text("SELECT DBMS_FLASHBACK.GET_SYSTEM_CHANGE_NUMBER FROM DUAL")


@contextmanager
def source_engine(config: SourceConfig) -> Iterator[sa.Engine]:
    """The SQLAlchemy engine for the configured source (URL, or pooled Oracle)."""
    if config.oracle is not None:
        with oracle_engine(config.oracle) as engine:
            yield engine
        return
    assert config.url is not None
    try:
        engine = sa.create_engine(config.url)
    except (sa.exc.ArgumentError, ImportError) as e:
        raise SourceConnectionError(f"source.url is not usable: {e}") from None
    if engine.dialect.name == "oracle":
        # An Oracle URL (not the pooled ORACLE_* settings): fix the session the same way.
        sa.event.listen(engine, "connect", lambda connection, _: set_session(connection))
    try:
        yield engine
    finally:
        engine.dispose()


def source_identity(config: SourceConfig) -> str:
    """Which database this is, without secrets (the key of an engine kept open)."""
    if config.oracle is not None:
        return f"{config.oracle.user}@{config.oracle.target}"
    assert config.url is not None
    return sa.make_url(config.url).render_as_string(hide_password=True)


def read(
    engine: sa.Engine, statement: sa.Executable, *, what: str, fetch_rows: int | None = None
) -> Sequence[sa.Row[Any]]:
    """Run one read; a lost connection, an outage or a busy database is retried (each
    statement is a read that can run again: a keyset page, a MAX, a COUNT).

    ``what`` starts the error message ("index 'x': reading T").
    """
    return retrying()(_read_once, engine, statement, what=what, fetch_rows=fetch_rows)


def _read_once(
    engine: sa.Engine, statement: sa.Executable, *, what: str, fetch_rows: int | None
) -> Sequence[sa.Row[Any]]:
    # One short-lived connection per statement: it goes back to the pool between pages.
    try:
        with engine.connect() as connection:
            if fetch_rows is not None:
                connection = connection.execution_options(**{FETCH_ROWS_OPTION: fetch_rows})
            return connection.execute(statement).all()
    except sa.exc.DBAPIError as e:
        detail = str(e.orig).splitlines()[0] if e.orig else str(e)
        raise read_error_kind(e)(f"{what} failed: {detail}") from e


def read_error_kind(error: sa.exc.DBAPIError) -> type[SourceError]:
    """What a failed read means: which errors are retried, and how (see retry.py)."""
    codes = error_codes(error.orig)
    if codes & SNAPSHOT_TOO_OLD_CODES:
        return SnapshotTooOldError
    if error.connection_invalidated or (codes and source_error_is_transient(error.orig)):
        # A lost connection (the dialect recognises Oracle's DPY-4011, ORA-03113, ...) or
        # an Oracle outage code: the long backoff.
        return SourceUnavailableError
    if source_error_is_transient(error.orig):
        return SourceTransientError  # SQLite: "database is locked"
    return SourceError


class KeptEngines:
    """Engines kept open between short, frequent probes (the change sensor's ticks).

    A tick is then one query on a live session, not a new logon: at a one-second sensor
    interval a fresh connection per tick would be 86,400 Oracle logons a day per index. An
    engine unused for ``idle_seconds`` is closed at the next use of the cache; one whose
    probe fails is closed and opened afresh at the next tick.
    """

    def __init__(self, *, idle_seconds: float = 300.0) -> None:
        self.idle_seconds = idle_seconds
        self._open: dict[str, tuple[ExitStack, sa.Engine, float]] = {}
        self._lock = threading.Lock()

    @contextmanager
    def engine(
        self, key: str, opener: Callable[[], AbstractContextManager[sa.Engine]]
    ) -> Iterator[sa.Engine]:
        """The engine kept under ``key``, opened with ``opener`` when there is none."""
        with self._lock:
            self._close_idle()
            entry = self._open.pop(key, None)
        if entry is None:
            stack = ExitStack()
            entry = (stack, stack.enter_context(opener()), time.monotonic())
        stack, engine, _ = entry
        try:
            yield engine
        except BaseException:
            stack.close()
            raise
        with self._lock:
            previous = self._open.pop(key, None)
            self._open[key] = (stack, engine, time.monotonic())
        if previous is not None:  # another thread kept one meanwhile
            previous[0].close()

    def close(self) -> None:
        with self._lock:
            entries, self._open = list(self._open.values()), {}
        for stack, _, _ in entries:
            stack.close()

    def _close_idle(self) -> None:
        now = time.monotonic()
        for key, (stack, _, used) in list(self._open.items()):
            if now - used >= self.idle_seconds:
                del self._open[key]
                stack.close()


# NOTE: module state on purpose: the sensor daemon builds new resources for every tick.
PROBE_ENGINES = KeptEngines()
