"""The Dagster UI in a real browser: Debian's Chromium driven by Playwright.

One ``dg dev`` over a 500-row demo source and the test Meilisearch; the tests click the UI's
own buttons as a user would and assert what the pages then show, and what the index holds.
Screenshots go to ``.state/screenshots/`` (git-ignored), one per step.
"""

from __future__ import annotations

import re
import time
import uuid

import dagster as dg
import pytest
import sqlalchemy as sa
from playwright.sync_api import Page, expect

from oracle_meili.adapters.meili import MeiliClient
from oracle_meili.config import MeilisearchConfig
from oracle_meili_tests.defs.browser import CHROMIUM, DagsterUi, shot

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason=f"no Chromium at {CHROMIUM}: `./dev test` installs Debian's `chromium` where it "
    "may (as root with apt-get); elsewhere install it or set ORACLE_MEILI_CHROMIUM. "
    "Playwright's own browser download is not used.",
)


def test_lineage_shows_the_source_table_upstream_of_a_healthy_index(
    dagster_ui: DagsterUi, page: Page
) -> None:
    page.goto(f"{dagster_ui.url}/assets/meilisearch/{dagster_ui.index}?view=lineage")
    # The source table upstream, of the real source's kind (SQLite here, not Oracle), and
    # the index after its first sync and catch-up: both partitions done, nothing missing.
    expect(page.get_by_text("PRODUCTS", exact=True).first).to_be_visible()
    expect(page.get_by_text("SQLite", exact=True)).to_be_visible()
    expect(page.get_by_text(dagster_ui.index, exact=True).first).to_be_visible()
    expect(page.get_by_role("link", name="2 partitions")).to_be_visible()
    expect(page.get_by_text("100% filled")).to_be_visible()
    # The sync's own check (caught_up), and the three consistency checks and the settings
    # check of check_indexes.
    expect(page.get_by_text("5 / 5 Passed")).to_be_visible()
    expect(
        page.get_by_text(re.compile("never been materialized|Never materialized"))
    ).to_have_count(0)
    shot(page, "1-lineage")
    # The global lineage (the Lineage page) shows both, by names one can tell apart.
    page.goto(f"{dagster_ui.url}/asset-groups")
    expect(page.get_by_text("PRODUCTS", exact=True).first).to_be_visible()
    expect(page.get_by_text(dagster_ui.index, exact=True).first).to_be_visible()
    shot(page, "1-global-lineage")


def test_the_first_syncs_are_runs_of_the_sync_job(dagster_ui: DagsterUi, page: Page) -> None:
    """The first full sync and its catch-up belong to the code location's sync job, so the
    Overview timeline shows them (a ``dg launch`` run has no code location and does not)."""
    page.goto(f"{dagster_ui.url}/overview/activity/timeline")
    expect(page.get_by_text(dagster_ui.job, exact=True).first).to_be_visible()
    expect(page.get_by_text("No runs", exact=True)).to_have_count(0)
    shot(page, "0-timeline")
    page.goto(f"{dagster_ui.url}/runs")
    expect(page.get_by_text(dagster_ui.job, exact=True)).to_have_count(2)
    expect(page.get_by_text(dagster_ui.checks, exact=True)).to_be_visible()
    expect(page.get_by_text("incremental", exact=True).first).to_be_visible()
    expect(page.get_by_text("full", exact=True).first).to_be_visible()


def test_a_first_visit_opens_no_community_dialog(dagster_ui: DagsterUi, page: Page) -> None:
    """The shipped instance settings turn off the "join the Dagster community" modal that
    a first visit to the Overview page otherwise opens (seen with ``nux: enabled: true``)."""
    page.goto(f"{dagster_ui.url}/")
    expect(page.get_by_role("link", name=re.compile("Overview")).first).to_be_visible()
    # The modal opens once the page's data has loaded, a few seconds in; nothing to wait on.
    page.wait_for_timeout(6_000)
    expect(page.get_by_role("dialog")).to_have_count(0)
    shot(page, "0-overview")


def test_the_meilisearch_resource_shows_its_settings_and_no_secret(
    dagster_ui: DagsterUi, page: Page
) -> None:
    """The resource's page lists each setting of `meilisearch:` with its description, the
    API key by its variable's name only, and says where the shards' keys come from."""
    page.goto(f"{dagster_ui.url}/locations/oracle_meili/resources/meilisearch")
    read_from_environment = {"shard_api_keys", "shard_search_keys"}
    for name, field in MeilisearchConfig.model_fields.items():
        if name in read_from_environment:
            expect(page.get_by_text(name, exact=True)).to_have_count(0)
            continue
        expect(page.get_by_text(name, exact=True)).to_be_visible()
        expect(page.get_by_text(str(field.description), exact=True)).to_be_visible()
    expect(page.get_by_text("MEILI_API_KEY", exact=True)).to_be_visible()
    key = dagster_ui.meilisearch.api_key
    assert key is not None
    expect(page.get_by_text(key.get_secret_value())).to_have_count(0)
    expect(page.get_by_text("MEILI_API_KEY_<NAME>", exact=True)).to_be_visible()
    shot(page, "0-meilisearch-resource")


def test_observe_button_records_live_rows_of_the_source(dagster_ui: DagsterUi, page: Page) -> None:
    """The source table is observed from the first sync on, and on demand by its Observe
    button: live rows, soft-deleted ones left out."""
    with sa.create_engine(f"sqlite:///{dagster_ui.database}").connect() as connection:
        live = connection.execute(
            sa.text("SELECT COUNT(*) FROM PRODUCTS WHERE IS_DELETED <> 'Y'")
        ).scalar_one()
    page.goto(f"{dagster_ui.url}/assets/sqlite/PRODUCTS")
    expect(page.get_by_role("button", name=re.compile(r"\bObserve$"))).to_be_visible()
    expect(page.get_by_text("Never observed")).to_have_count(0)
    key = dg.AssetKey(["sqlite", "PRODUCTS"])
    with dg.DagsterInstance.from_config(dagster_ui.env["DAGSTER_HOME"]) as instance:
        before = len(instance.fetch_observations(key, limit=100).records)
    assert before >= 1  # the first sync's
    # (A button's name starts with its icon's: match the end.)
    page.get_by_role("button", name=re.compile(r"\bObserve$")).click()
    # The run is launched in the background; its observation lands in the instance, and
    # the Events tab shows its figures.
    deadline = time.monotonic() + 90
    while True:
        with dg.DagsterInstance.from_config(dagster_ui.env["DAGSTER_HOME"]) as instance:
            if len(instance.fetch_observations(key, limit=100).records) > before:
                break
        assert time.monotonic() < deadline, "the Observe run recorded nothing"
        time.sleep(1)
    page.goto(f"{dagster_ui.url}/assets/sqlite/PRODUCTS?view=events")
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
    # Both partitions at once are a backfill, which the shipped instance settings can launch
    # (they queue runs): no warning, and the button is live.
    dialog.get_by_role("button", name="All", exact=True).click()
    expect(dialog.get_by_text("2 partitions", exact=True)).to_be_visible()
    expect(dialog.get_by_role("button", name="Launch backfill")).to_be_enabled()
    expect(dialog.get_by_text(re.compile("without a queued run coordinator"))).to_have_count(0)
    shot(page, "3-materialize-dialog")
    dialog.get_by_role("button", name="Cancel").click()
    page.get_by_role("button", name="Materialize…").first.click()
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
    """A sync run that fails (the table is gone) carries none of the consistency checks, so
    the Checks tab still shows their last real result; only the sync's own check,
    `caught_up`, shows that its execution failed: the sync did."""
    _, checked = dagster_ui.launch(dagster_ui.checks)
    assert checked == dg.DagsterRunStatus.SUCCESS
    engine = sa.create_engine(f"sqlite:///{dagster_ui.database}")
    with engine.begin() as connection:
        connection.exec_driver_sql("ALTER TABLE PRODUCTS RENAME TO PRODUCTS_AWAY")
    try:
        run_id, failed = dagster_ui.launch(dagster_ui.job, "incremental")
    finally:
        with engine.begin() as connection:
            connection.exec_driver_sql("ALTER TABLE PRODUCTS_AWAY RENAME TO PRODUCTS")
        engine.dispose()
    assert failed == dg.DagsterRunStatus.FAILURE
    with dg.DagsterInstance.from_config(dagster_ui.env["DAGSTER_HOME"]) as instance:
        failures = [
            str(event.dagster_event.step_failure_data.error)
            for event in instance.all_logs(run_id, of_type=dg.DagsterEventType.STEP_FAILURE)
            if event.dagster_event is not None and event.dagster_event.step_failure_data
        ]
    assert failures and all("PRODUCTS" in failure for failure in failures), failures
    page.goto(f"{dagster_ui.url}/assets/meilisearch/{dagster_ui.index}?view=checks")
    for check in ("document_count_parity", "content_parity", "no_orphans"):
        listing = page.get_by_text(check, exact=True).first.locator("xpath=../..")
        expect(listing.get_by_text("Succeeded")).to_be_visible()
    failed_check = page.get_by_text("caught_up", exact=True).first.locator("xpath=../..")
    expect(failed_check.get_by_text("Failed", exact=True)).to_be_visible()
    # The page opens on the failed one: its execution failed with the sync's step.
    expect(page.get_by_text("Execution failed")).to_have_count(1)
    shot(page, "8-checks-after-failed-sync")
