"""The follow run through the Dagster daemon with the shipped ``deploy/dagster.yaml``: its
sensor starts it, its syncs are materializations linked to it, a full sync run while it
follows loses nothing, a run killed mid-sync (the follow run, or a full sync run holding the
index's pool) is replaced and frees what it held, and terminating it stops it."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import dagster as dg

from oracle_meili.adapters.meili import MeiliClient
from oracle_meili.adapters.server import RunningMeilisearch
from oracle_meili.defs.metadata_sets import SyncMetadata
from oracle_meili.defs.names import index_asset_key
from oracle_meili_tests.commit_schedules import Commit, EventsTable
from oracle_meili_tests.defs.test_pools import daemon
from oracle_meili_tests.defs.test_sensor_daemon import events_scenario, searchable

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


def test_the_follow_run_keeps_the_index_fresh_through_faults(
    tmp_path: Path, meili_server: RunningMeilisearch, meili_client: MeiliClient, index_name: str
) -> None:
    table, home, env = events_scenario(
        tmp_path, meili_server, index_name, lookback_seconds=5, batch_size=500,
        follow={"running": True, "interval_seconds": 0.5},
    )  # fmt: skip
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

            # A full sync run while rows are written: nothing lost once the writes stop.
            writing = threading.Event()
            writer = threading.Thread(target=keep_writing, args=(table, writing))
            writer.start()
            full = ["-j", "sync_indexes", "--tags", '{"dagster/partition": "full"}']
            try:
                subprocess.run([*launch, *full], env=env, cwd=tmp_path, check=True,
                               capture_output=True)  # fmt: skip
                wait_for(lambda: full_sync_ended(instance, index_name), timeout=120,
                         what="the full sync run")  # fmt: skip
            finally:
                writing.set()
                writer.join()
            wait_for(found, timeout=30, what="the rows written during the full sync")

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
