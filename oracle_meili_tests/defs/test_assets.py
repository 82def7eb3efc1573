"""The index assets, materialized with Dagster against a real Meilisearch."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
import sqlalchemy as sa
import yaml

from oracle_meili.adapters.meili import MeiliClient
from oracle_meili.config import AppConfig, parse_index
from oracle_meili.defs.assets import build_index_asset
from oracle_meili.defs.history import materialization_history
from oracle_meili.defs.jobs import SYNC_RETRY_POLICY, build_sync_jobs
from oracle_meili.defs.metadata import last_syncs, latest_plan, latest_watermark, slice_checkpoints
from oracle_meili.defs.metadata_sets import CheckpointMetadata, SyncMetadata
from oracle_meili.defs.names import index_asset_key, source_table_key
from oracle_meili.defs.resources import build_resources
from oracle_meili.engine.freshness import LastSync
from oracle_meili.errors import ConfigError
from oracle_meili_tests.defs.conftest import materialize, metadata_of


def test_full_then_incremental_round_trips_the_watermark(
    app_config: AppConfig, instance: dg.DagsterInstance, meili_client: MeiliClient, demo_db: Path
) -> None:
    index = app_config.indexes[0]
    full = materialize(app_config, instance, "full")
    assert full.success
    full_meta = metadata_of(full)
    assert full_meta[SyncMetadata.key("mode")] == "full"
    assert (
        full_meta[SyncMetadata.key("rows_read")]
        == full_meta[SyncMetadata.key("index_document_count")]
        == meili_client.document_count(index.name)
    )
    assert str(full_meta[SyncMetadata.key("watermark")]).startswith("datetime:")
    assert full_meta[SyncMetadata.key("meilisearch_task_uids")]
    # Typed, standard metadata: a timestamp for a date/time watermark, no blank
    # previous watermark, the index's URI, its fields' schema and their lineage.
    assert isinstance(full_meta[SyncMetadata.key("watermark_time")], float)
    assert SyncMetadata.key("previous_watermark") not in full_meta
    assert str(full_meta["dagster/uri"]).endswith(f"/indexes/{index.name}")
    schema = full_meta["dagster/column_schema"]
    assert isinstance(schema, dg.TableSchema)
    columns = {c.name: c.type for c in schema.columns}
    assert columns["updated_at"] == "DATETIME" and columns["product_id"] == "INTEGER"
    lineage = full_meta["dagster/column_lineage"]
    assert isinstance(lineage, dg.TableColumnLineage)
    (dep,) = lineage.deps_by_column["name"]
    assert (dep.asset_key, dep.column_name) == (dg.AssetKey(["sqlite", "PRODUCTS"]), "name")

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
    assert meta[SyncMetadata.key("previous_watermark")] == full_meta[SyncMetadata.key("watermark")]
    assert meta[SyncMetadata.key("watermark")] == "datetime:2026-07-01T00:00:00"
    upserted = meta[SyncMetadata.key("documents_upserted")]
    assert isinstance(upserted, int)
    assert upserted >= 1  # row 7, plus rows inside the look-back window
    assert meili_client.document(index.name, 7)["name"] == "dagster row"

    # The next incremental continues from the incremental partition's watermark.
    again = materialize(app_config, instance, "incremental")
    assert (
        metadata_of(again)[SyncMetadata.key("previous_watermark")] == "datetime:2026-07-01T00:00:00"
    )


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
    # Built alone, without the names of a code location: the default (Oracle) table key.
    assert source_table_key("PRODUCTS") in asset.asset_deps[asset.key]
    assert asset.op.pool == f"oracle_meili/{index.name}"
    assert asset.descriptions_by_key[asset.key].startswith(f"Meilisearch index `{index.name}`")


@contextmanager
def source_lost_at_page(fail_at: int, database: Path) -> Iterator[None]:
    """The source ``database``'s connection fails at the ``fail_at``-th keyset page read in
    the block (the resource opens its engine inside the run, so the fault is set on every
    engine of that database)."""
    pages = 0

    def count_pages(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        nonlocal pages
        if conn.engine.url.database != str(database):
            return  # not the source (the Dagster instance's own storage, say)
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
    resources = build_resources(small)
    asset = build_index_asset(small.indexes[0])
    with source_lost_at_page(5, demo_db):
        failed = dg.materialize(
            [asset],
            partition_key="full",
            instance=instance,
            resources=resources,
            raise_on_error=False,
        )
    assert not failed.success
    plan = latest_plan(instance, index_asset_key(index))
    assert plan is not None and plan.slices == 1
    (checkpoint,) = slice_checkpoints(instance, index_asset_key(index), plan.build_index).values()
    assert checkpoint.rows_acknowledged > 0
    assert meili_client.index_exists(checkpoint.build_index)

    resumed = dg.materialize([asset], partition_key="full", instance=instance, resources=resources)
    assert resumed.success
    observations = [
        e.event_specific_data.asset_observation  # type: ignore[union-attr]
        for e in resumed.all_events
        if e.event_type_value == "ASSET_OBSERVATION"
    ]
    key = CheckpointMetadata.key("full_sync_checkpoint")
    first = next(o.metadata[key].value for o in observations if key in o.metadata)
    assert isinstance(first, dict)
    assert first["build_index"] == checkpoint.build_index
    assert metadata_of(resumed)[
        SyncMetadata.key("index_document_count")
    ] == meili_client.document_count(index.name)
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
        resources=build_resources(app_config),
        raise_on_error=False,
    )
    (failure,) = failed.get_step_failure_events()
    error = failure.step_failure_data.error
    assert error is not None
    assert error.cls_name == "Failure"
    assert "cursor column 'NO_SUCH_COLUMN'" in error.message
    assert failure.step_failure_data.user_failure_data is not None


def test_the_asset_itself_retries_so_ui_materializations_do_too() -> None:
    """The Materialize button launches the implicit asset job: the asset itself carries the
    sync job's retry policy, and the definitions its in-process executor."""
    raw = {"name": "p", "table": "T", "primary_key": "ID"}
    index, orchestration = parse_index(
        {**raw, "owners": ["team:search"], "tags": {"tier": "gold"}, "group": "search"},
        label="index 'p'",
    )
    asset = build_index_asset(index, orchestration)
    (spec,) = asset.specs
    # Owners, tags and group from the configuration.
    assert (spec.owners, spec.tags.get("tier"), spec.group_name) == (
        ["team:search"],
        "gold",
        "search",
    )
    assert asset.op.retry_policy == SYNC_RETRY_POLICY
    assert build_sync_jobs([index])["sync_indexes"].executor_def is dg.in_process_executor
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


def test_shaped_fields_in_the_column_schema_and_lineage(
    app_config: AppConfig, instance: dg.DagsterInstance, index_name: str
) -> None:
    """A renamed field with its column, ``_geo`` from its two, excluded columns absent."""
    stores, _ = parse_index(
        {"name": index_name, "table": "STORES", "primary_key": "STORE_ID",
         "cursor": "UPDATED_AT", "fields": {"NAME": "store_name"},
         "geo": {"lat": "LATITUDE", "lng": "LONGITUDE"}, "exclude": ["LATITUDE", "LONGITUDE"]},
        label=f"index {index_name!r}",
    )  # fmt: skip
    result = materialize(app_config.model_copy(update={"indexes": (stores,)}), instance, "full")
    assert result.success
    meta = metadata_of(result)
    schema = meta["dagster/column_schema"]
    assert isinstance(schema, dg.TableSchema)
    assert [c.name for c in schema.columns] == [
        "store_id", "store_name", "city", "updated_at", "_geo"
    ]  # fmt: skip
    lineage = meta["dagster/column_lineage"]
    assert isinstance(lineage, dg.TableColumnLineage)
    table = source_table_key("STORES", "sqlite")
    assert [(d.asset_key, d.column_name) for d in lineage.deps_by_column["_geo"]] == [
        (table, "latitude"),
        (table, "longitude"),
    ]
    assert [d.column_name for d in lineage.deps_by_column["store_name"]] == ["name"]


def test_cli_history_says_which_syncs_were_dagster_runs(
    app_config: AppConfig,
    demo_db: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`oracle-meili history --dagster`: a sync run by Dagster names its run; one by the
    command line says so."""
    from oracle_meili.cli import main

    index = app_config.indexes[0]
    config_file = tmp_path / "config.yaml"
    config_file.write_text(
        yaml.safe_dump({"source": {"url": f"sqlite:///{demo_db}"},
                        "indexes": [{"name": index.name, "table": "PRODUCTS",
                                     "primary_key": "PRODUCT_ID", "cursor": "UPDATED_AT"}]})
    )  # fmt: skip
    monkeypatch.setenv("MEILI_URL", app_config.meilisearch.url)
    assert app_config.meilisearch.api_key is not None
    monkeypatch.setenv("MEILI_API_KEY", app_config.meilisearch.api_key.get_secret_value())
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    with dg.DagsterInstance.get() as instance:
        run = materialize(app_config, instance, "full")
        assert run.success
    config_arg = ["--config", str(config_file), "--index", index.name, "--dagster"]
    assert main(["sync", *config_arg, "--mode", "incremental"]) == 0
    capsys.readouterr()
    assert main(["history", *config_arg]) == 0
    _, newest, oldest = capsys.readouterr().out.strip().splitlines()
    assert newest.split()[2:5] == ["incremental", "succeeded", "CLI"]
    assert oldest.split()[2:6] == ["full", "succeeded", "run", run.run_id[:8]]


def test_syncs_recorded_with_earlier_value_types_are_read_back() -> None:
    """A sync reads the latest one's metadata back, only the keys it needs: a value of
    another type under another key (the task uids as a JSON list) must not fail it, nor
    the history."""
    earlier = {
        SyncMetadata.key("watermark"): dg.MetadataValue.text("int:5"),
        SyncMetadata.key("meilisearch_task_uids"): dg.MetadataValue.json([3, 4]),
        SyncMetadata.key("late_commits_until"): dg.MetadataValue.text("none pending"),
    }
    instance = dg.DagsterInstance.ephemeral()
    key = index_asset_key("products")
    instance.report_runless_asset_event(
        dg.AssetMaterialization(asset_key=key, partition="incremental", metadata=earlier)
    )
    assert latest_watermark(instance, key) == "int:5"
    assert last_syncs(instance, [key])[key] == LastSync("int:5", None)
    (entry,) = materialization_history(instance, "products", key)
    assert entry["watermark"] == "int:5"
