"""A newcomer's first hour in the Dagster UI, in Chromium, with the index followed as the
demo follows its indexes: a row changed in the source is searchable within seconds and its
sync is in the asset's events; the checks read as docs/dagster.md says; Observe shows the
index stale before a sync and fresh after; a CLI sync keeps the Columns section."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import dagster as dg
import pytest
import sqlalchemy as sa
from playwright.sync_api import Page, expect

from oracle_meili.adapters.meili import MeiliClient
from oracle_meili.adapters.server import RunningMeilisearch
from oracle_meili.defs.launch import launch_run
from oracle_meili_tests.defs.browser import CHROMIUM, DagsterUi, running_ui, shot
from oracle_meili_tests.defs.test_follow_run import wait_for

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason=f"no Chromium at {CHROMIUM} (Debian's chromium package; ORACLE_MEILI_CHROMIUM)",
)


@pytest.fixture(scope="module")
def followed(
    tmp_path_factory: pytest.TempPathFactory, meili_server: RunningMeilisearch
) -> Iterator[DagsterUi]:
    """The UI with the index followed (its follow run on by default), as in the demo."""
    with running_ui(
        tmp_path_factory.mktemp("first-hour"),
        meili_server,
        change_sensor=None,
        follow={"running": True, "interval_seconds": 0.5},
    ) as ui:
        yield ui


def rename(ui: DagsterUi, product: int, name: str) -> None:
    engine = sa.create_engine(f"sqlite:///{ui.database}")
    with engine.begin() as c:
        c.execute(
            sa.text("UPDATE PRODUCTS SET NAME = :n, UPDATED_AT = :t WHERE PRODUCT_ID = :i"),
            {"n": name, "t": dt.datetime.now(dt.UTC).replace(tzinfo=None), "i": product},
        )
    engine.dispose()


def found(client: MeiliClient, ui: DagsterUi, name: str) -> Callable[[], bool]:
    def check() -> bool:
        if not client.index_exists(ui.index):
            return False
        return any(hit["name"] == name for hit in client.search(ui.index, name)["hits"])

    return check


def follow_run(ui: DagsterUi) -> dg.DagsterRun | None:
    with dg.DagsterInstance.from_config(ui.env["DAGSTER_HOME"]) as instance:
        runs = instance.get_runs(
            filters=dg.RunsFilter(job_name="follow_changes", statuses=[dg.DagsterRunStatus.STARTED])
        )
    return runs[0] if runs else None


def test_a_newcomers_first_hour(followed: DagsterUi, page: Page) -> None:
    ui = followed
    with MeiliClient(ui.meilisearch) as client:
        # The follow run starts by itself and syncs the index; a change is then searchable
        # within seconds, with no run to launch.
        wait_for(lambda: follow_run(ui), timeout=120, what="the follow run")
        wait_for(lambda: client.index_exists(ui.index) and client.document_count(ui.index) > 0,
                 timeout=60, what="the first sync")  # fmt: skip
        word = f"zebra{uuid.uuid4().hex[:6]}"
        rename(ui, 7, word)
        wait_for(found(client, ui, word), timeout=15, what="the changed row, searchable")

        # Its sync is in the asset's events, a materialization of partition incremental by
        # the follow run.
        run = follow_run(ui)
        assert run is not None
        page.goto(f"{ui.url}/assets/meilisearch/{ui.index}?view=events")
        expect(page.get_by_role("link", name=run.run_id[:8]).first).to_be_visible()
        shot(page, "first-hour-1-events")

        # The checks as the docs describe them: the sync's own check evaluated by each sync,
        # the consistency checks only by their own job (not run yet).
        page.goto(f"{ui.url}/assets/meilisearch/{ui.index}?view=checks")
        caught_up = page.get_by_text("caught_up", exact=True).first.locator("xpath=../..")
        expect(caught_up.get_by_text("Succeeded", exact=True)).to_be_visible()
        parity = page.get_by_text("document_count_parity", exact=True).first.locator("xpath=../..")
        expect(parity.get_by_text("Not evaluated", exact=True)).to_be_visible()
        shot(page, "first-hour-2-checks")

        # Following stopped (terminated in the UI), syncs are runs of the sync job: after a
        # change, Observe shows the index's partition unsynced; the sync that reads the
        # change makes it synced again. (Syncs of the follow run are not asset steps: Dagster
        # records no input versions for them, so it never shows theirs stale: the docs say.)
        with dg.DagsterInstance.from_config(ui.env["DAGSTER_HOME"]) as instance:
            instance.run_coordinator.cancel_run(run.run_id)
        wait_for(lambda: follow_run(ui) is None, timeout=30, what="the follow run to stop")
        assert ui.launch(ui.job, "incremental")[1] == dg.DagsterRunStatus.SUCCESS
        rename(ui, 8, f"okapi{uuid.uuid4().hex[:6]}")
        _, observed = launch_run(ui.url, "observe_sources", timeout=120)
        assert observed == dg.DagsterRunStatus.SUCCESS
        page.goto(f"{ui.url}/assets/meilisearch/{ui.index}?view=partitions")
        page.get_by_text("incremental", exact=True).first.click()
        expect(page.get_by_text("Unsynced (1)").first).to_be_visible()
        shot(page, "first-hour-3-stale")
        assert ui.launch(ui.job, "incremental")[1] == dg.DagsterRunStatus.SUCCESS
        page.reload()
        expect(page.get_by_text("incremental").first).to_be_visible()
        shot(page, "first-hour-4-fresh")
        expect(page.get_by_text("Unsynced")).to_have_count(0)

        # A sync from a second terminal, with Dagster's state: recorded with the columns.
        cli = Path(sys.executable).parent / "oracle-meili"
        config = ui.env["ORACLE_MEILI_CONFIG"]
        subprocess.run(
            [str(cli), "sync", "--config", config, "--index", ui.index, "--mode", "incremental",
             "--dagster"],
            env=ui.env, check=True, capture_output=True,
        )  # fmt: skip
        page.goto(f"{ui.url}/assets/meilisearch/{ui.index}")
        expect(page.get_by_text("Columns", exact=True).first).to_be_visible()
        expect(page.get_by_text("updated_at", exact=True).first).to_be_visible()
        shot(page, "first-hour-5-columns-after-cli")
