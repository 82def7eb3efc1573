"""Full and incremental syncs against a real Meilisearch (seed TEST-070..084, TEST-130..132)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from oracle_meili.config import IndexConfig, MeilisearchConfig
from oracle_meili.demo import create_demo
from oracle_meili.errors import DocumentError, MeilisearchError, MeilisearchUnavailableError
from oracle_meili.meili import MeiliClient
from oracle_meili.server import free_port
from oracle_meili.source import TableSource
from oracle_meili.sync import SyncResult, full_sync, incremental_sync
from oracle_meili.watermark import decode_watermark

from .conftest import MakeIndex


def run_full(
    engine: sa.Engine, index: IndexConfig, client: MeiliClient, meili: MeilisearchConfig
) -> SyncResult:
    return full_sync(index, source=TableSource(engine, index), client=client, meili=meili)


def run_incremental(
    engine: sa.Engine,
    index: IndexConfig,
    client: MeiliClient,
    meili: MeilisearchConfig,
    watermark: str | None,
) -> SyncResult:
    return incremental_sync(
        index, source=TableSource(engine, index), client=client, meili=meili, watermark=watermark
    )


def live_count(engine: sa.Engine) -> int:
    with engine.connect() as c:
        return int(
            c.execute(sa.text("SELECT COUNT(*) FROM PRODUCTS WHERE IS_DELETED = 'N'")).scalar_one()
        )


def execute(engine: sa.Engine, sql: str, **params: Any) -> None:
    with engine.begin() as c:
        c.execute(sa.text(sql), params)


def get_doc(client: MeiliClient, index: str, doc_id: int) -> Any:
    return client._client.index(index).get_document(doc_id)


def test_full_sync_loads_every_live_row_TEST_070_to_073(
    demo_engine: sa.Engine,
    make_index: MakeIndex,
    meili_client: MeiliClient,
    meili_config: MeilisearchConfig,
) -> None:
    index = make_index()
    result = run_full(demo_engine, index, meili_client, meili_config)
    expected = live_count(demo_engine)
    assert result.rows_read == result.documents_upserted == result.index_document_count == expected
    assert meili_client.document_count(index.name) == expected
    assert result.watermark is not None and decode_watermark(result.watermark) is not None
    assert result.task_uids
    doc = get_doc(meili_client, index.name, 1)
    assert doc.sku == "SKU-00000001" and isinstance(doc.price, float)
    # No build index is left behind.
    assert meili_client.index_uids(prefix=index.name) == [index.name]


def test_korean_and_english_search_finds_synced_products_TEST_130(
    demo_engine: sa.Engine,
    make_index: MakeIndex,
    meili_client: MeiliClient,
    meili_config: MeilisearchConfig,
) -> None:
    index = make_index()
    run_full(demo_engine, index, meili_client, meili_config)
    korean = meili_client.search(index.name, "이어폰")
    assert korean["hits"] and all("이어폰" in h["name"] for h in korean["hits"])
    typo = meili_client.search(index.name, "earbuds wirelss")  # typo-tolerant
    assert typo["hits"] and "Earbuds" in typo["hits"][0]["name"]
    filtered = meili_client.search(index.name, "", filter="price < 10")
    assert all(h["price"] < 10 for h in filtered["hits"])


def test_full_sync_swaps_an_existing_index(
    demo_engine: sa.Engine,
    make_index: MakeIndex,
    meili_client: MeiliClient,
    meili_config: MeilisearchConfig,
) -> None:
    index = make_index()
    run_full(demo_engine, index, meili_client, meili_config)
    execute(demo_engine, "DELETE FROM PRODUCTS WHERE PRODUCT_ID <= 10")  # a hard delete
    result = run_full(demo_engine, index, meili_client, meili_config)
    assert result.index_document_count == live_count(demo_engine)
    assert meili_client.index_uids(prefix=index.name) == [index.name]
    with pytest.raises(MeilisearchError, match="document_not_found"):
        meili_client._call(meili_client._client.index(index.name).get_document, 1)


def test_bad_document_id_leaves_live_index_untouched(
    demo_engine: sa.Engine,
    make_index: MakeIndex,
    meili_client: MeiliClient,
    meili_config: MeilisearchConfig,
) -> None:
    index = make_index()
    first = run_full(demo_engine, index, meili_client, meili_config)
    query = (
        "SELECT CASE WHEN PRODUCT_ID = 250 THEN 'bad id' ELSE SKU END AS DOC_ID, NAME, "
        "UPDATED_AT, IS_DELETED FROM PRODUCTS"
    )
    bad = make_index(table=None, query=query, primary_key="DOC_ID")
    with pytest.raises(DocumentError, match=rf"index '{index.name}', primary key 'bad id'"):
        run_full(demo_engine, bad, meili_client, meili_config)
    assert meili_client.document_count(index.name) == first.index_document_count
    assert get_doc(meili_client, index.name, 1).product_id == 1
    assert meili_client.index_uids(prefix=index.name) == [index.name]


def test_failed_meilisearch_task_leaves_live_index_untouched(
    demo_engine: sa.Engine,
    make_index: MakeIndex,
    meili_client: MeiliClient,
    meili_config: MeilisearchConfig,
) -> None:
    index = make_index()
    first = run_full(demo_engine, index, meili_client, meili_config)
    broken = make_index(settings={"rankingRules": ["no_such_rule"]})
    with pytest.raises(MeilisearchError, match="invalid_settings_ranking_rules"):
        run_full(demo_engine, broken, meili_client, meili_config)
    assert meili_client.document_count(index.name) == first.index_document_count
    assert meili_client.index_uids(prefix=index.name) == [index.name]


def test_recreate_strategy_TEST_074(
    demo_engine: sa.Engine,
    make_index: MakeIndex,
    meili_client: MeiliClient,
    meili_config: MeilisearchConfig,
) -> None:
    index = make_index(full_strategy="recreate")
    run_full(demo_engine, index, meili_client, meili_config)
    execute(demo_engine, "DELETE FROM PRODUCTS WHERE PRODUCT_ID <= 10")
    result = run_full(demo_engine, index, meili_client, meili_config)
    assert result.strategy == "recreate"
    assert meili_client.document_count(index.name) == live_count(demo_engine)


def test_incremental_sync_upserts_changes_and_deletes_soft_deleted_TEST_080_to_084_TEST_131(
    demo_engine: sa.Engine,
    make_index: MakeIndex,
    meili_client: MeiliClient,
    meili_config: MeilisearchConfig,
) -> None:
    index = make_index(lookback_seconds=0)
    full = run_full(demo_engine, index, meili_client, meili_config)
    now = dt.datetime(2026, 6, 1, 12, 0)
    execute(
        demo_engine,
        "UPDATE PRODUCTS SET NAME = '새 이름 무선', UPDATED_AT = :t WHERE PRODUCT_ID = 2",
        t=now,
    )
    execute(
        demo_engine,
        "UPDATE PRODUCTS SET IS_DELETED = 'Y', UPDATED_AT = :t WHERE PRODUCT_ID = 3",
        t=now,
    )
    execute(
        demo_engine,
        "INSERT INTO PRODUCTS SELECT 9001, 'SKU-9001', 'Brand new kettle', NULL, 'Kitchen', NULL, "
        "'en', 10.5, 1, :t, :t, 'N'",
        t=now,
    )
    result = run_incremental(demo_engine, index, meili_client, meili_config, full.watermark)
    assert (result.rows_read, result.documents_upserted, result.documents_deleted) == (3, 2, 1)
    assert result.previous_watermark == full.watermark
    assert decode_watermark(result.watermark) == now
    assert get_doc(meili_client, index.name, 2).name == "새 이름 무선"
    assert get_doc(meili_client, index.name, 9001).name == "Brand new kettle"
    assert meili_client.search(index.name, "Brand new kettle")["hits"][0]["product_id"] == 9001
    with pytest.raises(MeilisearchError, match="document_not_found"):
        meili_client._call(meili_client._client.index(index.name).get_document, 3)
    assert result.index_document_count == live_count(demo_engine)
    again = run_incremental(demo_engine, index, meili_client, meili_config, result.watermark)
    assert again.rows_read == 0 and again.watermark == result.watermark


def test_late_commit_inside_lookback_is_picked_up(
    demo_engine: sa.Engine,
    make_index: MakeIndex,
    meili_client: MeiliClient,
    meili_config: MeilisearchConfig,
) -> None:
    index = make_index(lookback_seconds=60)
    full = run_full(demo_engine, index, meili_client, meili_config)
    watermark = decode_watermark(full.watermark)
    assert isinstance(watermark, dt.datetime)
    # A transaction that stamped its row before the last sync but committed after it.
    late = watermark - dt.timedelta(seconds=30)
    execute(
        demo_engine,
        "UPDATE PRODUCTS SET NAME = 'late row', UPDATED_AT = :t WHERE PRODUCT_ID = 5",
        t=late,
    )
    without = run_incremental(
        demo_engine, make_index(lookback_seconds=0), meili_client, meili_config, full.watermark
    )
    assert without.rows_read == 0
    result = run_incremental(demo_engine, index, meili_client, meili_config, full.watermark)
    assert get_doc(meili_client, index.name, 5).name == "late row"
    assert result.watermark == full.watermark  # the upper bound did not move


def test_incremental_creates_missing_index_with_settings(
    demo_engine: sa.Engine,
    make_index: MakeIndex,
    meili_client: MeiliClient,
    meili_config: MeilisearchConfig,
) -> None:
    index = make_index()
    result = run_incremental(demo_engine, index, meili_client, meili_config, None)
    assert result.rows_read == 500
    assert result.index_document_count == live_count(demo_engine)
    settings = meili_client._client.index(index.name).get_settings()
    assert settings["filterableAttributes"] == ["category", "price"]


def test_composite_primary_key_end_to_end(
    demo_engine: sa.Engine,
    make_index: MakeIndex,
    meili_client: MeiliClient,
    meili_config: MeilisearchConfig,
) -> None:
    query = "SELECT CATEGORY, PRODUCT_ID AS LINE, NAME, UPDATED_AT, IS_DELETED FROM PRODUCTS"
    index = make_index(table=None, query=query, primary_key=["CATEGORY", "LINE"])
    result = run_full(demo_engine, index, meili_client, meili_config)
    assert result.index_document_count == live_count(demo_engine)
    hit = meili_client.search(index.name, "", filter=None, limit=1)["hits"][0]
    assert hit["id"].endswith(f"-{hit['line']}")


def test_unreachable_meilisearch_fails_before_touching_anything(
    demo_engine: sa.Engine, make_index: MakeIndex
) -> None:
    config = MeilisearchConfig(url=f"http://127.0.0.1:{free_port()}", timeout_seconds=2)
    with (
        MeiliClient(config) as client,
        pytest.raises(MeilisearchUnavailableError, match="unreachable"),
    ):
        run_full(demo_engine, make_index(), client, config)


def test_full_sync_of_10000_rows_TEST_132(
    tmp_path: Path,
    make_index: MakeIndex,
    meili_client: MeiliClient,
    meili_config: MeilisearchConfig,
) -> None:
    engine = sa.create_engine(f"sqlite:///{create_demo(tmp_path / 'big.db', rows=10_000)}")
    # Small payloads force several tasks in flight and several NDJSON payloads.
    small = meili_config.model_copy(update={"max_payload_bytes": 500_000, "max_tasks_in_flight": 2})
    result = run_full(engine, make_index(batch_size=1000), meili_client, small)
    assert result.index_document_count == live_count(engine) > 9500
    assert len(result.task_uids) > 3
    engine.dispose()


def test_bad_row_in_incremental_sync_changes_nothing_live(
    demo_engine: sa.Engine,
    make_index: MakeIndex,
    meili_client: MeiliClient,
    meili_config: MeilisearchConfig,
) -> None:
    query = (
        "SELECT CASE WHEN PRODUCT_ID = 250 THEN 'bad id' ELSE SKU END AS DOC_ID, NAME, "
        "UPDATED_AT, IS_DELETED FROM PRODUCTS"
    )
    index = make_index(table=None, query=query, primary_key="DOC_ID", settings={})
    execute(demo_engine, "UPDATE PRODUCTS SET PRODUCT_ID = 100250 WHERE PRODUCT_ID = 250")
    full = run_full(demo_engine, index, meili_client, meili_config)
    execute(demo_engine, "UPDATE PRODUCTS SET PRODUCT_ID = 250 WHERE PRODUCT_ID = 100250")
    now = dt.datetime(2026, 6, 1)
    # Row 2 sorts before the bad row, so its document is serialized first: it must still
    # not reach the live index when the run fails.
    execute(
        demo_engine,
        "UPDATE PRODUCTS SET NAME = 'must not appear', IS_DELETED = 'N', UPDATED_AT = :t "
        "WHERE PRODUCT_ID IN (2, 250)",
        t=now,
    )
    with pytest.raises(DocumentError, match="primary key 'bad id'"):
        run_incremental(demo_engine, index, meili_client, meili_config, full.watermark)
    assert (
        meili_client._client.index(index.name).get_document("SKU-00000002").name
        != "must not appear"
    )
    assert meili_client.document_count(index.name) == full.index_document_count
