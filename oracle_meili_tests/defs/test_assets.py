"""The index assets, materialized with Dagster against a real Meilisearch."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import dagster as dg
import pytest
import sqlalchemy as sa

from oracle_meili.config import AppConfig
from oracle_meili.definitions import build_resources
from oracle_meili.defs import metadata as keys
from oracle_meili.defs.assets import build_index_asset, index_asset_key, source_table_key
from oracle_meili.meili import MeiliClient
from oracle_meili.server import RunningMeilisearch, free_port


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
    assert meili_client._client.index(index.name).get_document(7).name == "dagster row"

    # The next incremental continues from the incremental partition's watermark.
    again = materialize(app_config, instance, "incremental")
    assert metadata_of(again)[keys.PREVIOUS_WATERMARK] == "datetime:2026-07-01T00:00:00"


def test_failed_run_keeps_the_watermark(
    app_config: AppConfig, instance: dg.DagsterInstance
) -> None:
    assert materialize(app_config, instance, "full").success
    before = keys.latest_watermark(instance, index_asset_key(app_config.indexes[0]))
    broken = app_config.model_copy(
        update={
            "meilisearch": app_config.meilisearch.model_copy(
                update={"url": f"http://127.0.0.1:{free_port()}"}
            )
        }
    )
    failed = materialize(broken, instance, "incremental")
    assert not failed.success
    assert keys.latest_watermark(instance, index_asset_key(app_config.indexes[0])) == before


def test_asset_shape(app_config: AppConfig) -> None:
    index = app_config.indexes[0]
    asset = build_index_asset(index)
    assert asset.key == dg.AssetKey(["meilisearch", index.name])
    assert asset.partitions_def is not None
    assert set(asset.partitions_def.get_partition_keys()) == {"full", "incremental"}
    assert source_table_key("PRODUCTS") in asset.asset_deps[asset.key]
    assert asset.op.pool == f"oracle_meili/{index.name}"
    assert asset.descriptions_by_key[asset.key].startswith(f"Meilisearch index `{index.name}`")
