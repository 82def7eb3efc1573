"""The browser test's Dagster UI (``dg dev`` over a demo source) and Chromium, as fixtures
(registered as a plugin by the tests' ``conftest.py``)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
import yaml
from playwright.sync_api import Browser, Page, expect, sync_playwright

from oracle_meili.adapters.server import RunningMeilisearch, free_port
from oracle_meili.config import MeilisearchConfig
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
    job: str
    database: Path
    meilisearch: MeilisearchConfig
    # The environment `dg` runs in for this UI (its Dagster home, configuration, server).
    env: dict[str, str]

    def launch(self, job: str, *options: str) -> subprocess.CompletedProcess[str]:
        """``dg launch --job <job> [options]``, as a schedule would."""
        return subprocess.run(
            [str(Path(sys.executable).parent / "dg"), "launch", "--job", job, *options],
            cwd=PROJECT, env=self.env, capture_output=True, text=True, timeout=300,
        )  # fmt: skip


# The UI loads its data after the page: wait for it longer than Playwright's 5 s default.
expect.set_options(timeout=30_000)


def _wait_for_code_location(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    query = "{ workspaceOrError { ... on Workspace { locationEntries { loadStatus } } } }"
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"dg dev exited:\n{log.read_text()[-3000:]}")
        try:
            answer = requests.post(f"{url}/graphql", json={"query": query}, timeout=5).json()
            entries = answer["data"]["workspaceOrError"]["locationEntries"]
            if entries and all(e["loadStatus"] == "LOADED" for e in entries):
                return
        except (requests.RequestException, KeyError, TypeError, ValueError):
            pass
        time.sleep(0.5)
    raise AssertionError(f"dg dev did not load the code location:\n{log.read_text()[-3000:]}")


@pytest.fixture(scope="module")
def dagster_ui(
    tmp_path_factory: pytest.TempPathFactory, meili_server: RunningMeilisearch
) -> Iterator[DagsterUi]:
    """``dg dev`` with the shipped instance settings, after a first full sync by ``dg launch``."""
    tmp = tmp_path_factory.mktemp("ui")
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
    job = f"sync_{index}"
    launched = subprocess.run(
        [str(venv_bin / "dg"), "launch", "--job", job, "--partition", "full"],
        cwd=PROJECT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert launched.returncode == 0, launched.stdout[-3000:] + launched.stderr[-3000:]

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
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_for_code_location(url, process, log)
        yield DagsterUi(
            url=url,
            index=index,
            job=job,
            database=database,
            meilisearch=MeilisearchConfig(url=meili_server.url, api_key=meili_server.master_key),
            env=env,
        )
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


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
