"""The production topology of docs/deploying.md, for real: Dagster's Postgres storage on a
PostgreSQL cluster of the test's own, and a code server, a webserver and a daemon, each a
process of its own, run with deploy/production/dagster.yaml and workspace.yaml. The change
sensor sees a change, the daemon launches the run, and the index is updated."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
import yaml

from oracle_meili.adapters.meili import MeiliClient
from oracle_meili.adapters.server import RunningMeilisearch, free_port
from oracle_meili.config import MeilisearchConfig
from oracle_meili.defs.launch import wait_for_code_location
from oracle_meili.demo import create_demo
from oracle_meili_tests.postgres import RunningPostgres, postgres_bin, postgres_cluster

PROJECT = Path(__file__).resolve().parents[2]
PRODUCTION = PROJECT / "deploy" / "production"
BIN = Path(sys.executable).parent

pytestmark = pytest.mark.skipif(
    postgres_bin() is None,
    reason="no PostgreSQL under /usr/lib/postgresql/*/bin (Debian's postgresql package): "
    "the production topology's storage cannot be started",
)


@pytest.fixture
def postgres() -> Iterator[RunningPostgres]:
    with postgres_cluster() as running:
        yield running


def start(command: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(
            command, env=env, cwd=PROJECT, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip


def wait_until(what: str, check: object, logs: list[Path], timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while not check():  # type: ignore[operator]
        if time.monotonic() > deadline:
            tails = "\n".join(f"--- {p.name}\n{p.read_text()[-2000:]}" for p in logs)
            raise AssertionError(f"{what}: not within {timeout:.0f} s\n{tails}")
        time.sleep(0.5)


def test_sensor_run_and_index_with_postgres_storage_and_three_processes(
    tmp_path: Path, postgres: RunningPostgres, meili_server: RunningMeilisearch, index_name: str
) -> None:
    database = create_demo(tmp_path / "demo.db", rows=300)
    config = {
        "source": {"url": f"sqlite:///{database}"},
        "indexes": [
            {"name": index_name, "table": "PRODUCTS", "primary_key": "PRODUCT_ID",
             "cursor": "UPDATED_AT", "lookback_seconds": 0,
             "soft_delete": {"column": "IS_DELETED", "deleted_value": "Y"},
             "change_sensor": {"interval_seconds": 1, "running": True}},
        ],
    }  # fmt: skip
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(PRODUCTION / "dagster.yaml", home / "dagster.yaml")
    grpc_port = free_port()
    workspace = yaml.safe_load((PRODUCTION / "workspace.yaml").read_text())
    # The shipped workspace with this test's free port in place of 4000.
    workspace["load_from"][0]["grpc_server"]["port"] = grpc_port
    (tmp_path / "workspace.yaml").write_text(yaml.safe_dump(workspace))
    env = {
        **os.environ,
        **postgres.environment(),
        "DAGSTER_HOME": str(home),
        "ORACLE_MEILI_CONFIG": str(tmp_path / "config.yaml"),
        "MEILI_URL": meili_server.url,
        "MEILI_API_KEY": meili_server.master_key,
    }
    web_port = free_port()
    logs = [tmp_path / f"{name}.log" for name in ("code-server", "webserver", "daemon")]
    processes = [
        start([str(BIN / "dagster"), "code-server", "start", "-m", "oracle_meili.definitions",
               "-h", "127.0.0.1", "-p", str(grpc_port)], env, logs[0]),
        start([str(BIN / "dagster-webserver"), "-w", str(tmp_path / "workspace.yaml"),
               "-h", "127.0.0.1", "-p", str(web_port)], env, logs[1]),
        start([str(BIN / "dagster-daemon"), "run", "-w", str(tmp_path / "workspace.yaml")],
              env, logs[2]),
    ]  # fmt: skip
    meilisearch = MeilisearchConfig(url=meili_server.url, api_key=meili_server.master_key)
    engine = sa.create_engine(f"sqlite:///{database}")
    try:
        wait_for_code_location(f"http://127.0.0.1:{web_port}")
        with engine.connect() as c:
            live = c.exec_driver_sql(
                "SELECT COUNT(*) FROM PRODUCTS WHERE IS_DELETED = 'N'"
            ).scalar_one()
        with MeiliClient(meilisearch) as client:
            # The sensor (running, as configured) requests the first full sync itself.
            wait_until("the first sync", lambda: count(client, index_name) == live, logs)
            with engine.begin() as c:
                c.execute(
                    sa.text("UPDATE PRODUCTS SET NAME = 'Postgres-run 이어폰', UPDATED_AT = :t "
                            "WHERE PRODUCT_ID = (SELECT MIN(PRODUCT_ID) FROM PRODUCTS "
                            "WHERE IS_DELETED = 'N')"),
                    {"t": dt.datetime(2030, 1, 1)},
                )  # fmt: skip
            wait_until("the change", lambda: found(client, index_name, "Postgres-run"), logs)
        wait_until("both runs to end", lambda: len(finished_runs(postgres)) == 2, logs)
    finally:
        for process in processes:
            os.killpg(process.pid, signal.SIGTERM)
        for process in processes:
            process.wait(timeout=60)
        engine.dispose()
    # The runs, their events and the sensor's ticks are in PostgreSQL.
    assert finished_runs(postgres) == [("sync_indexes", "SUCCESS")] * 2
    (ticks,) = query(postgres, "SELECT COUNT(*) FROM job_ticks")
    assert isinstance(ticks[0], int) and ticks[0] > 0


def query(postgres: RunningPostgres, sql: str) -> list[tuple[object, ...]]:
    storage = sa.create_engine(postgres.url.replace("postgresql://", "postgresql+psycopg2://"))
    try:
        with storage.connect() as c:
            return [tuple(row) for row in c.exec_driver_sql(sql).all()]
    finally:
        storage.dispose()


def finished_runs(postgres: RunningPostgres) -> list[tuple[object, ...]]:
    """(job, status) of every finished run in Dagster's run storage."""
    return sorted(
        query(postgres, "SELECT pipeline_name, status FROM runs "
                        "WHERE status IN ('SUCCESS', 'FAILURE', 'CANCELED')")
    )  # fmt: skip


def count(client: MeiliClient, index: str) -> int:
    return client.document_count(index) if client.index_exists(index) else -1


def found(client: MeiliClient, index: str, query: str) -> bool:
    return bool(client.search(index, query, limit=1)["hits"])
