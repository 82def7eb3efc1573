"""The source database: opening it, and running one read with the right retries.

Any SQLAlchemy URL works (the embedded demo is SQLite); without one, Oracle through a
python-oracledb session pool (:mod:`~oracle_meili.adapters.oracle`).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
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


def read(
    engine: sa.Engine, statement: sa.Executable, *, what: str, fetch_rows: int | None = None
) -> Sequence[sa.Row[Any]]:
    """Run one read; a lost connection, an outage or a busy database is retried (each
    statement is a read that can run again: a keyset page, a MAX, a COUNT).

    ``what`` starts the error message ("index 'x': reading T").
    """
    for attempt in retrying():
        with attempt:
            return _read_once(engine, statement, what=what, fetch_rows=fetch_rows)
    raise AssertionError("unreachable: retrying re-raises the last error")


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
