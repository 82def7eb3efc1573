"""Follow mode against a real Meilisearch, recording into a state file or a Dagster
instance; and one state shared by the CLI, follow and Dagster."""

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

from oracle_meili.adapters.meili import MeiliClient
from oracle_meili.adapters.server import RunningMeilisearch, free_port
from oracle_meili.cli import main
from oracle_meili.config import AppConfig, IndexConfig
from oracle_meili.defs.metadata import latest_watermark
from oracle_meili.defs.names import index_asset_key
from oracle_meili.defs.state import DagsterInstanceState
from oracle_meili.engine.follow import RETRY_AFTER_FAILURE_SECONDS, Follower, follow
from oracle_meili.engine.result import SyncResult
from oracle_meili.engine.runner import Runner
from oracle_meili.engine.state import StateFile, StateStore
from oracle_meili_tests.commit_schedules import Clock


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


def runner(config: AppConfig, state: StateStore) -> Runner:
    return Runner(config.source, config.meilisearch, state=state)


def dagster_state(config: AppConfig, instance: dg.DagsterInstance) -> DagsterInstanceState:
    return DagsterInstanceState(instance, meilisearch_url=config.meilisearch.url)


def test_follow_syncs_changes_and_records_materializations(
    app_config: AppConfig, demo_db: Path, meili_client: MeiliClient
) -> None:
    index = app_config.indexes[0]
    instance = dg.DagsterInstance.ephemeral()
    stop = threading.Event()
    results: list[SyncResult] = []
    worker = threading.Thread(
        target=follow,
        args=(runner(app_config, dagster_state(app_config, instance)), [index]),
        kwargs={"interval_seconds": 0.1, "stop": stop, "on_sync": results.append},
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
    assert latest_watermark(instance, key) == "datetime:2026-09-01T00:00:00"
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
         str(tmp_path / "config.yaml"), "--interval", "0.2", "--dagster"],
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
        watermark = latest_watermark(instance, index_asset_key(index_name))
    assert watermark == "datetime:2026-10-01T00:00:00"

    # The same history, read back from the instance by the CLI.
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    config_arg = ["--config", str(tmp_path / "config.yaml")]
    assert main(["history", *config_arg, "--index", index_name, "--dagster"]) == 0
    _, *lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) >= 2
    assert all(line.split()[2:5] == ["incremental", "succeeded", "CLI"] for line in lines)
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
        runner(config, dagster_state(config, instance)),
        config.indexes,
        interval_seconds=0.1,
        stop=stop,
    )
    assert syncs == 0
    failures = [r for r in caplog.records if "retrying at the next poll" in r.getMessage()]
    assert len(failures) >= 2
    assert latest_watermark(instance, index_asset_key(config.indexes[0])) is None


def test_follow_outlives_a_failing_change_probe(
    app_config: AppConfig, caplog: pytest.LogCaptureFixture, demo_db: Path
) -> None:
    """A source error in the change probe does not end `follow`."""
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
            runner(config, dagster_state(config, instance)),
            config.indexes,
            interval_seconds=0.1,
            stop=stop,
        )
    finally:
        holder.rollback()
        holder.close()
        locked.dispose()
    failures = [r for r in caplog.records if "retrying at the next poll" in r.getMessage()]
    assert failures and "locked" in failures[0].getMessage()


@pytest.mark.parametrize("store", ["file", "dagster"])
def test_follow_after_a_cli_sync_continues_from_its_watermark(
    app_config: AppConfig,
    tmp_path: Path,
    demo_db: Path,
    store: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`oracle-meili sync --dagster` and `follow --dagster` share one watermark: `follow`
    after a CLI full sync reads only what changed since."""
    index = app_config.indexes[0].model_copy(update={"lookback_seconds": 0.0})
    config_file = tmp_path / "config.yaml"
    config_file.write_text(
        yaml.safe_dump(
            {
                "source": {"url": f"sqlite:///{demo_db}"},
                "indexes": [{"name": index.name, "table": "PRODUCTS",
                             "primary_key": "PRODUCT_ID", "cursor": "UPDATED_AT"}],
            }
        )
    )  # fmt: skip
    monkeypatch.setenv("MEILI_URL", app_config.meilisearch.url)
    assert app_config.meilisearch.api_key is not None
    monkeypatch.setenv("MEILI_API_KEY", app_config.meilisearch.api_key.get_secret_value())
    home = tmp_path / "dagster_home"
    home.mkdir()
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    choice = ["--dagster"] if store == "dagster" else ["--state", str(tmp_path / "s.json")]
    sync = ["sync", "--config", str(config_file), "--index", index.name, "--mode", "full"]
    assert main([*sync, *choice]) == 0
    capsys.readouterr()
    if store == "dagster":
        # Recorded as a sync run records it: the index's columns and their lineage too.
        with dg.DagsterInstance.get() as instance:
            event = instance.get_latest_materialization_event(index_asset_key(index))
            assert event is not None and event.asset_materialization is not None
            recorded = event.asset_materialization.metadata
            assert {"dagster/column_schema", "dagster/column_lineage"} <= set(recorded)
    rename(demo_db, 5, "after the CLI sync", dt.datetime(2026, 11, 1))

    with dg.DagsterInstance.get() as instance:
        state: StateStore = (
            dagster_state(app_config, instance)
            if store == "dagster"
            else StateFile(tmp_path / "s.json")
        )
        stop = threading.Event()
        results: list[SyncResult] = []

        def first_sync(result: SyncResult) -> None:
            results.append(result)
            stop.set()

        follow(runner(app_config, state), [index], interval_seconds=0.1, stop=stop,
               on_sync=first_sync)  # fmt: skip
        assert results[0].rows_read == 1  # the one changed row, not the whole table
        assert state.watermark(index.name) == "datetime:2026-11-01T00:00:00"


def test_an_index_that_fails_for_good_waits_while_the_others_are_followed(
    app_config: AppConfig, demo_db: Path, meili_client: MeiliClient, tmp_path: Path
) -> None:
    """A sync that fails for good (a key Meilisearch cannot take) is not tried again at
    every poll, only after ``RETRY_AFTER_FAILURE_SECONDS``; the other index is synced at
    every change meanwhile."""
    engine = sa.create_engine(f"sqlite:///{demo_db}")
    with engine.begin() as c:
        c.exec_driver_sql("CREATE TABLE BROKEN (ID TEXT PRIMARY KEY, UPDATED_AT DATETIME)")
        c.exec_driver_sql("INSERT INTO BROKEN VALUES ('bad id!', '2026-01-01 00:00:00')")
    engine.dispose()
    good = app_config.indexes[0]
    broken = IndexConfig.model_validate(
        {"name": f"{good.name}_broken", "table": "BROKEN", "primary_key": "ID",
         "cursor": "UPDATED_AT"}
    )  # fmt: skip
    clock = Clock()
    runner = Runner(
        app_config.source, app_config.meilisearch, state=StateFile(tmp_path / "s.json"), clock=clock
    )
    failed: list[str] = []
    with Follower(
        runner,
        [good, broken],
        max_concurrent_syncs=2,
        on_failure=lambda index, error: failed.append(f"{index.name}: {error}"),
    ) as follower:

        def poll() -> None:
            follower.poll()
            follower.finish_syncs()

        poll()
        assert follower.syncs == 1 and len(failed) == 1 and "bad id!" in failed[0]
        for n in range(3):
            rename(demo_db, 7, f"renamed {n}", dt.datetime(2030, 1, 1, 0, 0, n))
            clock.advance(1)
            poll()
            assert found(meili_client, good.name, f"renamed {n}")
        assert len(failed) == 1  # not tried again at every poll
        clock.advance(RETRY_AFTER_FAILURE_SECONDS)
        poll()
        assert len(failed) == 2
