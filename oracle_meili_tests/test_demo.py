"""The embedded demo: its source, and README's ``./dev demo`` with a second terminal."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

import dagster as dg
import psutil
import pytest
import sqlalchemy as sa
from dotenv import dotenv_values

from oracle_meili.adapters.meili import MeiliClient
from oracle_meili.adapters.server import free_port
from oracle_meili.config import MeilisearchConfig
from oracle_meili.demo import create_demo, demo_rows


def test_demo_is_deterministic() -> None:
    assert list(demo_rows(50)) == list(demo_rows(50))
    assert list(demo_rows(5, seed=1)) != list(demo_rows(5, seed=2))


def test_demo_catalogue_has_korean_english_nulls_and_soft_deletes(tmp_path: Path) -> None:
    path = create_demo(tmp_path / "d.db", rows=2000)
    engine = sa.create_engine(f"sqlite:///{path}")
    with engine.connect() as c:
        count, korean, deleted, null_descriptions = c.execute(
            sa.text(
                "SELECT COUNT(*), SUM(LANG = 'ko'), SUM(IS_DELETED = 'Y'), "
                "SUM(DESCRIPTION IS NULL) FROM PRODUCTS"
            )
        ).one()
    engine.dispose()
    assert count == 2000
    assert 800 < korean < 1200
    assert 0 < deleted < 100 and 0 < null_descriptions < 150


def test_recreating_replaces_the_database(tmp_path: Path) -> None:
    create_demo(tmp_path / "d.db", rows=30)
    path = create_demo(tmp_path / "d.db", rows=10)
    engine = sa.create_engine(f"sqlite:///{path}")
    with engine.connect() as c:
        assert c.execute(sa.text("SELECT COUNT(*) FROM PRODUCTS")).scalar_one() == 10
    engine.dispose()


PROJECT = Path(__file__).resolve().parents[1]


def project_copy(root: Path) -> Path:
    """A copy of the project's files, sharing its installed virtualenv and Meilisearch."""
    stamp = hashlib.sha256((PROJECT / "pyproject.toml").read_bytes()).hexdigest()[:16]
    if not (PROJECT / ".venv" / f".installed-{stamp}").exists():
        pytest.skip(
            "the virtualenv was not installed from this pyproject.toml (run ./dev setup): "
            "the copy's ./dev would reinstall the shared virtualenv"
        )
    files = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=PROJECT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    for name in files:
        if (PROJECT / name).is_file():
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(PROJECT / name, root / name)
    for shared in (".venv", "node_modules"):
        (root / shared).symlink_to(PROJECT / shared)
    return root


def bare_environment() -> dict[str, str]:
    """A new terminal's environment: no MEILI_*, DAGSTER_* or ORACLE_MEILI_* variables."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MEILI_", "DAGSTER_"))}
    env.pop("ORACLE_MEILI_CONFIG", None)
    return env


def second_terminal(copy: Path, *args: str, timeout: float = 120) -> str:
    """``oracle-meili ARGS`` from the project folder with nothing set by hand."""
    done = subprocess.run(
        [str(copy / ".venv" / "bin" / "oracle-meili"), *args],
        cwd=copy,
        env=bare_environment(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "alembic" not in done.stderr  # the instance's migrations stay quiet
    return done.stdout


def test_dev_demo_and_a_second_terminal(tmp_path: Path) -> None:
    """README's first command, ``./dev demo``, from a copy of the project: it syncs the demo
    as runs of ``sync_indexes`` (full, then a catch-up incremental), prints a Korean and an
    English search with hits and serves the UI; its follow run makes a row edited in
    ``demo/demo.db`` searchable and records the sync; meanwhile the CLI in a second terminal
    reaches the demo's Meilisearch, instance and configuration with nothing set by hand.
    SIGTERM to a backgrounded ``./dev demo`` stops everything it started within 30 s and
    removes the file that told the CLI where the demo is."""
    copy = project_copy(tmp_path / "project")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MEILI_", "DAGSTER_"))}
    env["DAGSTER_PORT"] = str(free_port())
    output = tmp_path / "demo.out"
    with output.open("w") as out:
        demo = subprocess.Popen(
            ["./dev", "demo"], cwd=copy, env=env, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 600
        while "Dagster UI on" not in output.read_text():
            assert demo.poll() is None, output.read_text()[-3000:]
            assert time.monotonic() < deadline, output.read_text()[-3000:]
            time.sleep(0.5)
        printed = output.read_text()
        korean = re.search(r"search '이어폰': (.+)", printed)
        english = re.search(r"search 'wireless earbuds': (.+)", printed)
        assert korean and "이어폰" in korean.group(1)
        assert english and "Earbuds" in english.group(1)
        stores = re.search(r"stores within 5 km of Seoul Station, nearest first: (.+)", printed)
        assert stores and stores.group(1).startswith("서울역점 (0.1 km); ")
        assert len(stores.group(1).split("; ")) == 8  # the eight shops within 5 km
        assert (copy / ".state" / "demo.env").exists()

        status = second_terminal(copy, "status")
        assert re.search(r"products: last incremental sync finished .*, \d+ documents", status)
        history = second_terminal(copy, "history", "--index", "products")
        assert "full         succeeded" in history
        check = second_terminal(copy, "check", "--index", "products")
        assert "100.00 % consistent" in check
        # Its settings are the configured ones, and its search checks, Korean and English,
        # pass.
        assert "products: settings as configured" in check
        assert re.search(r"search search_1 \('이어폰'\): \d+ hits, .*: passed", check)
        assert re.search(r"search search_2 \('wireless earbuds'\): \d+ hits, .*: passed", check)
        followed = a_change_flows(copy)
    finally:
        demo.send_signal(signal.SIGTERM)  # `kill` of a background job
        stopped = time.monotonic()
        demo.wait(timeout=60)
        while left := demo_processes(copy):
            assert time.monotonic() - stopped < 30, left
            time.sleep(0.5)
    assert not (copy / ".state" / "demo.env").exists()
    with dg.DagsterInstance.from_config(str(copy / ".state" / "dagster_home")) as instance:
        runs = instance.get_runs()
        event = instance.get_latest_materialization_event(dg.AssetKey(["meilisearch", "products"]))
        follow_runs = [r for r in runs if r.job_name == "follow_changes"]
        (checks_run,) = [r for r in runs if r.job_name == "check_indexes"]
        evaluations = [
            data
            for e in instance.all_logs(
                checks_run.run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION
            )
            if e.dagster_event is not None
            and isinstance(data := e.dagster_event.event_specific_data, dg.AssetCheckEvaluation)
        ]
    # The first sync and its catch-up, both runs of the job the schedules and sensor launch,
    # beside the follow run its sensor started.
    assert [
        (r.job_name, sorted(k.to_user_string() for k in r.asset_selection or []),
         r.tags.get("dagster/partition"))
        for r in reversed(runs) if r.job_name != "follow_changes"
    ] == [
        *(("sync_indexes", [f"meilisearch/{index}"], partition)
          for index in ("products", "stores") for partition in ("full", "incremental")),
        ("check_indexes", [], None),
    ]  # fmt: skip
    # Launched through the webserver: runs of the code location's jobs, which the UI's
    # Overview lists and can re-execute.
    assert all(r.remote_job_origin is not None for r in runs)
    assert len(follow_runs) == 1
    # Every check of the demo green after `./dev demo`: the consistency and settings checks
    # of both indexes, the Korean and English searches and the Seoul Station geosearch.
    passed = {(e.asset_key.path[-1], e.check_name) for e in evaluations if e.passed}
    assert len(passed) == len(evaluations) == 12
    assert {("products", "search_1"), ("products", "search_2"),
            ("stores", "near_seoul_station")} <= passed  # fmt: skip
    # The edited row's sync: a materialization of the index, from the follow run.
    assert event is not None and event.run_id == follow_runs[0].run_id == followed
    assert event.asset_materialization is not None
    assert event.asset_materialization.partition == "incremental"


def demo_processes(copy: Path) -> list[str]:
    """The processes of the demo still running: Meilisearch, Dagster and its runs' workers."""
    return [
        " ".join(p.info["cmdline"]) for p in psutil.process_iter(["cmdline"])
        if str(copy) in " ".join(p.info["cmdline"] or [])
    ]  # fmt: skip


def a_change_flows(copy: Path) -> str:
    """A product renamed in ``demo/demo.db`` is searchable in seconds, synced by the follow
    run (whose id is returned)."""
    name = "Follow-me 무선 이어폰"
    engine = sa.create_engine(f"sqlite:///{copy / 'demo' / 'demo.db'}")
    with engine.begin() as connection:
        product = connection.execute(
            sa.text(
                "UPDATE PRODUCTS SET NAME = :name, UPDATED_AT = :now WHERE PRODUCT_ID = "
                "(SELECT MIN(PRODUCT_ID) FROM PRODUCTS WHERE IS_DELETED = 'N') "
                "RETURNING PRODUCT_ID"
            ),
            {"name": name, "now": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%S")},
        ).scalar_one()
    engine.dispose()
    demo_env = dotenv_values(copy / ".state" / "demo.env")
    meilisearch = MeilisearchConfig(
        url=str(demo_env["MEILI_URL"]), api_key=demo_env["MEILI_API_KEY"]
    )
    deadline = time.monotonic() + 60
    with MeiliClient(meilisearch) as client:
        while client.document("products", product).get("name") != name:
            assert time.monotonic() < deadline, "the follow run did not apply the change"
            time.sleep(0.2)
        assert client.search("products", "Follow-me", limit=1)["hits"][0]["name"] == name
    # The follow run records the sync once it has applied it: wait for the record too.
    with dg.DagsterInstance.from_config(str(copy / ".state" / "dagster_home")) as instance:
        while True:
            key = dg.AssetKey(["meilisearch", "products"])
            event = instance.get_latest_materialization_event(key)
            run = instance.get_run_by_id(event.run_id) if event is not None else None
            if run is not None and run.job_name == "follow_changes":
                return run.run_id
            assert time.monotonic() < deadline, "the follow run did not record the sync"
            time.sleep(0.2)
