"""Oracle connections: python-oracledb in thin mode, pooled, behind a SQLAlchemy engine."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import oracledb
import sqlalchemy as sa
from sqlalchemy.pool import NullPool

from oracle_meili.config import OracleSettings
from oracle_meili.errors import SourceConnectionError


@dataclass(frozen=True)
class PoolSettings:
    """Size of the python-oracledb session pool."""

    min: int = 1
    max: int = 4
    increment: int = 1
    timeout_seconds: int = 60
    tcp_connect_timeout_seconds: float = 10.0


@contextmanager
def oracle_engine(
    settings: OracleSettings, *, pool: PoolSettings | None = None
) -> Iterator[sa.Engine]:
    """A SQLAlchemy engine that takes connections from a python-oracledb pool (thin mode).

    The pool is created on entry and closed on exit, so one Dagster run or CLI call owns it.

    Raises:
        SourceConnectionError: naming the target (never the password) and keeping the
            DPY/ORA code.
    """
    pool = pool or PoolSettings()
    try:
        session_pool = oracledb.create_pool(
            user=settings.user,
            password=settings.password.get_secret_value(),
            dsn=settings.dsn,
            host=None if settings.dsn else settings.host,
            port=settings.port,
            service_name=None if settings.dsn else settings.service_name,
            min=pool.min,
            max=pool.max,
            increment=pool.increment,
            timeout=pool.timeout_seconds,
            tcp_connect_timeout=pool.tcp_connect_timeout_seconds,
        )
    except oracledb.Error as e:
        raise connection_error(settings, e) from None
    # NOTE: SQLAlchemy must not pool on top of python-oracledb's pool; NullPool hands every
    # connection straight back to it.
    engine = sa.create_engine(
        "oracle+oracledb://", creator=session_pool.acquire, poolclass=NullPool
    )
    try:
        yield engine
    finally:
        engine.dispose()
        session_pool.close(force=True)


def check_connection(engine: sa.Engine, settings: OracleSettings) -> None:
    """Open one connection and run a trivial query.

    Raises:
        SourceConnectionError: the database is unreachable or refused the login.
    """
    try:
        with engine.connect() as connection:
            connection.execute(sa.text("SELECT 1 FROM DUAL"))
    except sa.exc.DBAPIError as e:
        raise connection_error(settings, e.orig) from None


def connection_error(
    settings: OracleSettings, error: BaseException | None
) -> SourceConnectionError:
    """One message naming the target and the driver's own code (DPY-xxxx / ORA-xxxxx)."""
    detail = str(error).splitlines()[0] if error is not None else "unknown error"
    return SourceConnectionError(
        f"cannot connect to Oracle at {settings.target} as {settings.user}: {detail}"
    )
