"""The follow run through the Dagster daemon with the shipped ``deploy/dagster.yaml``, and
with ``deploy/production/dagster.yaml`` on a PostgreSQL cluster of the test's own: its
sensor starts it, its syncs are materializations linked to it, an index whose sync fails
for good is shown failed while the others are followed on, a full sync run while it follows
loses nothing, a run killed mid-sync (the follow run, or a full sync run holding the index's
pool) is replaced and frees what it held, and terminating it stops it."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
import yaml

from oracle_meili.adapters.meili import MeiliClient
from oracle_meili.adapters.server import RunningMeilisearch
from oracle_meili.defs.follow_reports import SyncFailure
from oracle_meili.defs.metadata_sets import SyncMetadata
from oracle_meili.defs.names import index_asset_key
from oracle_meili_tests.commit_schedules import Commit, EventsTable
from oracle_meili_tests.defs.test_pools import PROJECT, daemon
from oracle_meili_tests.defs.test_sensor_daemon import events_scenario, searchable
from oracle_meili_tests.postgres import postgres_bin, postgres_cluster

FOLLOW_JOB = "follow_changes"
IN_PROGRESS = [dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.STARTED]


def wait_for(condition: Callable[[], object], *, timeout: float, what: str) -> object:
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        assert time.monotonic() < deadline, f"{what}: not within {timeout} s"
        time.sleep(0.3)
    return value


def following(instance: dg.DagsterInstance) -> dg.DagsterRun | None:
    """The follow run in progress, once it has started following."""
    runs = instance.get_runs(filters=dg.RunsFilter(job_name=FOLLOW_JOB, statuses=IN_PROGRESS))
    for run in runs:
        if any("following" in e.user_message for e in instance.all_logs(run.run_id)):
            return run
    return None


def worker_pid(instance: dg.DagsterInstance, run_id: str) -> int:
    """The run worker's pid, from the in-process executor's own log line."""
    for event in instance.all_logs(run_id):
        found = re.search(r"Executing steps in process \(pid: (\d+)\)", event.user_message)
        if found:
            return int(found.group(1))
    raise AssertionError(f"no worker pid logged for run {run_id}")


@pytest.fixture(params=["shipped", "production"])
def instance_settings(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> Iterator[dict[str, Any]]:
    """The instance file as shipped: ``deploy/dagster.yaml``, or the production one on a
    PostgreSQL cluster of the test's own (its variables set for the processes)."""
    if request.param == "shipped":
        yield yaml.safe_load((PROJECT / "deploy" / "dagster.yaml").read_text())
        return
    if postgres_bin() is None:
        pytest.skip("no PostgreSQL under /usr/lib/postgresql/*/bin: the production file's storage")
    with postgres_cluster() as postgres:
        for name, value in postgres.environment().items():
            monkeypatch.setenv(name, value)
        yield yaml.safe_load((PROJECT / "deploy" / "production" / "dagster.yaml").read_text())


def test_the_follow_run_keeps_the_index_fresh_through_faults(
    tmp_path: Path,
    meili_server: RunningMeilisearch,
    meili_client: MeiliClient,
    index_name: str,
    instance_settings: dict[str, Any],
) -> None:
    follow = {"running": True, "interval_seconds": 0.5}
    table, home, env = events_scenario(
        tmp_path, meili_server, index_name, instance=instance_settings, lookback_seconds=5,
        batch_size=500, follow=follow,
    )  # fmt: skip
    broken = f"{index_name}_broken"
    add_index_with_a_bad_id(tmp_path, table, broken, follow)
    found = searchable(meili_client, index_name, table)
    launch = [sys.executable, "-m", "dagster", "job", "launch", "-m", "oracle_meili.definitions"]
    try:
        with daemon(env, tmp_path), dg.DagsterInstance.from_config(str(home)) as instance:
            run = wait_for(lambda: following(instance), timeout=90, what="a follow run")
            assert isinstance(run, dg.DagsterRun)
            wait_for(found, timeout=30, what="the rows there before the follow run")

            # A sync of the follow run is a materialization of the index, linked to it.
            table.commit(Commit(row=None, lateness=0))
            wait_for(found, timeout=30, what="a change")
            event = instance.get_latest_materialization_event(index_asset_key(index_name))
            assert event is not None and event.run_id == run.run_id
            materialization = event.asset_materialization
            assert materialization is not None and materialization.partition == "incremental"
            assert SyncMetadata.key("watermark") in materialization.metadata
            assert "dagster/column_schema" in materialization.metadata

            # The other index's sync fails for good (a key Meilisearch cannot take): shown as
            # a failed sync on its asset, naming the row, and recorded once, not every poll.
            failure = wait_for(lambda: failed_sync(instance, broken), timeout=30,
                               what="the broken index's failure on its asset")  # fmt: skip
            assert isinstance(failure, dg.EventLogRecord) and failure.run_id == run.run_id
            shown = failure.asset_observation
            assert shown is not None and shown.partition == "incremental"
            assert "bad id!" in shown.metadata[SyncFailure.key("sync_error")].value  # type: ignore[operator]
            assert not instance.fetch_materializations(index_asset_key(broken), limit=1).records

            # A full sync run while rows are written: nothing lost once the writes stop.
            writing = threading.Event()
            writer = threading.Thread(target=keep_writing, args=(table, writing))
            writer.start()
            full = ["-j", "sync_indexes", "-o", f"meilisearch__{index_name}",
                    "--tags", '{"dagster/partition": "full"}']  # fmt: skip
            try:
                subprocess.run([*launch, *full], env=env, cwd=tmp_path, check=True,
                               capture_output=True)  # fmt: skip
                wait_for(lambda: full_sync_ended(instance, index_name), timeout=120,
                         what="the full sync run")  # fmt: skip
            finally:
                writing.set()
                writer.join()
            wait_for(found, timeout=30, what="the rows written during the full sync")
            assert failed_sync(instance, broken, count=True) == 1

            # A sync run killed (kill -9) while it holds the index's pool: the slot is freed,
            # and the follow run syncs the index again within 60 s. (Rows enough for the
            # full sync to take seconds; searched for as a count, not one by one.)
            bulk_rows(table, 30_000)
            subprocess.run([*launch, *full], env=env, cwd=tmp_path, check=True,
                           capture_output=True)  # fmt: skip
            killed = wait_for(lambda: step_started(instance, index_name), timeout=60,
                              what="a second full sync's step")  # fmt: skip
            assert isinstance(killed, str)
            os.kill(worker_pid(instance, killed), signal.SIGKILL)
            table.commit(Commit(row=None, lateness=0))
            wait_for(found, timeout=60, what="a change after a sync run was killed in its step")
            assert instance.get_run_by_id(killed).status == dg.DagsterRunStatus.FAILURE  # type: ignore[union-attr]

            # The follow run killed (kill -9) mid-sync: another one follows within 60 s.
            for _ in range(3000):
                table.commit(Commit(row=None, lateness=0))
            time.sleep(0.3)  # inside the sync of those rows
            os.kill(worker_pid(instance, run.run_id), signal.SIGKILL)
            replacement = wait_for(
                lambda: (r := following(instance)) is not None and r.run_id != run.run_id and r,
                timeout=60,
                what="a new follow run after kill -9",
            )
            assert isinstance(replacement, dg.DagsterRun)
            assert instance.get_run_by_id(run.run_id).status == dg.DagsterRunStatus.FAILURE  # type: ignore[union-attr]
            wait_for(found, timeout=30, what="every row after the kill")

            # Terminated from the UI: it stops within seconds, and is not started again.
            instance.run_coordinator.cancel_run(replacement.run_id)
            wait_for(
                lambda: (
                    instance.get_run_by_id(replacement.run_id).status  # type: ignore[union-attr]
                    == dg.DagsterRunStatus.CANCELED
                ),
                timeout=20,
                what="the terminated follow run to stop",
            )
            time.sleep(11)  # two ticks of its sensor
            assert following(instance) is None
    finally:
        table.engine.dispose()


def add_index_with_a_bad_id(
    folder: Path, table: EventsTable, name: str, follow: dict[str, Any]
) -> None:
    """A second followed index, of a table whose one row has a key Meilisearch refuses."""
    with table.engine.begin() as c:
        c.exec_driver_sql(
            "CREATE TABLE BROKEN (ID TEXT PRIMARY KEY, NAME TEXT, UPDATED_AT DATETIME NOT NULL)"
        )
        c.exec_driver_sql(
            "INSERT INTO BROKEN VALUES ('bad id!', 'x', strftime('%Y-%m-%d %H:%M:%S', 'now'))"
        )
    config = yaml.safe_load((folder / "config.yaml").read_text())
    config["indexes"].append(
        {"name": name, "table": "BROKEN", "primary_key": "ID", "cursor": "UPDATED_AT",
         "follow": follow}
    )  # fmt: skip
    (folder / "config.yaml").write_text(yaml.safe_dump(config))


def failed_sync(
    instance: dg.DagsterInstance, index: str, *, count: bool = False
) -> dg.EventLogRecord | int | None:
    """The newest failed sync observed on ``index``'s asset (or how many there are)."""
    records = instance.fetch_observations(index_asset_key(index), limit=100).records
    failures = [r for r in records if SyncFailure.key("sync_error") in r.asset_observation.metadata]  # type: ignore[union-attr]
    if count:
        return len(failures)
    return failures[0] if failures else None


def bulk_rows(table: EventsTable, count: int) -> None:
    """``count`` rows in one statement, with ids above the tracked ones (not tracked)."""
    with table.engine.begin() as c:
        c.exec_driver_sql(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?) "
            "INSERT INTO EVENTS (ID, NAME, UPDATED_AT) "
            "SELECT 1000000 + i, 'bulk' || i, strftime('%Y-%m-%d %H:%M:%S', 'now') FROM n",
            (count,),
        )


def keep_writing(table: EventsTable, stop: threading.Event) -> None:
    while not stop.is_set():
        table.commit(Commit(row=None, lateness=0))
        stop.wait(0.05)


def step_started(instance: dg.DagsterInstance, index: str) -> str | None:
    """The newest sync run of the index, once its step has started (its pool slot held)."""
    runs = instance.get_runs(filters=dg.RunsFilter(job_name="sync_indexes"), limit=1)
    if runs and any(
        e.dagster_event_type == dg.DagsterEventType.STEP_START
        for e in instance.all_logs(runs[0].run_id)
    ):
        return runs[0].run_id
    return None


def full_sync_ended(instance: dg.DagsterInstance, index: str) -> bool:
    runs = instance.get_runs(filters=dg.RunsFilter(job_name="sync_indexes"))
    return bool(runs) and runs[0].status == dg.DagsterRunStatus.SUCCESS


def test_a_follow_run_hands_over_without_a_pause(
    tmp_path: Path, meili_server: RunningMeilisearch, meili_client: MeiliClient, index_name: str
) -> None:
    """After ``handover_after_minutes`` the run asks for a successor and ends once it has
    started; rows written all along, then none, are all searchable."""
    table, home, env = events_scenario(
        tmp_path, meili_server, index_name, lookback_seconds=2,
        follow={"running": True, "interval_seconds": 0.5, "handover_after_minutes": 0.25},
    )  # fmt: skip
    found = searchable(meili_client, index_name, table)
    writing = threading.Event()
    writer = threading.Thread(target=keep_writing, args=(table, writing))
    try:
        with daemon(env, tmp_path), dg.DagsterInstance.from_config(str(home)) as instance:
            first = wait_for(lambda: following(instance), timeout=90, what="a follow run")
            assert isinstance(first, dg.DagsterRun)
            writer.start()
            ended = wait_for(
                lambda: (
                    instance.get_run_by_id(first.run_id).status  # type: ignore[union-attr]
                    == dg.DagsterRunStatus.SUCCESS
                ),
                timeout=90,
                what="the first follow run to hand over and end",
            )
            assert ended
            successor = following(instance)
            assert successor is not None and successor.run_id != first.run_id
            # They overlapped: the successor had started before the first one ended.
            before, after = (instance.get_run_record_by_id(r.run_id) for r in (first, successor))
            assert before is not None and after is not None
            assert after.start_time is not None and before.end_time is not None
            assert after.start_time < before.end_time
            writing.set()
            writer.join()
            wait_for(found, timeout=30, what="every row written across the handover")
    finally:
        writing.set()
        if writer.is_alive():
            writer.join()
        table.engine.dispose()
