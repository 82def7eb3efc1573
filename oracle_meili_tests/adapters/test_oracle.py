"""Oracle connections without a server: errors that name the target.

Each case really connects: to a closed port, to a socket that accepts and never answers,
and to a TCP server that speaks something else. Wrong credentials and an unknown service
need a real listener and are covered by the opt-in suite (test_oracle_live.py).
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import oracledb
import pytest
from pydantic import SecretStr

from oracle_meili.adapters.oracle import (
    FETCH_ROWS_OPTION,
    PoolSettings,
    oracle_engine,
    pool_parameters,
    set_fetch_sizes,
)
from oracle_meili.adapters.server import free_port
from oracle_meili.config import OracleSettings
from oracle_meili.errors import SourceConnectionError

SECRET = "never-shown-pw"


def settings(port: int, **overrides: Any) -> OracleSettings:
    values: dict[str, Any] = {
        "user": "sync",
        "password": SecretStr(SECRET),
        "host": "127.0.0.1",
        "port": port,
        "service_name": "FREEPDB1",
        "connect_timeout_seconds": 3,
        **overrides,
    }
    return OracleSettings(**values)


def connect(target: OracleSettings) -> None:
    pool = PoolSettings(min=0, tcp_connect_timeout_seconds=2)
    with oracle_engine(target, pool=pool):
        pass


def test_python_oracledb_imports_in_thin_mode_TEST_002() -> None:
    assert oracledb.is_thin_mode()


def test_the_suite_runs_and_the_meilisearch_client_imports_TEST_001_TEST_003() -> None:
    """TEST-001 pytest runs this suite; TEST-003 the Meilisearch client imports, at the
    version the project pins (its API changed across minor versions)."""
    import meilisearch

    version = tuple(int(p) for p in meilisearch.version.__version__.split(".")[:2])
    assert (0, 43) <= version < (0, 44)
    assert hasattr(meilisearch.Client, "get_tasks")


def test_refused_port_names_host_port_and_service_TEST_022() -> None:
    port = free_port()  # nothing listens there
    with pytest.raises(SourceConnectionError) as raised:
        connect(settings(port))
    message = str(raised.value)
    assert f"tcp://127.0.0.1:{port}/FREEPDB1 as sync" in message
    assert "DPY-" in message
    assert SECRET not in message


@pytest.fixture
def silent_listener() -> Iterator[int]:
    """A socket that accepts connections and never says a word."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(8)
        yield server.getsockname()[1]


def test_listener_that_never_answers_times_out(silent_listener: int) -> None:
    with pytest.raises(SourceConnectionError, match=r"no answer within 1 s") as raised:
        connect(settings(silent_listener, connect_timeout_seconds=1))
    assert f"127.0.0.1:{silent_listener}/FREEPDB1" in str(raised.value)


@pytest.fixture
def http_listener() -> Iterator[int]:
    """A TCP server that answers every connection with an HTTP error and hangs up."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    stop = threading.Event()

    def serve() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                peer, _ = server.accept()
            except TimeoutError:
                continue
            with peer:
                peer.recv(4096)
                peer.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    thread.join()
    server.close()


def test_listener_that_is_not_oracle(http_listener: int) -> None:
    with pytest.raises(SourceConnectionError, match=r"DPY-\d+") as raised:
        connect(settings(http_listener))
    assert f"127.0.0.1:{http_listener}/FREEPDB1" in str(raised.value)
    assert SECRET not in str(raised.value)


def test_pool_parameters_TEST_023() -> None:
    tcps = settings(
        2484,
        protocol="tcps",
        service_name=None,
        sid="ORCL",
        wallet_dir="/wallet",
        wallet_password=SecretStr("wallet-pw"),
    )
    parameters = pool_parameters(tcps, PoolSettings(min=2, max=8, increment=2))
    assert parameters["protocol"] == "tcps"
    assert parameters["sid"] == "ORCL"
    assert "service_name" not in parameters
    assert (parameters["wallet_location"], parameters["wallet_password"]) == (
        "/wallet",
        "wallet-pw",
    )
    assert (parameters["min"], parameters["max"], parameters["increment"]) == (2, 8, 2)
    assert tcps.target == "tcps://127.0.0.1:2484/SID ORCL"
    dsn = pool_parameters(settings(1, dsn="db:1521/ORCL"), PoolSettings())
    assert dsn["dsn"] == "db:1521/ORCL"
    assert "host" not in dsn


def test_fetch_sizes_follow_the_page_size() -> None:
    cursor = SimpleNamespace(arraysize=100, prefetchrows=2)
    connection = SimpleNamespace(get_execution_options=lambda: {FETCH_ROWS_OPTION: 5000})
    set_fetch_sizes(connection, cursor, "SELECT 1", None, None, False)  # type: ignore[arg-type]
    assert (cursor.arraysize, cursor.prefetchrows) == (5000, 5001)
    untouched = SimpleNamespace(arraysize=100, prefetchrows=2)
    plain = SimpleNamespace(get_execution_options=lambda: {})
    set_fetch_sizes(plain, untouched, "SELECT 1", None, None, False)  # type: ignore[arg-type]
    assert (untouched.arraysize, untouched.prefetchrows) == (100, 2)
