"""The embedded demo: its source, and README's ``./dev demo`` with a second terminal."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

import dagster as dg
import pytest
import sqlalchemy as sa

from oracle_meili.adapters.server import free_port
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


def second_terminal(copy: Path, *args: str, timeout: float = 120) -> str:
    """``oracle-meili ARGS`` from the project folder with nothing set by hand: no MEILI_*,
    DAGSTER_* or ORACLE_MEILI_* variables."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MEILI_", "DAGSTER_"))}
    env.pop("ORACLE_MEILI_CONFIG", None)
    done = subprocess.run(
        [str(copy / ".venv" / "bin" / "oracle-meili"), *args],
        cwd=copy,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "alembic" not in done.stderr  # the instance's migrations stay quiet
    return done.stdout


def test_dev_demo_and_a_second_terminal(tmp_path: Path) -> None:
    """README's first command, ``./dev demo``, from a copy of the project: it syncs the demo
    as runs of ``sync_products`` (full, then a catch-up incremental), prints a Korean and an
    English search with hits and serves the UI; meanwhile the CLI in a second terminal
    reaches the demo's Meilisearch, instance and configuration with nothing set by hand;
    Ctrl-C stops everything and removes the file that told the CLI where the demo is."""
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
        assert (copy / ".state" / "demo.env").exists()

        status = second_terminal(copy, "status")
        # The catch-up's watermark is the build moment: the demo looks like a live table.
        assert re.search(r"products: last incremental sync finished .*, \d+ documents", status)
        history = second_terminal(copy, "history", "--index", "products")
        assert "full         succeeded" in history
        check = second_terminal(copy, "check", "--index", "products")
        assert "100.00 % consistent" in check
        synced = second_terminal(copy, "sync", "--index", "products", "--mode", "incremental")
        assert '"mode":"incremental"' in synced
    finally:
        os.killpg(demo.pid, signal.SIGINT)  # Ctrl-C in the demo's terminal
        demo.wait(timeout=60)
    assert not (copy / ".state" / "demo.env").exists()
    with dg.DagsterInstance.from_config(str(copy / ".state" / "dagster_home")) as instance:
        runs = instance.get_runs()
        incremental = instance.fetch_materializations(
            dg.AssetKey(["meilisearch", "products"]), limit=5
        ).records
    # The first sync and its catch-up, both runs of the job the schedules and sensor launch.
    assert [(r.job_name, r.tags.get("dagster/partition")) for r in reversed(runs)] == [
        ("sync_products", "full"),
        ("sync_products", "incremental"),
    ]
    assert {r.status for r in runs} == {dg.DagsterRunStatus.SUCCESS}
    # The second terminal's sync is in the instance's history, next to the runs'.
    assert [r.partition_key for r in incremental] == ["incremental", "incremental", "full"]
