"""Oracle connections: python-oracledb (thin mode by default), pooled, behind SQLAlchemy."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import oracledb
import sqlalchemy as sa
from sqlalchemy.pool import NullPool

from oracle_meili.config import OracleSettings
from oracle_meili.errors import SourceConnectionError, SourceUnavailableError

# Execution option naming how many rows a statement's pages hold; the cursor's fetch sizes
# follow it, so a keyset page of N rows comes back in one round trip.
FETCH_ROWS_OPTION = "oracle_meili_fetch_rows"
# Engine execution option naming the database an engine reaches (user@target, no secret):
# its URL alone does not, since connections come from a python-oracledb pool.
TARGET_OPTION = "oracle_meili_target"

# Every session reads with binary comparison and sorting, and in UTC.
# NOTE: sessions otherwise inherit NLS_SORT / NLS_COMP from the database or a logon trigger
# (thin mode ignores NLS_LANG). Under a linguistic sort, ORDER BY is linguistic while a
# keyset `>` may be binary, so string keys would be skipped or read twice; and the session
# time zone (from the host) shifts TIMESTAMP WITH LOCAL TIME ZONE values.
SESSION_SETTINGS = "ALTER SESSION SET NLS_SORT = BINARY NLS_COMP = BINARY TIME_ZONE = 'UTC'"

# Errors that say the database is restarting, failing over or briefly out of reach: the
# same read succeeds once it is back. (python-oracledb wraps the listener's ORA code in
# DPY-6005 when a connection cannot be opened.)
TRANSIENT_CODES = frozenset(
    {
        "DPY-4011",  # the database or network closed the connection
        "DPY-6005",  # cannot connect (its ORA code says why; the list below decides)
        "ORA-00028",  # your session has been killed
        "ORA-01012",  # not logged on
        "ORA-01033",  # initialization or shutdown in progress
        "ORA-01034",  # ORACLE not available
        "ORA-01089",  # immediate shutdown or close in progress
        "ORA-01090",  # shutdown in progress
        "ORA-03113",  # end-of-file on communication channel
        "ORA-03114",  # not connected to ORACLE
        "ORA-03135",  # connection lost contact
        "ORA-12170",  # connect timeout
        "ORA-12514",  # listener does not know the service (yet: database starting)
        "ORA-12516",  # listener could not find an available handler
        "ORA-12520",  # no handler for the server type
        "ORA-12528",  # all instances are blocking new connections
        "ORA-12537",  # connection closed
        "ORA-12541",  # no listener
        "ORA-12547",  # lost contact
        "ORA-25408",  # cannot safely replay call (failover)
    }
)
# The undo a flashback (AS OF SCN) read needs is gone: that SCN can never be read again.
SNAPSHOT_TOO_OLD_CODES = frozenset({"ORA-01555", "ORA-08180", "ORA-08181", "ORA-01466"})
# DPY-6005 with one of these is a wrong setting, not an outage: never retried.
_FINAL_CONNECT_CODES = frozenset({"ORA-01017", "ORA-12154", "ORA-28000", "ORA-28001"})
_ERROR_CODE = re.compile(r"\b(?:ORA|DPY)-\d{4,5}\b")


def error_codes(error: BaseException | None) -> set[str]:
    """The ORA-/DPY- codes an error's message carries (python-oracledb nests them)."""
    return set(_ERROR_CODE.findall(str(error))) if error is not None else set()


def source_error_is_transient(error: BaseException | None) -> bool:
    """Whether a source error is worth another try: an Oracle outage code, or a busy SQLite."""
    if error is None:
        return False
    if "database is locked" in str(error):
        return True
    codes = error_codes(error)
    return bool(codes & TRANSIENT_CODES) and not codes & _FINAL_CONNECT_CODES


def set_session(connection: Any, requested_tag: str | None = None) -> None:
    """python-oracledb session callback: fix NLS sorting and the time zone of a new session."""
    with connection.cursor() as cursor:
        cursor.execute(SESSION_SETTINGS)


@dataclass(frozen=True)
class PoolSettings:
    """Size of the python-oracledb session pool."""

    min: int = 1
    max: int = 4
    increment: int = 1
    timeout_seconds: int = 60
    tcp_connect_timeout_seconds: float = 10.0

    @classmethod
    def of(cls, settings: OracleSettings) -> PoolSettings:
        """The pool sizes configured in ``settings`` (source.pool, ORACLE_POOL_*)."""
        return cls(min=settings.pool_min, max=settings.pool_max, increment=settings.pool_increment)


def connect_parameters(settings: OracleSettings, *, tcp_connect_timeout: float) -> dict[str, Any]:
    """The keyword arguments of ``oracledb.connect`` for these settings."""
    parameters: dict[str, Any] = {
        "user": settings.user,
        "password": settings.password.get_secret_value(),
        "tcp_connect_timeout": tcp_connect_timeout,
    }
    if settings.dsn is not None:
        parameters["dsn"] = settings.dsn
    else:
        parameters.update(host=settings.host, port=settings.port, protocol=settings.protocol)
        if settings.service_name:
            parameters["service_name"] = settings.service_name
        else:
            parameters["sid"] = settings.sid
    if settings.wallet_dir is not None:
        parameters["wallet_location"] = settings.wallet_dir
        parameters["config_dir"] = settings.wallet_dir
    if settings.wallet_password is not None:
        parameters["wallet_password"] = settings.wallet_password.get_secret_value()
    return parameters


def pool_parameters(settings: OracleSettings, pool: PoolSettings) -> dict[str, Any]:
    """The keyword arguments of ``oracledb.create_pool`` for these settings."""
    return {
        **connect_parameters(settings, tcp_connect_timeout=pool.tcp_connect_timeout_seconds),
        "min": pool.min,
        "max": pool.max,
        "increment": pool.increment,
        "timeout": pool.timeout_seconds,
        # Called once per new session (not per acquire): one round trip per session.
        "session_callback": set_session,
    }


@contextmanager
def oracle_engine(
    settings: OracleSettings, *, pool: PoolSettings | None = None
) -> Iterator[sa.Engine]:
    """A SQLAlchemy engine that takes connections from a python-oracledb session pool.

    The pool is created on entry and closed on exit, so one Dagster run or CLI call owns it
    (the change sensor keeps one open across ticks: ``database.KeptEngines``). Thin mode
    unless ``client_lib_dir`` is set (thick mode, e.g. for Native Network Encryption or databases
    older than 12.1).

    Raises:
        SourceConnectionError: naming the target (never the password) and keeping the
            DPY/ORA code.
    """
    pool = pool or PoolSettings.of(settings)
    try:
        if settings.client_lib_dir is not None and oracledb.is_thin_mode():
            oracledb.init_oracle_client(**thick_mode_parameters(settings))
    except oracledb.Error as e:
        raise connection_error(settings, e) from None
    # Connect first, with a deadline: a pool whose first session hangs in its handshake
    # cannot be closed.
    probe(settings, tcp_connect_timeout=pool.tcp_connect_timeout_seconds)
    identity = {TARGET_OPTION: f"{settings.user}@{settings.target}"}
    try:
        session_pool = oracledb.create_pool(**pool_parameters(settings, pool))
    except oracledb.Error as e:
        raise connection_error(settings, e) from None
    # NOTE: SQLAlchemy must not pool on top of python-oracledb's pool; NullPool hands every
    # connection straight back to it.
    engine = sa.create_engine(
        "oracle+oracledb://",
        creator=session_pool.acquire,
        poolclass=NullPool,
        execution_options=identity,
    )
    sa.event.listen(engine, "before_cursor_execute", set_fetch_sizes)
    try:
        yield engine
    finally:
        engine.dispose()
        session_pool.close(force=True)


def thick_mode_parameters(settings: OracleSettings) -> dict[str, Any]:
    """The keyword arguments of ``oracledb.init_oracle_client`` for these settings.

    NOTE: in thick mode the network configuration (``tnsnames.ora``, ``sqlnet.ora`` and the
    wallet they name, which must hold ``cwallet.sso``) is read from ``config_dir`` given
    here, not from the connect call. ``lib_dir`` is honoured on Linux only for libraries
    built with an ``$ORIGIN`` rpath (Instant Client is); otherwise set LD_LIBRARY_PATH
    before the process starts.
    """
    parameters: dict[str, Any] = {"lib_dir": settings.client_lib_dir}
    if settings.wallet_dir is not None:
        parameters["config_dir"] = settings.wallet_dir
    return parameters


def set_fetch_sizes(
    connection: sa.Connection, cursor: Any, statement: str, parameters: Any, context: Any,
    executemany: bool,
) -> None:  # fmt: skip
    """Fetch a page in one round trip: arraysize = page size, prefetchrows one more."""
    rows = connection.get_execution_options().get(FETCH_ROWS_OPTION)
    if rows:
        cursor.arraysize = rows
        cursor.prefetchrows = rows + 1


def probe(settings: OracleSettings, *, tcp_connect_timeout: float) -> None:
    """Connect once and run a trivial query, within ``connect_timeout_seconds``.

    NOTE: python-oracledb's ``tcp_connect_timeout`` covers only the TCP handshake; a
    listener that accepts and then says nothing would block for ever (the maintainers
    advise a timeout in Python). So the attempt runs in a daemon thread with a deadline; a
    thread left waiting on a silent listener does not keep the process alive.

    Raises:
        SourceConnectionError: the database is unreachable, silent, not Oracle, or refused
            the login (:class:`SourceUnavailableError` when it is an outage).
    """
    outcome: list[BaseException | None] = []

    def attempt() -> None:
        try:
            parameters = connect_parameters(settings, tcp_connect_timeout=tcp_connect_timeout)
            with oracledb.connect(**parameters) as connection, connection.cursor() as cursor:
                cursor.execute("SELECT 1 FROM DUAL")
            outcome.append(None)
        except BaseException as e:  # handed to the caller's thread below
            outcome.append(e)

    thread = threading.Thread(target=attempt, name="oracle-probe", daemon=True)
    thread.start()
    thread.join(settings.connect_timeout_seconds)
    if not outcome:
        raise SourceUnavailableError(
            f"cannot connect to Oracle at {settings.target} as {settings.user}: no answer "
            f"within {settings.connect_timeout_seconds:g} s (ORACLE_CONNECT_TIMEOUT)"
        )
    if outcome[0] is not None:
        raise connection_error(settings, outcome[0])


def connection_error(
    settings: OracleSettings, error: BaseException | None
) -> SourceConnectionError:
    """One message naming the target and the driver's own code (DPY-xxxx / ORA-xxxxx)."""
    detail = str(error).splitlines()[0] if error is not None else "unknown error"
    kind = SourceUnavailableError if source_error_is_transient(error) else SourceConnectionError
    return kind(f"cannot connect to Oracle at {settings.target} as {settings.user}: {detail}")
