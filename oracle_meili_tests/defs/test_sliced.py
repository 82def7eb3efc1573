"""The asset of an index with ``parallel: N``: plan, one step per key range, publish."""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
import sqlalchemy as sa
import yaml

from oracle_meili.adapters.meili import MeiliClient
from oracle_meili.adapters.server import RunningMeilisearch
from oracle_meili.config import AppConfig, load_config
from oracle_meili.defs.build import build_definitions
from oracle_meili.defs.metadata import latest_plan, slice_checkpoints
from oracle_meili.defs.metadata_sets import CheckpointMetadata, SyncMetadata
from oracle_meili.defs.names import index_asset_key, sync_job_name
from oracle_meili.defs.resources import build_resources
from oracle_meili.defs.sliced import build_sliced_index_asset
from oracle_meili.demo import create_demo
from oracle_meili_tests.defs.conftest import metadata_of
from oracle_meili_tests.transforms import FAIL_ID_VARIABLE

ROWS = 6_000
CHECKPOINT_KEY = CheckpointMetadata.key("full_sync_checkpoint")


def test_full_and_incremental_partitions(
    app_config: AppConfig, instance: dg.DagsterInstance, meili_client: MeiliClient, demo_db: Path
) -> None:
    index = app_config.indexes[0].model_copy(update={"parallel": 3, "batch_size": 50})
    asset = build_sliced_index_asset(index)
    resources = build_resources(app_config)
    full = dg.materialize([asset], partition_key="full", instance=instance, resources=resources)
    assert step_names(full) == {
        f"{index.name}_plan",
        *(f"{index.name}_slice[slice_{n}]" for n in range(3)),
        f"{index.name}_publish",
    }
    live = meili_client.document_count(index.name)
    meta = metadata_of(full)
    assert meta[SyncMetadata.key("rows_read")] == meta[SyncMetadata.key("index_document_count")]
    assert meta[SyncMetadata.key("index_document_count")] == live
    # The plan and each slice's finished checkpoint are in the instance, not in files.
    plan = latest_plan(instance, index_asset_key(index))
    assert plan is None  # a successful full sync leaves nothing to resume
    # An incremental run: the plan step yields no slice; the publish step syncs the change.
    engine = sa.create_engine(f"sqlite:///{demo_db}")
    with engine.begin() as c:
        c.exec_driver_sql(
            "UPDATE PRODUCTS SET NAME = 'Sliced Lamp', UPDATED_AT = '2030-01-01 00:00:00' "
            "WHERE PRODUCT_ID = 7"
        )
    engine.dispose()
    incremental = dg.materialize(
        [asset], partition_key="incremental", instance=instance, resources=resources
    )
    assert step_names(incremental) == {f"{index.name}_plan", f"{index.name}_publish"}
    assert meili_client.document(index.name, 7)["name"] == "Sliced Lamp"
    assert metadata_of(incremental)[SyncMetadata.key("mode")] == "incremental"


def step_names(result: dg.ExecuteInJobResult) -> set[str]:
    """The steps that succeeded, without the graph's name before them."""
    return {str(e.step_key).split(".")[-1] for e in result.all_events if e.is_step_success}


def sliced_job() -> dg.JobDefinition:
    """The sync job of the configuration in $ORACLE_MEILI_CONFIG (rebuilt in each step's
    process by the multiprocess executor)."""
    config = load_config(os.environ["ORACLE_MEILI_CONFIG"], environ=os.environ)
    definitions = build_definitions(config, os.environ)
    return definitions.resolve_job_def(sync_job_name(config.indexes[0]))


@pytest.fixture
def sliced_config(
    tmp_path: Path,
    meili_server: RunningMeilisearch,
    index_name: str,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[tuple[dg.DagsterInstance, str, int]]:
    """A 6,000-row demo table, an index of it with ``parallel: 3`` whose transform fails on
    demand, one slice reading the source at a time, and an instance on disk."""
    db = create_demo(tmp_path / "demo.db", rows=ROWS)
    config: dict[str, Any] = {
        "source": {"url": f"sqlite:///{db}", "max_concurrent_syncs": 1},
        # Small payloads: the failing slice has some acknowledged when it fails.
        "meilisearch": {"max_payload_bytes": 20_000, "max_tasks_in_flight": 1},
        "indexes": [
            {
                "name": index_name,
                "table": "PRODUCTS",
                "primary_key": "PRODUCT_ID",
                "cursor": "UPDATED_AT",
                "soft_delete": {"column": "IS_DELETED", "deleted_value": "Y"},
                "batch_size": 200,
                "parallel": 3,
                "transform": "oracle_meili_tests.transforms:fail_on_marked_id",
            }
        ],
    }
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    monkeypatch.setenv("ORACLE_MEILI_CONFIG", str(tmp_path / "config.yaml"))
    monkeypatch.setenv("MEILI_URL", meili_server.url)
    monkeypatch.setenv("MEILI_API_KEY", meili_server.master_key)
    home = tmp_path / "dagster_home"
    home.mkdir()
    with dg.instance_for_test(temp_dir=str(home)) as instance:
        yield instance, index_name, live_rows(db)


def live_rows(db: Path) -> int:
    engine = sa.create_engine(f"sqlite:///{db}")
    with engine.connect() as c:
        count = c.exec_driver_sql("SELECT COUNT(*) FROM PRODUCTS WHERE IS_DELETED = 'N'").scalar()
    engine.dispose()
    return int(count or 0)


def step_events(instance: dg.DagsterInstance, run_id: str, kind: dg.DagsterEventType) -> set[str]:
    return {
        str(e.step_key).split(".")[-1]
        for e in instance.all_logs(run_id)
        if e.dagster_event_type == kind and e.step_key is not None
    }


def test_a_failed_slice_is_run_again_alone_under_the_multiprocess_executor(
    sliced_config: tuple[dg.DagsterInstance, str, int],
    meili_client: MeiliClient,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Each step in its own process. A row of the middle slice fails it; the other slices
    finish; the live index is not touched. Re-executed from the failure, only that slice
    (from its checkpoint) and the publish step run. Slices never read the source at once
    (``source.max_concurrent_syncs: 1``)."""
    instance, index_name, live = sliced_config
    name = index_name
    monkeypatch.setenv(FAIL_ID_VARIABLE, str(ROWS // 2))
    job = dg.reconstructable(sliced_job)
    with dg.execute_job(
        job, instance=instance, tags={"dagster/partition": "full"}, raise_on_error=False
    ) as first:
        assert not first.success
        failed_run = first.run_id
    assert step_events(instance, failed_run, dg.DagsterEventType.STEP_FAILURE) == {
        f"{name}_slice[slice_1]"
    }
    assert step_events(instance, failed_run, dg.DagsterEventType.STEP_SUCCESS) == {
        f"{name}_plan",
        f"{name}_slice[slice_0]",
        f"{name}_slice[slice_2]",
    }
    assert not meili_client.index_exists(index_name)  # nothing was published
    plan = latest_plan(instance, index_asset_key(index_name))
    assert plan is not None
    kept = slice_checkpoints(instance, index_asset_key(index_name), plan.build_index)
    assert kept[0].finished and kept[2].finished and not kept[1].finished

    monkeypatch.delenv(FAIL_ID_VARIABLE)
    options = dg.ReexecutionOptions.from_failure(failed_run, instance)
    # (The UI's re-execution keeps the run's tags; execute_job is given them.)
    with dg.execute_job(
        job, instance=instance, reexecution_options=options, tags={"dagster/partition": "full"}
    ) as second:
        assert second.success
        again = second.run_id
    assert step_events(instance, again, dg.DagsterEventType.STEP_SUCCESS) == {
        f"{name}_slice[slice_1]",
        f"{name}_publish",
    }
    assert meili_client.document_count(index_name) == live
    assert rows_read(instance, index_name) == live  # counted across both runs
    # The retried slice resumed: its first checkpoint of the second run is past the kept one.
    resumed = first_slice_checkpoint_rows(instance, again)
    assert resumed > kept[1].rows_acknowledged
    assert reading_windows_do_not_overlap(instance, failed_run)


def rows_read(instance: dg.DagsterInstance, index_name: str) -> int:
    event = instance.get_latest_materialization_event(index_asset_key(index_name))
    assert event is not None and event.asset_materialization is not None
    value = event.asset_materialization.metadata[SyncMetadata.key("rows_read")].value
    assert isinstance(value, int)
    return value


def first_slice_checkpoint_rows(instance: dg.DagsterInstance, run_id: str) -> int:
    for record in instance.all_logs(run_id, of_type=dg.DagsterEventType.ASSET_OBSERVATION):
        observation = record.get_dagster_event().asset_observation_data.asset_observation
        value = observation.metadata.get(CHECKPOINT_KEY)
        if value is not None and isinstance(value.value, dict):
            rows = value.value["rows_acknowledged"]
            assert isinstance(rows, int)
            return rows
    raise AssertionError("no slice checkpoint in the run")


def reading_windows_do_not_overlap(instance: dg.DagsterInstance, run_id: str) -> bool:
    """Each slice's checkpoints span a window of time; with one source slot, none overlap."""
    windows: dict[int, list[float]] = {}
    for record in instance.all_logs(run_id, of_type=dg.DagsterEventType.ASSET_OBSERVATION):
        observation = record.get_dagster_event().asset_observation_data.asset_observation
        value = observation.metadata.get(CHECKPOINT_KEY)
        if value is None or not isinstance(value.value, dict):
            continue
        number = value.value["slice"]
        windows.setdefault(number, []).append(record.timestamp)
    spans = sorted((min(times), max(times)) for times in windows.values())
    assert len(spans) == 3
    return all(earlier[1] <= later[0] for earlier, later in itertools.pairwise(spans))
