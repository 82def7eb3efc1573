"""Oracle connections without a server: errors that name the target (seed TEST-002, TEST-022)."""

from __future__ import annotations

import oracledb
import pytest
from pydantic import SecretStr

from oracle_meili.config import OracleSettings
from oracle_meili.errors import SourceConnectionError
from oracle_meili.oracle import PoolSettings, check_connection, oracle_engine
from oracle_meili.server import free_port


def test_python_oracledb_imports_in_thin_mode_TEST_002() -> None:
    assert oracledb.is_thin_mode()


def test_refused_port_names_host_port_and_service_TEST_022() -> None:
    port = free_port()  # nothing listens there
    settings = OracleSettings(
        user="sync",
        password=SecretStr("never-shown"),
        host="127.0.0.1",
        port=port,
        service_name="FREEPDB1",
    )
    with (
        pytest.raises(SourceConnectionError) as raised,
        oracle_engine(settings, pool=PoolSettings(min=0, tcp_connect_timeout_seconds=2)) as engine,
    ):
        check_connection(engine, settings)
    message = str(raised.value)
    assert f"127.0.0.1:{port}/FREEPDB1" in message
    assert "DPY-" in message
    assert "never-shown" not in message
