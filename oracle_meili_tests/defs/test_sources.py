"""The source tables as observable assets: live rows, newest change, columns."""

from __future__ import annotations

import datetime as dt
import os

import dagster as dg
import pytest

from oracle_meili.adapters.meili import MeiliClient
from oracle_meili.config import AppConfig, parse_config
from oracle_meili.definitions import build_definitions
from oracle_meili.defs.metadata_sets import SourceObservation
from oracle_meili.defs.names import index_asset_key, source_table_key
from oracle_meili.defs.resources import build_resources
from oracle_meili.defs.sources import build_source_assets
from oracle_meili.defs.translator import OracleMeiliTranslator, translate
from oracle_meili_tests.defs.conftest import materialize
from oracle_meili_tests.harness import SyncHarness


def observe_products(
    config: AppConfig, instance: dg.DagsterInstance
) -> dict[str, dg.MetadataValue]:
    assets = build_source_assets(translate(config, OracleMeiliTranslator(), source_kind="sqlite"))
    (observable,) = [a for a in assets if isinstance(a, dg.AssetsDefinition)]
    result = dg.materialize(
        [observable],
        instance=instance,
        resources=build_resources(config),
        selection=[source_table_key("PRODUCTS", "sqlite")],
    )
    assert result.success
    (event,) = instance.fetch_observations(source_table_key("PRODUCTS", "sqlite"), limit=1).records
    observation = event.asset_observation
    assert observation is not None
    return dict(observation.metadata)


def test_observation_counts_live_rows_and_newest_change(
    app_config: AppConfig,
    sync: SyncHarness,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MEILI_API_KEY", app_config.meilisearch.api_key.get_secret_value())  # type: ignore[union-attr]
    instance = dg.DagsterInstance.ephemeral()
    metadata = observe_products(app_config, instance)

    # Soft-deleted rows are left out: the figure compares with the index's documents.
    live = sync.live_count()
    assert live < sync.scalar("SELECT COUNT(*) FROM PRODUCTS")
    assert metadata["dagster/row_count"].value == live
    newest = sync.scalar("SELECT MAX(UPDATED_AT) FROM PRODUCTS")
    stamp = metadata[SourceObservation.key("newest_change")].value
    assert isinstance(stamp, float)
    assert dt.datetime.fromtimestamp(stamp, dt.UTC).replace(tzinfo=None) == (
        dt.datetime.fromisoformat(newest)
    )
    schema = metadata["dagster/column_schema"].value
    assert isinstance(schema, dg.TableSchema)
    assert {"product_id", "updated_at", "is_deleted"} <= {c.name for c in schema.columns}

    # A change moves the newest change and the data version of the next observation.
    sync.execute(
        "UPDATE PRODUCTS SET UPDATED_AT = '2031-01-01 00:00:00', IS_DELETED = 'Y' "
        "WHERE PRODUCT_ID = (SELECT MIN(PRODUCT_ID) FROM PRODUCTS WHERE IS_DELETED = 'N')"
    )
    again = observe_products(app_config, instance)
    assert again["dagster/row_count"].value == live - 1
    assert again[SourceObservation.key("max_cursor")].value == "datetime:2031-01-01T00:00:00"
    versions = [
        r.asset_observation.data_version
        for r in instance.fetch_observations(
            source_table_key("PRODUCTS", "sqlite"), limit=2
        ).records
        if r.asset_observation is not None
    ]
    assert len(set(versions)) == 2


def test_tables_of_a_query_are_plain_specs_and_the_first_index_owns_a_table(
    app_config: AppConfig,
) -> None:
    raw = {
        "source": {"url": "sqlite:///:memory:"},
        "indexes": [
            {"name": "a", "table": "PRODUCTS", "primary_key": "PRODUCT_ID"},
            {"name": "b", "table": "PRODUCTS", "primary_key": "PRODUCT_ID", "cursor": "X"},
            {
                "name": "c",
                "query": "SELECT * FROM ORDERS JOIN PRODUCTS USING (PRODUCT_ID)",
                "primary_key": "ORDER_ID",
                "upstream": ["ORDERS", "PRODUCTS"],
            },
        ],
    }
    config = parse_config(raw, environ={})
    translated = translate(config, OracleMeiliTranslator(), source_kind="sqlite")
    assert translated.observed["PRODUCTS"].name == "a"
    assets = build_source_assets(translated)
    specs = [a for a in assets if isinstance(a, dg.AssetSpec)]
    assert [s.key for s in specs] == [source_table_key("ORDERS", "sqlite")]
    (observable,) = [a for a in assets if isinstance(a, dg.AssetsDefinition)]
    assert observable.keys == {source_table_key("PRODUCTS", "sqlite")}
    assert observable.is_observable
    assert observable.specs_by_key[source_table_key("PRODUCTS", "sqlite")].kinds == {"sqlite"}


def test_a_table_joins_the_group_of_the_indexes_reading_it() -> None:
    """One group by default, so the global lineage opens expanded on table -> index; a
    table read by indexes of two groups stays in the default one."""
    index = {"table": "PRODUCTS", "primary_key": "PRODUCT_ID"}
    raw = {
        "source": {"url": "sqlite:///:memory:"},
        "indexes": [
            {"name": "a", **index},
            {"name": "b", "table": "ORDERS", "primary_key": "ORDER_ID", "group": "sales"},
            {"name": "c", **index, "group": "catalogue"},
        ],
    }
    config = parse_config(raw, environ={})
    graph = build_definitions(config, environ={}).resolve_asset_graph()
    group = {key.to_user_string(): graph.get(key).group_name for key in graph.get_all_asset_keys()}
    assert group == {
        "sqlite/PRODUCTS": "oracle_meili",  # read by a (default group) and c (catalogue)
        "sqlite/ORDERS": "sales",
        "meilisearch/a": "oracle_meili",
        "meilisearch/b": "sales",
        "meilisearch/c": "catalogue",
    }


def test_observe_schedule_and_job_come_from_the_configuration(app_config: AppConfig) -> None:
    raw = app_config.model_dump(mode="json", exclude={"orchestration"})
    raw["indexes"][0]["schedule"] = {"observe": "*/15 * * * *"}
    raw["meilisearch"].pop("api_key")
    raw["meilisearch"].pop("shards")  # one server: `shards` left out, as a file leaves it
    raw["source"].pop("oracle")
    config = parse_config(raw, environ={})
    defs = build_definitions(config, environ={})
    name = config.indexes[0].name.replace("-", "__")
    job = defs.resolve_job_def("observe_sources")
    assert job.asset_layer.executable_asset_keys == {source_table_key("PRODUCTS", "sqlite")}
    schedule = defs.resolve_schedule_def(f"observe_{name}")
    assert schedule.cron_schedule == "*/15 * * * *"
    (request,) = schedule.evaluate_tick(dg.build_schedule_context()).run_requests or []
    assert request.asset_selection == [source_table_key("PRODUCTS", "sqlite")]


def test_a_sync_observes_its_source_table(
    app_config: AppConfig,
    instance: dg.DagsterInstance,
    meili_client: MeiliClient,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The source table is observed from the first sync on: a full sync records the live
    rows it read and the newest change; an incremental, the newest change; both, the
    table's own columns with their types (Observe's, not the documents'). And the index's
    column schema lists the epoch fields its documents carry, each from its column."""
    index = app_config.indexes[0].model_copy(update={"epoch_fields": True})
    config = app_config.model_copy(update={"indexes": (index,)})
    key = source_table_key("PRODUCTS", "sqlite")
    full = materialize(config, instance, "full")
    assert full.success
    (record,) = instance.fetch_observations(key, limit=5).records
    observation = record.asset_observation
    # Recorded at once (so that the materialization records its version), naming its run.
    assert observation is not None and full.run_id in (observation.description or "")
    assert observation.metadata["dagster/row_count"].value == meili_client.document_count(
        index.name
    )
    assert SourceObservation.key("newest_change") in observation.metadata
    (event,) = full.get_asset_materialization_events()
    schema = event.materialization.metadata["dagster/column_schema"].value
    assert isinstance(schema, dg.TableSchema)
    columns = {c.name: c for c in schema.columns}
    assert columns["updated_at_epoch"].type == "epoch seconds"
    assert columns["updated_at_epoch"].description == "from UPDATED_AT"
    assert "product_id_epoch" not in columns
    assert materialize(config, instance, "incremental").success
    latest = instance.fetch_observations(key, limit=1).records[0].asset_observation
    assert latest is not None and "dagster/row_count" not in latest.metadata
    table_columns = latest.metadata["dagster/column_schema"].value
    assert isinstance(table_columns, dg.TableSchema)
    monkeypatch.setenv("MEILI_API_KEY", config.meilisearch.api_key.get_secret_value())  # type: ignore[union-attr]
    assert table_columns == observe_products(config, instance)["dagster/column_schema"].value
    assert "updated_at_epoch" not in {c.name for c in table_columns.columns}


def test_the_index_is_stale_exactly_when_its_table_changed_after_its_sync(
    app_config: AppConfig, instance: dg.DagsterInstance, sync: SyncHarness
) -> None:
    """Dagster's staleness, as the UI shows it: every observation of the table carries its
    newest change as the data version (Observe's, a sync's own), so an Observe without a
    change leaves the index fresh, a change makes it stale, and the sync that reads the
    change makes its partition fresh (`full` stays stale after an incremental sync: Dagster
    judges each partition by its own last materialization)."""
    # NOTE: Dagster's resolver of stale status (what its GraphQL API serves the UI) is not
    # public; the test reads it from where it is.
    from dagster._core.definitions.data_version import CachingStaleStatusResolver
    from dagster._core.loader import LoadingContextForTest

    index = app_config.indexes[0]
    defs = build_definitions(app_config, os.environ)
    key, table = index_asset_key(index), source_table_key("PRODUCTS", "sqlite")
    syncs, observe = defs.resolve_job_def("sync_indexes"), defs.resolve_job_def("observe_sources")

    def status() -> dict[str, str]:
        resolver = CachingStaleStatusResolver(
            instance, defs.resolve_asset_graph(), LoadingContextForTest(instance)
        )
        return {p: resolver.get_status(key, p).value for p in ("full", "incremental")}

    def run(job: dg.JobDefinition, partition: str | None = None) -> None:
        selection = [table] if partition is None else [key]
        assert job.execute_in_process(
            instance=instance, partition_key=partition, asset_selection=selection
        ).success

    run(syncs, "full")
    assert status() == {"full": "FRESH", "incremental": "MISSING"}
    run(observe)  # nothing changed
    assert status() == {"full": "FRESH", "incremental": "MISSING"}
    sync.execute(
        "UPDATE PRODUCTS SET NAME = 'changed', UPDATED_AT = :t WHERE PRODUCT_ID = 1",
        t=dt.datetime(2030, 1, 1),
    )
    run(observe)
    assert status()["full"] == "STALE"
    run(syncs, "incremental")
    assert status() == {"full": "STALE", "incremental": "FRESH"}
    # A change the sync reads without an Observe before it: fresh after it too.
    sync.execute(
        "UPDATE PRODUCTS SET NAME = 'again', UPDATED_AT = :t WHERE PRODUCT_ID = 1",
        t=dt.datetime(2031, 1, 1),
    )
    run(syncs, "incremental")
    assert status()["incremental"] == "FRESH"
    run(observe)
    assert status()["incremental"] == "FRESH"
