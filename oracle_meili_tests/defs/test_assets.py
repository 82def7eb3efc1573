"""The index assets, materialized with Dagster against a real Meilisearch."""

from __future__ import annotations

import datetime as dt
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
import sqlalchemy as sa

from oracle_meili.adapters.meili import MeiliClient
from oracle_meili.adapters.server import RunningMeilisearch
from oracle_meili.config import AppConfig, parse_index
from oracle_meili.definitions import build_definitions
from oracle_meili.defs import names as keys
from oracle_meili.defs.assets import build_index_asset
from oracle_meili.defs.checks import build_consistency_checks
from oracle_meili.defs.jobs import SYNC_RETRY_POLICY, build_checks_job, build_sync_job
from oracle_meili.defs.metadata import latest_checkpoint, latest_watermark
from oracle_meili.defs.names import index_asset_key, source_table_key
from oracle_meili.defs.reconcile import build_reconcile_job
from oracle_meili.defs.resources import build_resources
from oracle_meili.defs.schedules import build_job_schedule
from oracle_meili.errors import ConfigError


@pytest.fixture
def instance(
    monkeypatch: pytest.MonkeyPatch, meili_server: RunningMeilisearch
) -> dg.DagsterInstance:
    # The resources read the API key through EnvVar, as in production.
    monkeypatch.setenv("MEILI_API_KEY", meili_server.master_key)
    return dg.DagsterInstance.ephemeral()


def materialize(
    config: AppConfig, instance: dg.DagsterInstance, partition: str
) -> dg.ExecuteInJobResult:
    return dg.materialize(
        [build_index_asset(config.indexes[0])],
        partition_key=partition,
        instance=instance,
        resources=build_resources(config, os.environ),
        raise_on_error=False,
    )


def metadata_of(result: dg.ExecuteInJobResult) -> dict[str, object]:
    (event,) = result.get_asset_materialization_events()
    return {k: v.value for k, v in event.materialization.metadata.items()}


def test_full_then_incremental_round_trips_the_watermark(
    app_config: AppConfig, instance: dg.DagsterInstance, meili_client: MeiliClient, demo_db: Path
) -> None:
    index = app_config.indexes[0]
    full = materialize(app_config, instance, "full")
    assert full.success
    full_meta = metadata_of(full)
    assert full_meta[keys.MODE] == "full"
    assert (
        full_meta[keys.ROWS_READ]
        == full_meta[keys.INDEX_DOCUMENT_COUNT]
        == meili_client.document_count(index.name)
    )
    assert str(full_meta[keys.WATERMARK]).startswith("datetime:")
    assert full_meta[keys.TASK_UIDS]
    # Typed, standard metadata (issue #10): a timestamp for a date/time watermark, no blank
    # previous watermark, the index's URI, its fields' schema and their lineage.
    assert isinstance(full_meta[keys.WATERMARK_TIME], float)
    assert keys.PREVIOUS_WATERMARK not in full_meta
    assert str(full_meta[keys.URI]).endswith(f"/indexes/{index.name}")
    schema = full_meta[keys.COLUMN_SCHEMA]
    assert isinstance(schema, dg.TableSchema)
    columns = {c.name: c.type for c in schema.columns}
    assert columns["updated_at"] == "DATETIME" and columns["product_id"] == "INTEGER"
    lineage = full_meta[keys.COLUMN_LINEAGE]
    assert isinstance(lineage, dg.TableColumnLineage)
    (dep,) = lineage.deps_by_column["name"]
    assert (dep.asset_key, dep.column_name) == (dg.AssetKey(["oracle", "products"]), "name")

    engine = sa.create_engine(f"sqlite:///{demo_db}")
    with engine.begin() as c:
        c.execute(
            sa.text(
                "UPDATE PRODUCTS SET NAME = 'dagster row', UPDATED_AT = :t WHERE PRODUCT_ID = 7"
            ),
            {"t": dt.datetime(2026, 7, 1)},
        )
    engine.dispose()
    incremental = materialize(app_config, instance, "incremental")
    assert incremental.success
    meta = metadata_of(incremental)
    assert meta[keys.PREVIOUS_WATERMARK] == full_meta[keys.WATERMARK]
    assert meta[keys.WATERMARK] == "datetime:2026-07-01T00:00:00"
    upserted = meta[keys.DOCUMENTS_UPSERTED]
    assert isinstance(upserted, int)
    assert upserted >= 1  # row 7, plus rows inside the look-back window
    assert meili_client.document(index.name, 7)["name"] == "dagster row"

    # The next incremental continues from the incremental partition's watermark.
    again = materialize(app_config, instance, "incremental")
    assert metadata_of(again)[keys.PREVIOUS_WATERMARK] == "datetime:2026-07-01T00:00:00"


def test_failed_run_keeps_the_watermark(
    app_config: AppConfig, instance: dg.DagsterInstance, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert materialize(app_config, instance, "full").success
    before = latest_watermark(instance, index_asset_key(app_config.indexes[0]))
    # A wrong API key: a final failure, so the run fails at once (an unreachable server
    # would be retried by the asset's RetryPolicy, 30 s and 60 s later, to the same end).
    monkeypatch.setenv("MEILI_API_KEY", "not-the-key")
    failed = materialize(app_config, instance, "incremental")
    assert not failed.success
    (failure,) = [e for e in failed.all_events if e.is_step_failure]
    assert "not-the-key" not in str(failure.event_specific_data)  # no secret in the record
    assert latest_watermark(instance, index_asset_key(app_config.indexes[0])) == before


def test_asset_shape(app_config: AppConfig) -> None:
    index = app_config.indexes[0]
    asset = build_index_asset(index)
    assert asset.key == dg.AssetKey(["meilisearch", index.name])
    assert asset.partitions_def is not None
    assert set(asset.partitions_def.get_partition_keys()) == {"full", "incremental"}
    assert source_table_key("PRODUCTS") in asset.asset_deps[asset.key]
    assert asset.op.pool == f"oracle_meili/{index.name}"
    assert asset.descriptions_by_key[asset.key].startswith(f"Meilisearch index `{index.name}`")


@contextmanager
def source_lost_at_page(fail_at: int) -> Iterator[None]:
    """Every engine's connection fails at the ``fail_at``-th keyset page read in the block
    (the resource opens its engine inside the run, so the fault is set on all engines)."""
    pages = 0

    def count_pages(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        nonlocal pages
        if "ORDER BY" in statement and "LIMIT" in statement:
            pages += 1
            if pages == fail_at:
                raise ConnectionError("source connection lost (injected)")

    sa.event.listen(sa.Engine, "before_cursor_execute", count_pages)
    try:
        yield
    finally:
        sa.event.remove(sa.Engine, "before_cursor_execute", count_pages)


def test_failed_full_run_resumes_from_its_checkpoint(
    app_config: AppConfig, instance: dg.DagsterInstance, meili_client: MeiliClient, demo_db: Path
) -> None:
    index = app_config.indexes[0]
    small = app_config.model_copy(
        update={
            "indexes": (index.model_copy(update={"batch_size": 50}),),
            "meilisearch": app_config.meilisearch.model_copy(
                update={"max_payload_bytes": 6000, "max_tasks_in_flight": 1}
            ),
        }
    )
    resources = build_resources(small, os.environ)
    asset = build_index_asset(small.indexes[0])
    with source_lost_at_page(5):
        failed = dg.materialize(
            [asset],
            partition_key="full",
            instance=instance,
            resources=resources,
            raise_on_error=False,
        )
    assert not failed.success
    checkpoint = latest_checkpoint(instance, index_asset_key(index))
    assert checkpoint is not None
    assert checkpoint.rows_acknowledged > 0
    assert meili_client.index_exists(checkpoint.build_index)

    resumed = dg.materialize([asset], partition_key="full", instance=instance, resources=resources)
    assert resumed.success
    observations = [
        e.event_specific_data.asset_observation  # type: ignore[union-attr]
        for e in resumed.all_events
        if e.event_type_value == "ASSET_OBSERVATION"
    ]
    first = observations[0].metadata[keys.FULL_SYNC_CHECKPOINT].value
    assert isinstance(first, dict)
    assert first["build_index"] == checkpoint.build_index
    assert metadata_of(resumed)[keys.INDEX_DOCUMENT_COUNT] == meili_client.document_count(
        index.name
    )
    assert meili_client.index_uids(prefix=index.name) == [index.name]


def test_final_errors_are_not_retried_by_dagster(
    app_config: AppConfig, instance: dg.DagsterInstance
) -> None:
    """A bad setting fails the same way every time: the step says so (allow_retries=False)."""
    index = app_config.indexes[0].model_copy(update={"cursor": "NO_SUCH_COLUMN"})
    failed = dg.materialize(
        [build_index_asset(index)],
        partition_key="incremental",
        instance=instance,
        resources=build_resources(app_config, os.environ),
        raise_on_error=False,
    )
    (failure,) = failed.get_step_failure_events()
    error = failure.step_failure_data.error
    assert error is not None
    assert error.cls_name == "Failure"
    assert "cursor column 'NO_SUCH_COLUMN'" in error.message
    assert failure.step_failure_data.user_failure_data is not None


def test_the_asset_itself_retries_so_ui_materializations_do_too() -> None:
    """Issue #10: the Materialize button launched the implicit asset job, which had neither
    the sync job's retry policy nor its in-process executor."""
    raw = {"name": "p", "table": "T", "primary_key": "ID"}
    index, orchestration = parse_index(
        {**raw, "owners": ["team:search"], "tags": {"tier": "gold"}, "group": "search"},
        label="index 'p'",
    )
    asset = build_index_asset(index, orchestration)
    (spec,) = asset.specs
    # Owners, tags and group from the configuration (issue #10).
    assert (spec.owners, spec.tags.get("tier"), spec.group_name) == (
        ["team:search"],
        "gold",
        "search",
    )
    assert asset.op.retry_policy == SYNC_RETRY_POLICY
    assert build_sync_job(index).executor_def is dg.in_process_executor
    assert spec.freshness_policy is None


def test_freshness_from_the_configuration() -> None:
    raw = {"name": "p", "table": "T", "primary_key": "ID"}
    index, orchestration = parse_index(
        {**raw, "freshness": {"fail_after_minutes": 60, "warn_after_minutes": 15}}, label="p"
    )
    (spec,) = build_index_asset(index, orchestration).specs
    assert spec.freshness_policy == dg.FreshnessPolicy.time_window(
        fail_window=dt.timedelta(hours=1), warn_window=dt.timedelta(minutes=15)
    )
    with pytest.raises(ConfigError, match="index 'p': freshness: warn_after_minutes must be below"):
        parse_index(
            {**raw, "freshness": {"fail_after_minutes": 10, "warn_after_minutes": 10}},
            label="index 'p'",
        )


def test_consistency_checks_after_a_full_sync(
    app_config: AppConfig, instance: dg.DagsterInstance, demo_db: Path
) -> None:
    index = app_config.indexes[0]
    resources = build_resources(app_config, os.environ)
    assert materialize(app_config, instance, "full").success
    checks = build_consistency_checks(index)
    asset = build_index_asset(index)
    only_checks = dg.AssetSelection.checks_for_assets(asset)

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

    # One check on its own, as the Checks tab's "Execute" runs it (issue #10).
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
    job = build_reconcile_job(index)
    result = job.execute_in_process(
        instance=instance, resources=build_resources(app_config, os.environ)
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
            index, orchestration.schedule, build_reconcile_job(index), what="reconcile"
        )


def test_checks_schedule_from_the_configuration() -> None:
    index, orchestration = parse_index(
        {"name": "p", "table": "T", "primary_key": "ID", "schedule": {"checks": "0 4 * * *"}},
        label="index 'p'",
    )
    schedule = build_job_schedule(
        index, orchestration.schedule, build_checks_job(index), what="checks"
    )
    assert schedule is not None
    assert (schedule.name, schedule.cron_schedule) == ("check_p_schedule", "0 4 * * *")
    assert schedule.job_name == "check_p"


def test_sync_runs_no_longer_carry_the_checks(
    app_config: AppConfig, instance: dg.DagsterInstance, meili_client: MeiliClient
) -> None:
    """Issue #11: every run of `sync_<index>` (what sensors launch) read the whole index and
    table for its checks. Now the sync job has none; `check_<index>` runs them."""
    index = app_config.indexes[0]
    defs = build_definitions(app_config, os.environ)
    sync = defs.resolve_job_def(f"sync_{index.name}")
    result = sync.execute_in_process(instance=instance, partition_key="full")
    assert result.success
    checked = [e for e in result.all_events if e.event_type_value == "ASSET_CHECK_EVALUATION"]
    assert checked == []
    checks = defs.resolve_job_def(f"check_{index.name}")
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
    ]
    assert all(getattr(e, "passed", False) for e in evaluations)
