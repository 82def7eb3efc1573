"""The consistency checks, their job and schedule, and the reconcile job."""

from __future__ import annotations

import datetime as dt
import logging
import os
from pathlib import Path

import dagster as dg
import pytest
import sqlalchemy as sa

from oracle_meili.adapters.meili import MeiliClient
from oracle_meili.adapters.server import RunningMeilisearch
from oracle_meili.config import AppConfig, parse_index
from oracle_meili.definitions import build_definitions
from oracle_meili.defs.assets import build_index_asset, caught_up
from oracle_meili.defs.checks import build_consistency_checks
from oracle_meili.defs.jobs import build_checks_job
from oracle_meili.defs.reconcile import build_reconcile_job, reconcile_run_config
from oracle_meili.defs.resources import build_resources
from oracle_meili.defs.schedules import build_job_schedule
from oracle_meili.engine.result import SyncResult
from oracle_meili.errors import ConfigError
from oracle_meili_tests.defs.conftest import materialize


def test_consistency_checks_after_a_full_sync(
    app_config: AppConfig, instance: dg.DagsterInstance, demo_db: Path
) -> None:
    index = app_config.indexes[0]
    resources = build_resources(app_config)
    assert materialize(app_config, instance, "full").success
    checks = build_consistency_checks([index])
    asset = build_index_asset(index)
    # The consistency checks (`caught_up` is the sync step's own, evaluated by each sync).
    only_checks = dg.AssetSelection.checks_for_assets(asset) - dg.AssetSelection.checks(
        dg.AssetCheckKey(asset.key, "caught_up")
    )

    def run_checks() -> dg.ExecuteInJobResult:
        return dg.materialize(
            [asset, checks],
            instance=instance,
            resources=resources,
            selection=only_checks,
            raise_on_error=False,
        )

    clean = run_checks()
    results = {e.check_name: e for e in clean.get_asset_check_evaluations()}
    assert set(results) == {"document_count_parity", "content_parity", "no_orphans"}
    assert all(r.passed for r in results.values())

    engine = sa.create_engine(f"sqlite:///{demo_db}")
    with engine.begin() as c:
        c.execute(sa.text("DELETE FROM PRODUCTS WHERE IS_DELETED = 'N' AND PRODUCT_ID < 30"))
    engine.dispose()
    dirty = run_checks()
    failed = {e.check_name for e in dirty.get_asset_check_evaluations() if not e.passed}
    assert failed == {"document_count_parity", "no_orphans"}

    # One check on its own, as the Checks tab's "Execute" runs it.
    one = dg.materialize(
        [asset, checks],
        instance=instance,
        resources=resources,
        selection=dg.AssetSelection.checks(dg.AssetCheckKey(asset.key, "no_orphans")),
        raise_on_error=False,
    )
    assert [e.check_name for e in one.get_asset_check_evaluations()] == ["no_orphans"]


def test_secrets_never_reach_events_metadata_or_logs(
    app_config: AppConfig,
    instance: dg.DagsterInstance,
    meili_server: RunningMeilisearch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The API key stays behind EnvVar: not in run config, events, metadata or any log."""
    caplog.set_level(logging.DEBUG)
    assert materialize(app_config, instance, "full").success
    assert materialize(app_config, instance, "incremental").success
    recorded = [
        str(entry) for run in instance.get_runs() for entry in instance.all_logs(run.run_id)
    ]
    recorded += [str(run.run_config) for run in instance.get_runs()]
    assert recorded
    assert meili_server.master_key not in "\n".join(recorded)
    assert meili_server.master_key not in caplog.text


def test_reconcile_job_deletes_hard_deleted_rows(
    app_config: AppConfig, instance: dg.DagsterInstance, meili_client: MeiliClient, demo_db: Path
) -> None:
    index = app_config.indexes[0]
    assert materialize(app_config, instance, "full").success
    engine = sa.create_engine(f"sqlite:///{demo_db}")
    with engine.begin() as c:
        c.execute(sa.text("DELETE FROM PRODUCTS WHERE IS_DELETED = 'N' AND PRODUCT_ID <= 20"))
        live = c.execute(sa.text("SELECT COUNT(*) FROM PRODUCTS WHERE IS_DELETED = 'N'")).scalar()
    engine.dispose()
    job = build_reconcile_job([index])
    result = job.execute_in_process(
        instance=instance,
        resources=build_resources(app_config),
        run_config=reconcile_run_config(index),
    )
    assert result.success
    assert meili_client.document_count(index.name) == live
    (observation,) = [e for e in result.all_events if e.event_type_value == "ASSET_OBSERVATION"]
    assert observation.event_specific_data is not None


def test_invalid_reconcile_cron_names_the_index() -> None:
    index, orchestration = parse_index(
        {"name": "p", "table": "T", "primary_key": "ID", "schedule": {"reconcile": "soon"}},
        label="index 'p'",
    )
    with pytest.raises(ConfigError, match=r"index 'p': schedule.reconcile 'soon'"):
        build_job_schedule(
            index, orchestration.schedule, build_reconcile_job([index]), what="reconcile"
        )


def test_checks_schedule_from_the_configuration() -> None:
    index, orchestration = parse_index(
        {"name": "p", "table": "T", "primary_key": "ID", "schedule": {"checks": "0 4 * * *"}},
        label="index 'p'",
    )
    schedule = build_job_schedule(
        index, orchestration.schedule, build_checks_job([index]), what="checks"
    )
    assert schedule is not None
    assert (schedule.name, schedule.cron_schedule) == ("check_p", "0 4 * * *")
    assert schedule.job_name == "check_indexes"
    (request,) = schedule.evaluate_tick(dg.build_schedule_context()).run_requests or []
    assert {key.name for key in request.asset_check_keys or []} == {
        "document_count_parity", "content_parity", "no_orphans", "settings_match"
    }  # fmt: skip


def test_sync_runs_no_longer_carry_the_checks(
    app_config: AppConfig, instance: dg.DagsterInstance, meili_client: MeiliClient
) -> None:
    """A run of `sync_indexes` (what sensors launch) carries none of the consistency checks,
    which read the whole index and table, only the sync's own `caught_up`; `check_indexes`
    runs them."""
    defs = build_definitions(app_config, os.environ)
    sync = defs.resolve_job_def("sync_indexes")  # holding this one index
    result = sync.execute_in_process(instance=instance, partition_key="full")
    assert result.success
    (checked,) = result.get_asset_check_evaluations()
    assert checked.check_name == "caught_up" and checked.passed
    assert checked.metadata["behind_seconds"].value == 0
    checks = defs.resolve_job_def("check_indexes")
    result = checks.execute_in_process(instance=instance)
    evaluations = [
        e.event_specific_data
        for e in result.all_events
        if e.event_type_value == "ASSET_CHECK_EVALUATION"
    ]
    assert sorted(getattr(e, "check_name", "") for e in evaluations) == [
        "content_parity",
        "document_count_parity",
        "no_orphans",
        "settings_match",
    ]
    assert all(getattr(e, "passed", False) for e in evaluations)


def test_caught_up_warns_when_a_change_was_left_for_the_next_sync() -> None:
    at = dt.datetime(2026, 12, 6, tzinfo=dt.UTC)
    base = dict(index="i", mode="incremental", started_at=at, finished_at=at, rows_read=0,
                documents_upserted=0, documents_deleted=0, index_document_count=0,
                watermark="int:5", previous_watermark=None)  # fmt: skip
    behind = caught_up(SyncResult(**base, caught_up=False, behind_seconds=None))  # type: ignore[arg-type]
    assert not behind.passed and behind.severity == dg.AssetCheckSeverity.WARN
    unknown = caught_up(SyncResult(**base, caught_up=None))  # type: ignore[arg-type]
    assert unknown.passed and "could not be read" in (unknown.description or "")
    assert caught_up(SyncResult(**base, caught_up=True, behind_seconds=0)).passed  # type: ignore[arg-type]
