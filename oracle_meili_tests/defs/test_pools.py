"""Two syncs of one index never overlap: the per-index pool with the shipped instance settings."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
import sqlalchemy as sa
import yaml

from oracle_meili.adapters.server import RunningMeilisearch
from oracle_meili.demo import create_demo

PROJECT = Path(__file__).resolve().parents[2]


def step_window(instance: dg.DagsterInstance, run_id: str) -> tuple[float, float]:
    """When the run's sync step started and finished (event timestamps)."""
    events = instance.all_logs(run_id)
    start = next(
        e.timestamp for e in events if e.dagster_event_type == dg.DagsterEventType.STEP_START
    )
    end = next(
        e.timestamp
        for e in events
        if e.dagster_event_type
        in (dg.DagsterEventType.STEP_SUCCESS, dg.DagsterEventType.STEP_FAILURE)
    )
    return start, end


def scenario(
    tmp_path: Path,
    meili_server: RunningMeilisearch,
    index_name: str,
    instance: dict[str, Any],
    *,
    indexes: int = 1,
    source: dict[str, Any] | None = None,
) -> tuple[Path, dict[str, str]]:
    """A 40,000-row demo source, ``indexes`` indexes of it (``index_name``, then
    ``index_name_2``, ...) and a Dagster home with ``instance`` as its dagster.yaml;
    returns the home and the environment of the processes that run the syncs."""
    db = create_demo(tmp_path / "demo.db", rows=40_000)
    config = {
        "source": {"url": f"sqlite:///{db}", **(source or {})},
        "indexes": [
            {"name": index_name if n == 1 else f"{index_name}_{n}", "table": "PRODUCTS",
             "primary_key": "PRODUCT_ID", "cursor": "UPDATED_AT", "batch_size": 2000}
            for n in range(1, indexes + 1)
        ],
    }  # fmt: skip
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text(yaml.safe_dump(instance))
    dg.DagsterInstance.from_config(str(home)).dispose()  # initialise storage first
    env = {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "ORACLE_MEILI_CONFIG": str(tmp_path / "config.yaml"),
        "MEILI_URL": meili_server.url,
        "MEILI_API_KEY": meili_server.master_key,
    }
    return home, env


def shipped_instance() -> dict[str, Any]:
    instance: dict[str, Any] = yaml.safe_load((PROJECT / "deploy" / "dagster.yaml").read_text())
    return instance


def test_second_sync_of_an_index_waits_for_the_first(
    tmp_path: Path, meili_server: RunningMeilisearch, index_name: str
) -> None:
    """Two materializations of one index (as the Materialize button launches them): the
    index's pool runs their sync steps one after the other."""
    home, env = scenario(tmp_path, meili_server, index_name, shipped_instance())
    command = [
        sys.executable, "-m", "dagster", "asset", "materialize", "-m", "oracle_meili.definitions",
        "--select", f"meilisearch/{index_name}", "--partition",
    ]  # fmt: skip
    # NOTE: the pool's limit set up front, as docs/deploying.md says: with `default_limit`
    # alone two runs of a fresh instance were seen to overlap once, even after a first run.
    with dg.DagsterInstance.from_config(str(home)) as instance:
        instance.event_log_storage.set_concurrency_slots(f"oracle_meili/{index_name}", 1)
    # A first sync on its own: it creates the index.
    subprocess.run([*command, "full"], env=env, cwd=tmp_path, check=True, capture_output=True)
    # Two full syncs (each takes seconds; an incremental with nothing to read would not).
    children = [
        subprocess.Popen([*command, "full"], env=env, cwd=tmp_path, stderr=subprocess.PIPE)
        for _ in range(2)
    ]
    for child in children:
        _, stderr = child.communicate(timeout=300)
        assert child.returncode == 0, stderr.decode()[-2000:]
    with dg.DagsterInstance.from_config(str(home)) as instance:
        runs = instance.get_runs(limit=2)  # the concurrent two, newest first
        assert len(runs) == 2
        (a_start, a_end), (b_start, b_end) = sorted(step_window(instance, r.run_id) for r in runs)
    assert b_start >= a_end, (a_start, a_end, b_start, b_end)


def test_runs_launched_with_the_shipped_settings_never_overlap(
    tmp_path: Path, meili_server: RunningMeilisearch, index_name: str
) -> None:
    """The shipped dagster.yaml queues runs and a daemon launches them; two syncs of one
    index still never overlap, because the index's pool is enforced where the sync step
    runs. Runs are submitted with `dagster job launch`, as the sensor submits them, and the
    daemon starts each in a run worker process of its own."""
    home, env = scenario(tmp_path, meili_server, index_name, shipped_instance())
    with dg.DagsterInstance.from_config(str(home)) as instance:
        # As docs/deploying.md says: the pool's limit set up front.
        instance.event_log_storage.set_concurrency_slots(f"oracle_meili/{index_name}", 1)
    statuses, windows = launch_and_run([index_name] * 2, env=env, cwd=tmp_path, home=home)
    (a_start, a_end), (b_start, b_end) = windows
    assert b_start >= a_end, (statuses, a_start, a_end, b_start, b_end)
    assert statuses == [dg.DagsterRunStatus.SUCCESS] * 2


@contextmanager
def daemon(env: dict[str, str], cwd: Path) -> Iterator[None]:
    """A Dagster daemon loading the code location, for the block."""
    process = subprocess.Popen(
        [str(Path(sys.executable).parent / "dagster-daemon"), "run",
         "-m", "oracle_meili.definitions"],
        env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True,
    )  # fmt: skip
    try:
        yield
    finally:
        # SIGTERM, then SIGKILL to whatever is left of the group: a code server the daemon
        # started can outlive it, waiting for its runs.
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=60)
        finally:
            with suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)


def launch_and_run(
    indexes: list[str], *, env: dict[str, str], cwd: Path, home: Path
) -> tuple[list[dg.DagsterRunStatus], list[tuple[float, float]]]:
    """Submit a full sync of each index with `dagster job launch` (queued, as the sensor's
    runs are: the job `sync_indexes`, the index's step selected), then let a daemon launch
    them; their statuses and step windows."""
    launch = [sys.executable, "-m", "dagster", "job", "launch", "-m", "oracle_meili.definitions",
              "-j", "sync_indexes"]  # fmt: skip
    launchers = [
        subprocess.Popen(
            [*launch, "-o", f"meilisearch__{index}", "--tags", '{"dagster/partition": "full"}'],
            env=env,
            cwd=cwd,
            stderr=subprocess.PIPE,
        )
        for index in indexes
    ]
    for launcher in launchers:
        _, stderr = launcher.communicate(timeout=120)
        assert launcher.returncode == 0, stderr.decode()[-2000:]
    with daemon(env, cwd):
        return finished_runs(home)


def finished_runs(
    home: Path,
) -> tuple[list[dg.DagsterRunStatus], list[tuple[float, float]]]:
    """The two runs' statuses and sync-step windows, once both have finished."""
    with dg.DagsterInstance.from_config(str(home)) as instance:
        deadline = time.monotonic() + 300
        while True:
            runs = instance.get_runs(limit=2)
            if len(runs) == 2 and all(r.is_finished for r in runs):
                break
            assert time.monotonic() < deadline, [r.status for r in runs]
            time.sleep(0.5)
        return [r.status for r in runs], sorted(step_window(instance, r.run_id) for r in runs)


def test_the_source_limit_holds_across_indexes(
    tmp_path: Path, meili_server: RunningMeilisearch, index_name: str
) -> None:
    """Two indexes of one source, each in its own pool, with `source.max_concurrent_syncs:
    1`: their runs are launched together (the shipped settings, a daemon), and the two
    syncs read the source one after the other."""
    home, env = scenario(
        tmp_path, meili_server, index_name, shipped_instance(), indexes=2,
        source={"max_concurrent_syncs": 1},
    )  # fmt: skip
    statuses, _ = launch_and_run([index_name, f"{index_name}_2"], env=env, cwd=tmp_path, home=home)
    assert statuses == [dg.DagsterRunStatus.SUCCESS] * 2
    with dg.DagsterInstance.from_config(str(home)) as instance:
        windows = sorted(sync_window(instance, r.run_id) for r in instance.get_runs(limit=2))
        waited = [
            e.user_message
            for r in instance.get_runs(limit=2)
            for e in instance.all_logs(r.run_id)
            if "waiting for a slot of oracle_meili/source/" in e.user_message
        ]
    (_, first_end), (second_start, _) = windows
    assert second_start >= first_end, windows
    assert len(waited) == 1  # the second one said why it waited


def sync_window(instance: dg.DagsterInstance, run_id: str) -> tuple[float, float]:
    """From the sync's start (its source slot held) to its last log line."""
    logs = instance.all_logs(run_id)
    start = next(e.timestamp for e in logs if "sync started" in e.user_message)
    end = next(e.timestamp for e in logs if " sync read " in e.user_message)
    return start, end


def test_two_steps_setting_the_source_limit_at_once_both_go_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The slices of a run start together and each gives the source's pool its limit: the
    one whose insert loses the race on the pool's row goes on with the limit the other set
    (it failed the step before)."""
    from oracle_meili.defs import throttle
    from oracle_meili.defs.dagster_private import pool_limit, set_pool_limit

    instance = dg.DagsterInstance.ephemeral()
    pool = "oracle_meili/source/test"
    raced: list[str] = []

    def set_by_another_first(instance: dg.DagsterInstance, pool: str, limit: int) -> None:
        if not raced:  # another step inserts the row first; this insert then fails
            raced.append(pool)
            set_pool_limit(instance, pool, limit)
            raise sa.exc.IntegrityError("INSERT INTO concurrency_limits", {}, Exception("UNIQUE"))
        set_pool_limit(instance, pool, limit)

    monkeypatch.setattr(throttle, "set_pool_limit", set_by_another_first)
    throttle.ensure_pool_limit(instance, pool, 2)
    assert raced == [pool] and pool_limit(instance, pool) == 2
