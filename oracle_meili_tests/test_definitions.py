"""The code location loads, with lineage from the source table to the index."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest

from oracle_meili import definitions

PROJECT = Path(__file__).resolve().parent.parent


def test_defs_load_with_demo_config(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(PROJECT)
    monkeypatch.delenv("ORACLE_MEILI_CONFIG", raising=False)
    defs = definitions.defs()
    assert isinstance(defs, dg.Definitions)
    graph = defs.resolve_asset_graph()
    index_key = dg.AssetKey(["meilisearch", "products"])
    assert graph.get(index_key).parent_keys == {dg.AssetKey(["sqlite", "PRODUCTS"])}
    assert set(defs.resources or {}) >= {"source", "meilisearch"}
    # The UI's Materialize button runs the implicit job in process, like sync_indexes.
    assert defs.resolve_implicit_global_asset_job_def().executor_def is dg.in_process_executor
    # The source's kind is the real one: the demo is SQLite.
    source = graph.get(dg.AssetKey(["sqlite", "PRODUCTS"]))
    assert source.kinds == {"sqlite"}
    assert source.metadata["dagster/table_name"] == "PRODUCTS"
    # A fixed few jobs, whatever the number of indexes.
    assert {job.name for job in defs.jobs or []} == {
        "sync_indexes", "check_indexes", "observe_sources", "reconcile_index", "apply_settings",
        "follow_changes",
    }  # fmt: skip
    assert defs.resolve_schedule_def("sync_products_incremental").cron_schedule == "*/5 * * * *"
    assert defs.resolve_schedule_def("sync_products_full").cron_schedule == "0 3 * * *"
    # The demo's two indexes share one change sensor (the same settings): one probe a tick.
    sensor = defs.resolve_sensor_def("source_changes")
    assert sensor.minimum_interval_seconds == 1
    assert {job.name for job in sensor.jobs} == {"sync_indexes"}
    assert defs.resolve_schedule_def("reconcile_products").cron_schedule == "30 3 * * *"
    dg.Definitions.validate_loadable(defs)


def test_defs_with_oracle_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "c.yaml").write_text(
        "indexes:\n  - {name: orders, table: SHOP.ORDERS, primary_key: ORDER_ID}\n"
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ORACLE_MEILI_CONFIG", str(tmp_path / "c.yaml"))
    monkeypatch.setenv("ORACLE_DSN", "db.example:1521/FREEPDB1")
    monkeypatch.setenv("ORACLE_USER", "sync")
    monkeypatch.setenv("ORACLE_PASSWORD", "not-in-metadata")
    defs = definitions.defs()
    graph = defs.resolve_asset_graph()
    assert graph.get(dg.AssetKey(["meilisearch", "orders"])).parent_keys == {
        dg.AssetKey(["oracle", "SHOP", "ORDERS"])
    }
    assert type((defs.resources or {})["source"]).__name__ == "OracleResource"
    assert graph.get(dg.AssetKey(["oracle", "SHOP", "ORDERS"])).kinds == {"oracle"}
