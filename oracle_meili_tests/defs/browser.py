"""The browser test's Dagster UI (``dg dev`` over a demo source) and Chromium, as fixtures
(registered as a plugin by the tests' ``conftest.py``)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
import yaml
from playwright.sync_api import Browser, Page, expect, sync_playwright

from oracle_meili.adapters.server import RunningMeilisearch, free_port
from oracle_meili.config import MeilisearchConfig
from oracle_meili.defs.launch import launch_run, wait_for_code_location
from oracle_meili.demo import create_demo

PROJECT = Path(__file__).resolve().parents[2]
CHROMIUM = Path(os.environ.get("ORACLE_MEILI_CHROMIUM", "/usr/bin/chromium"))
SCREENSHOTS = PROJECT / ".state" / "screenshots"
# The flags this machine's Chromium needs headless and offline (no sandbox as root, no
# background connections to Google's hosts, which a closed network refuses).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@dataclass(frozen=True)
class DagsterUi:
    url: str
    index: str
    # The sync job and the checks job (shared by every index: a run selects the index).
    job: str
    checks: str
    database: Path
    meilisearch: MeilisearchConfig
    # The environment `dg` runs in for this UI (its Dagster home, configuration, server).
    env: dict[str, str]

    def launch(self, job: str, partition: str | None = None) -> tuple[str, dg.DagsterRunStatus]:
        """Launch ``job`` through this UI's webserver, as its Materialize button does (the
        sync job for this index's asset); wait. Returns the run's id and final status."""
        assets = [f"meilisearch/{self.index}"] if job == self.job else []
        return launch_run(self.url, job, partition, assets=assets, timeout=300)


# The UI loads its data after the page: wait for it longer than Playwright's 5 s default.
expect.set_options(timeout=30_000)


@pytest.fixture(scope="module")
def dagster_ui(
    tmp_path_factory: pytest.TempPathFactory, meili_server: RunningMeilisearch
) -> Iterator[DagsterUi]:
    """``dg dev`` with the shipped instance settings, after a first full sync and a catch-up."""
    with running_ui(tmp_path_factory.mktemp("ui"), meili_server) as ui:
        # A newcomer's first hour, as ./dev demo does it: a full sync, a catch-up incremental
        # and the index's checks, runs of its jobs launched through the webserver.
        for launched, partition in ((ui.job, "full"), (ui.job, "incremental"), (ui.checks, None)):
            _, status = ui.launch(launched, partition)
            assert status == dg.DagsterRunStatus.SUCCESS
        yield ui


@contextmanager
def running_ui(tmp: Path, meili_server: RunningMeilisearch, **entry: Any) -> Iterator[DagsterUi]:
    """``dg dev`` over a 500-row demo source with one index (``entry``'s keys added), the
    shipped instance settings, and the code location loaded."""
    database = create_demo(tmp / "demo.db", rows=500)
    index = f"ui_{uuid.uuid4().hex[:8]}"
    config = {
        "source": {"url": f"sqlite:///{database}"},
        "indexes": [
            {
                "name": index,
                "table": "PRODUCTS",
                "primary_key": "PRODUCT_ID",
                "cursor": "UPDATED_AT",
                # No look-back: an incremental reads exactly the rows changed since.
                "lookback_seconds": 0,
                "soft_delete": {"column": "IS_DELETED", "deleted_value": "Y"},
                "settings": {"searchableAttributes": ["name", "description"]},
                "owners": ["team:search"],
                **entry,
            }
        ],
    }
    (tmp / "config.yaml").write_text(yaml.safe_dump(config))
    home = tmp / "dagster_home"
    home.mkdir()
    shutil.copy(PROJECT / "deploy" / "dagster.yaml", home / "dagster.yaml")
    venv_bin = Path(sys.executable).parent
    env = {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "ORACLE_MEILI_CONFIG": str(tmp / "config.yaml"),
        "MEILI_URL": meili_server.url,
        "MEILI_API_KEY": meili_server.master_key,
        "VIRTUAL_ENV": str(venv_bin.parent),
        "PATH": f"{venv_bin}{os.pathsep}{os.environ['PATH']}",
    }
    port = free_port()
    log = tmp / "dg-dev.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(venv_bin / "dg"), "dev", "--host", "127.0.0.1", "--port", str(port)],
            cwd=PROJECT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    ui = DagsterUi(
        url=f"http://127.0.0.1:{port}",
        index=index,
        job="sync_indexes",
        checks="check_indexes",
        database=database,
        meilisearch=MeilisearchConfig(url=meili_server.url, api_key=meili_server.master_key),
        env=env,
    )
    try:
        try:
            wait_for_code_location(ui.url)
        except TimeoutError as error:
            raise AssertionError(f"{error}\n{log.read_text()[-3000:]}") from error
        yield ui
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        with suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)  # what outlived dg dev (a run's worker)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Browser, request: pytest.FixtureRequest) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    context.set_default_timeout(60_000)
    page = context.new_page()
    yield page
    # The page as the test left it, passed or failed.
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{request.node.name}.png"), full_page=True)
    context.close()


def shot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"))
