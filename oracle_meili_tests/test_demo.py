"""The embedded demo: its source, and README's ``./dev demo``."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
from pathlib import Path

import dagster as dg
import pytest
import sqlalchemy as sa

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


def test_dev_demo_syncs_and_searches(tmp_path: Path) -> None:
    """README's first command, ``./dev demo --no-ui``, from a copy of the project (sharing
    its installed virtualenv and Meilisearch package): it syncs the demo and prints a Korean
    and an English search with hits."""
    stamp = hashlib.sha256((PROJECT / "pyproject.toml").read_bytes()).hexdigest()[:16]
    if not (PROJECT / ".venv" / f".installed-{stamp}").exists():
        pytest.skip(
            "the virtualenv was not installed from this pyproject.toml (run ./dev setup): "
            "the copy's ./dev would reinstall the shared virtualenv"
        )
    copy = tmp_path / "project"
    files = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=PROJECT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    for name in files:
        if (PROJECT / name).is_file():
            (copy / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(PROJECT / name, copy / name)
    for shared in (".venv", "node_modules"):
        (copy / shared).symlink_to(PROJECT / shared)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MEILI_", "DAGSTER_"))}
    done = subprocess.run(
        ["./dev", "demo", "--no-ui"],
        cwd=copy,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    korean = re.search(r"search '이어폰': (.+)", done.stdout)
    english = re.search(r"search 'wireless earbuds': (.+)", done.stdout)
    assert korean and "이어폰" in korean.group(1)
    assert english and "Earbuds" in english.group(1)
    with dg.DagsterInstance.from_config(str(copy / ".state" / "dagster_home")) as instance:
        runs = instance.get_runs()
    assert [r.job_name for r in runs] == ["sync_products"]
    assert runs[0].status == dg.DagsterRunStatus.SUCCESS
