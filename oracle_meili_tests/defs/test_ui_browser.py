"""The Dagster UI in a real browser (issue #10): Debian's Chromium driven by Playwright.

One ``dg dev`` over a 500-row demo source and the test Meilisearch; the tests click the UI's
own buttons as a user would and assert what the pages then show, and what the index holds.
Screenshots go to ``.state/screenshots/`` (git-ignored), one per step.
"""

from __future__ import annotations

import os
import re
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
import sqlalchemy as sa
import yaml
from playwright.sync_api import Browser, Page, expect, sync_playwright

from oracle_meili.adapters.meili import MeiliClient
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

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason=f"no Chromium at {CHROMIUM}: `./dev test` installs Debian's `chromium` where it "
    "may (as root with apt-get); elsewhere install it or set ORACLE_MEILI_CHROMIUM. "
    "Playwright's own browser download is not used.",
)


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


def test_lineage_shows_the_source_table_upstream_of_the_index(
    dagster_ui: DagsterUi, page: Page
) -> None:
    page.goto(f"{dagster_ui.url}/assets/meilisearch/{dagster_ui.index}?view=lineage")
    # The source table upstream, of the real source's kind (SQLite here, not Oracle), and
    # the index with its first sync: one of its two partitions done.
    expect(page.get_by_text("products", exact=True).first).to_be_visible()
    expect(page.get_by_text("SQLite", exact=True)).to_be_visible()
    expect(page.get_by_text(dagster_ui.index, exact=True).first).to_be_visible()
    expect(page.get_by_role("link", name="2 partitions")).to_be_visible()
    expect(page.get_by_text("50% filled")).to_be_visible()
    shot(page, "1-lineage")


def test_a_first_visit_opens_no_community_dialog(dagster_ui: DagsterUi, page: Page) -> None:
    """The shipped instance settings turn off the "join the Dagster community" modal that
    a first visit to the Overview page otherwise opens (seen with ``nux: enabled: true``)."""
    page.goto(f"{dagster_ui.url}/")
    expect(page.get_by_role("link", name=re.compile("Overview")).first).to_be_visible()
    # The modal opens once the page's data has loaded, a few seconds in; nothing to wait on.
    page.wait_for_timeout(6_000)
    expect(page.get_by_role("dialog")).to_have_count(0)
    shot(page, "0-overview")


def test_observe_button_records_live_rows_of_the_source(dagster_ui: DagsterUi, page: Page) -> None:
    """The source table is observable on demand: live rows, soft-deleted ones left out."""
    with sa.create_engine(f"sqlite:///{dagster_ui.database}").connect() as connection:
        live = connection.execute(
            sa.text("SELECT COUNT(*) FROM PRODUCTS WHERE IS_DELETED <> 'Y'")
        ).scalar_one()
    page.goto(f"{dagster_ui.url}/assets/oracle/products")
    expect(page.get_by_text("Never observed")).to_be_visible()
    # (A button's name starts with its icon's: match the end.)
    page.get_by_role("button", name=re.compile(r"\bObserve$")).click()
    # The run is launched in the background; the page shows the observation once it lands,
    # and the Events tab its figures.
    expect(page.get_by_text("Never observed")).to_have_count(0, timeout=90_000)
    page.goto(f"{dagster_ui.url}/assets/oracle/products?view=events")
    expect(page.get_by_text("dagster/row_count").first).to_be_visible()
    expect(page.get_by_text(f"{live:,}", exact=True).first).to_be_visible()
    expect(page.get_by_text("oracle_meili/newest_change").first).to_be_visible()
    shot(page, "2-source-observed")


def test_materialize_incremental_through_the_ui_buttons(dagster_ui: DagsterUi, page: Page) -> None:
    """Materialize -> partition `incremental` -> Launch 1 run: the changed row is searchable."""
    changed_name = f"Browser test lamp {uuid.uuid4().hex[:6]}"
    with sa.create_engine(f"sqlite:///{dagster_ui.database}").begin() as connection:
        connection.execute(
            sa.text(
                "UPDATE PRODUCTS SET NAME = :name, UPDATED_AT = '2030-01-01 00:00:00' "
                "WHERE PRODUCT_ID = (SELECT MIN(PRODUCT_ID) FROM PRODUCTS WHERE IS_DELETED = 'N')"
            ),
            {"name": changed_name},
        )
    page.goto(f"{dagster_ui.url}/assets/meilisearch/{dagster_ui.index}")
    page.get_by_role("button", name="Materialize…").first.click()
    dialog = page.get_by_role("dialog").filter(has_text="Launch runs to materialize")
    dialog.get_by_text("Select a partition or create one").click()
    page.get_by_role("menuitem").filter(has_text="incremental").click()
    page.keyboard.press("Escape")
    expect(dialog.get_by_text("1 partition", exact=True)).to_be_visible()
    shot(page, "3-partition-dialog")
    dialog.get_by_role("button", name="Launch 1 run").click()
    page.get_by_text("View", exact=True).click()  # the "Launched run" toast
    # The run page: it succeeds, for the incremental partition, in process, and its log says
    # what the sync did.
    expect(page.get_by_text("Success", exact=True).first).to_be_visible(timeout=120_000)
    expect(page.get_by_text("partition: incremental")).to_be_visible()
    expect(
        page.get_by_text(f"{dagster_ui.index}: incremental sync read 1 rows, upserted 1")
    ).to_be_visible()
    shot(page, "4-incremental-run")
    with MeiliClient(dagster_ui.meilisearch) as client:
        hits = client.search(dagster_ui.index, changed_name, limit=1)["hits"]
    assert hits and hits[0]["name"] == changed_name

    # The asset page then shows the sync's typed metadata.
    page.goto(f"{dagster_ui.url}/assets/meilisearch/{dagster_ui.index}?view=events")
    expect(page.get_by_text("oracle_meili/mode").first).to_be_visible()
    expect(page.get_by_text("incremental", exact=True).first).to_be_visible()
    shot(page, "5-asset-events")


def test_a_check_runs_on_its_own_from_the_checks_tab(dagster_ui: DagsterUi, page: Page) -> None:
    page.goto(f"{dagster_ui.url}/assets/meilisearch/{dagster_ui.index}?view=checks")
    page.get_by_text("document_count_parity", exact=True).first.click()
    execute = page.get_by_role("button", name=re.compile(r"\bExecute$"))
    expect(execute).to_be_enabled()
    execute.click()
    page.get_by_text("View", exact=True).click()  # the "Launched run" toast
    # A run of that one check, which passes: the index holds the live rows.
    expect(page.get_by_text("Success", exact=True).first).to_be_visible(timeout=120_000)
    expect(page.get_by_text("Check document_count_parity succeeded").first).to_be_visible()
    expect(page.get_by_text("Check content_parity")).to_have_count(0)
    shot(page, "6-check-run")
    page.goto(f"{dagster_ui.url}/assets/meilisearch/{dagster_ui.index}?view=checks")
    page.get_by_text("document_count_parity", exact=True).first.click()
    expect(page.get_by_text("index_documents").first).to_be_visible()
    shot(page, "7-checks-tab")


def test_a_failed_sync_job_leaves_the_checks_as_they_were(
    dagster_ui: DagsterUi, page: Page
) -> None:
    """A sync run that fails (the table is gone) carries no checks, so the Checks tab still
    shows their last real result, not "Execution failed"."""
    checks = dagster_ui.launch(dagster_ui.job.replace("sync_", "check_", 1))
    assert checks.returncode == 0, checks.stdout[-2000:] + checks.stderr[-2000:]
    engine = sa.create_engine(f"sqlite:///{dagster_ui.database}")
    with engine.begin() as connection:
        connection.exec_driver_sql("ALTER TABLE PRODUCTS RENAME TO PRODUCTS_AWAY")
    try:
        failed = dagster_ui.launch(dagster_ui.job, "--partition", "incremental")
    finally:
        with engine.begin() as connection:
            connection.exec_driver_sql("ALTER TABLE PRODUCTS_AWAY RENAME TO PRODUCTS")
        engine.dispose()
    assert failed.returncode != 0
    assert "PRODUCTS" in failed.stdout + failed.stderr
    page.goto(f"{dagster_ui.url}/assets/meilisearch/{dagster_ui.index}?view=checks")
    listing = page.get_by_text("document_count_parity", exact=True).first.locator("xpath=../..")
    expect(listing.get_by_text("Succeeded")).to_be_visible()
    expect(page.get_by_text("Execution failed")).to_have_count(0)
    shot(page, "8-checks-after-failed-sync")
