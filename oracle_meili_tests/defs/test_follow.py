"""Follow mode against a real Meilisearch, recording into a Dagster instance."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import dagster as dg
import pytest
import sqlalchemy as sa
import yaml

from oracle_meili.cli import main
from oracle_meili.config import AppConfig
from oracle_meili.defs import metadata as keys
from oracle_meili.defs.assets import index_asset_key
from oracle_meili.defs.follow import follow
from oracle_meili.meili import MeiliClient
from oracle_meili.server import RunningMeilisearch, free_port
from oracle_meili.sync import SyncResult


def wait_for(condition: Callable[[], bool], *, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.1)


def rename(db: Path, product_id: int, name: str, at: dt.datetime) -> None:
    engine = sa.create_engine(f"sqlite:///{db}")
    with engine.begin() as c:
        c.execute(
            sa.text("UPDATE PRODUCTS SET NAME = :n, UPDATED_AT = :t WHERE PRODUCT_ID = :i"),
            {"n": name, "t": at, "i": product_id},
        )
    engine.dispose()


def found(client: MeiliClient, index: str, text: str) -> bool:
    return any(h["name"] == text for h in client.search(index, text)["hits"])


def test_follow_syncs_changes_and_records_materializations(
    app_config: AppConfig, demo_db: Path, meili_client: MeiliClient
) -> None:
    index = app_config.indexes[0]
    instance = dg.DagsterInstance.ephemeral()
    stop = threading.Event()
    results: list[SyncResult] = []
    worker = threading.Thread(
        target=follow,
        kwargs={
            "config": app_config,
            "index_names": [index.name],
            "interval_seconds": 0.1,
            "stop": stop,
            "instance": instance,
            "on_sync": results.append,
        },
    )
    worker.start()
    try:
        wait_for(lambda: len(results) == 1)  # the catch-up sync
        rename(demo_db, 9, "followed change", dt.datetime(2026, 9, 1))
        wait_for(lambda: found(meili_client, index.name, "followed change"))
    finally:
        stop.set()
        worker.join(timeout=30)
    assert not worker.is_alive()
    assert len(results) == 2
    key = index_asset_key(index)
    assert keys.latest_watermark(instance, key) == "datetime:2026-09-01T00:00:00"
    records = instance.fetch_materializations(key, limit=10).records
    assert len(records) == 2
    assert {r.partition_key for r in records} == {"incremental"}


def test_follow_command_stops_cleanly_on_sigterm(
    tmp_path: Path,
    demo_db: Path,
    meili_server: RunningMeilisearch,
    meili_client: MeiliClient,
    index_name: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    config = {
        "source": {"url": f"sqlite:///{demo_db}"},
        "indexes": [
            {"name": index_name, "table": "PRODUCTS", "primary_key": "PRODUCT_ID",
             "cursor": "UPDATED_AT"},
        ],
    }  # fmt: skip
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    home = tmp_path / "dagster_home"
    home.mkdir()
    dg.DagsterInstance.from_config(str(home)).dispose()  # initialise storage before the child
    env = {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "MEILI_URL": meili_server.url,
        "MEILI_API_KEY": meili_server.master_key,
    }
    child = subprocess.Popen(
        [sys.executable, "-m", "oracle_meili.cli", "follow", "--config",
         str(tmp_path / "config.yaml"), "--interval", "0.2"],
        env=env, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        wait_for(lambda: meili_client.index_exists(index_name))
        rename(demo_db, 11, "seen by follow", dt.datetime(2026, 10, 1))
        wait_for(lambda: found(meili_client, index_name, "seen by follow"))
    finally:
        child.send_signal(signal.SIGTERM)
        _, stderr = child.communicate(timeout=30)
    assert child.returncode == 0, stderr
    assert "stopped after" in stderr
    with dg.DagsterInstance.from_config(str(home)) as instance:
        watermark = keys.latest_watermark(instance, dg.AssetKey(["meilisearch", index_name]))
    assert watermark == "datetime:2026-10-01T00:00:00"

    # The same history, read back from the instance by the CLI (seed TEST-111, TEST-112).
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    config_arg = ["--config", str(tmp_path / "config.yaml")]
    assert main(["history", *config_arg, "--index", index_name, "--dagster"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) >= 2
    assert all("incremental  succeeded" in line for line in lines)
    assert main(["status", *config_arg, "--dagster"]) == 0
    assert "watermark datetime:2026-10-01T00:00:00" in capsys.readouterr().out


def test_follow_outlives_a_failing_sync(
    app_config: AppConfig, caplog: pytest.LogCaptureFixture
) -> None:
    """Meilisearch down: each poll logs the failure and records nothing; no crash."""
    down = app_config.meilisearch.model_copy(
        update={"url": f"http://127.0.0.1:{free_port()}", "timeout_seconds": 1, "retries": 0}
    )
    config = app_config.model_copy(update={"meilisearch": down})
    instance = dg.DagsterInstance.ephemeral()
    stop = threading.Event()
    timer = threading.Timer(1.0, stop.set)
    timer.start()
    syncs = follow(
        config,
        index_names=[config.indexes[0].name],
        interval_seconds=0.1,
        stop=stop,
        instance=instance,
    )
    assert syncs == 0
    failures = [r for r in caplog.records if "sync failed, retrying" in r.getMessage()]
    assert len(failures) >= 2
    assert keys.latest_watermark(instance, index_asset_key(config.indexes[0])) is None


def test_follow_outlives_a_failing_change_probe(
    app_config: AppConfig, caplog: pytest.LogCaptureFixture, demo_db: Path
) -> None:
    """Issue #13 item 9: one source error in the change probe used to end `follow`."""
    locked = sa.create_engine(f"sqlite:///{demo_db}", connect_args={"timeout": 0})
    holder = locked.connect()
    holder.exec_driver_sql("BEGIN EXCLUSIVE")  # every read now fails: "database is locked"
    instance = dg.DagsterInstance.ephemeral()
    stop = threading.Event()
    threading.Timer(1.5, stop.set).start()
    source = app_config.source.model_copy(update={"url": f"sqlite:///{demo_db}?timeout=0"})
    config = app_config.model_copy(update={"source": source})
    try:
        follow(
            config,
            index_names=[config.indexes[0].name],
            interval_seconds=0.1,
            stop=stop,
            instance=instance,
        )
    finally:
        holder.rollback()
        holder.close()
        locked.dispose()
    failures = [r for r in caplog.records if "sync failed, retrying" in r.getMessage()]
    assert failures and "locked" in failures[0].getMessage()
