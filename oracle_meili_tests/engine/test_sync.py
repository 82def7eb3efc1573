"""Full and incremental syncs against a real Meilisearch."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import sqlalchemy as sa

from oracle_meili.adapters.meili import MeiliClient
from oracle_meili.adapters.server import free_port
from oracle_meili.config import MeilisearchConfig
from oracle_meili.demo import create_demo
from oracle_meili.engine.watermark import decode_watermark
from oracle_meili.errors import (
    DocumentError,
    MeilisearchError,
    MeilisearchUnavailableError,
)
from oracle_meili_tests.conftest import MakeIndex
from oracle_meili_tests.harness import SyncHarness


def test_full_sync_loads_every_live_row_TEST_070_to_073(
    sync: SyncHarness, make_index: MakeIndex
) -> None:
    """TEST-070 every live row extracted, TEST-071 rows become documents, TEST-072 sent in
    batches, TEST-073 the document count matches."""
    index = make_index()
    result = sync.full(index)
    expected = sync.live_count()
    assert result.rows_read == result.documents_upserted == result.index_document_count == expected
    assert sync.client.document_count(index.name) == expected
    assert result.watermark is not None and decode_watermark(result.watermark) is not None
    assert result.task_uids
    doc = sync.doc(index.name, 1)
    assert doc["sku"] == "SKU-00000001" and isinstance(doc["price"], float)
    # No build index is left behind.
    assert sync.client.index_uids(prefix=index.name) == [index.name]


def test_korean_and_english_search_finds_synced_products_TEST_130(
    sync: SyncHarness, make_index: MakeIndex
) -> None:
    index = make_index()
    sync.full(index)
    korean = sync.client.search(index.name, "이어폰")
    assert korean["hits"] and all("이어폰" in h["name"] for h in korean["hits"])
    filtered = sync.client.search(index.name, "", filter="price < 10")
    assert all(h["price"] < 10 for h in filtered["hits"])


def test_full_sync_swaps_an_existing_index(sync: SyncHarness, make_index: MakeIndex) -> None:
    index = make_index()
    sync.full(index)
    sync.execute("DELETE FROM PRODUCTS WHERE PRODUCT_ID <= 10")  # a hard delete
    result = sync.full(index)
    assert result.index_document_count == sync.live_count()
    assert sync.client.index_uids(prefix=index.name) == [index.name]
    with pytest.raises(MeilisearchError, match="document_not_found"):
        sync.doc(index.name, 1)


def test_bad_document_id_leaves_live_index_untouched(
    sync: SyncHarness, make_index: MakeIndex
) -> None:
    index = make_index()
    first = sync.full(index)
    query = (
        "SELECT CASE WHEN PRODUCT_ID = 250 THEN 'bad id' ELSE SKU END AS DOC_ID, NAME, "
        "UPDATED_AT, IS_DELETED FROM PRODUCTS"
    )
    bad = make_index(table=None, query=query, primary_key="DOC_ID")
    with pytest.raises(DocumentError, match=rf"index '{index.name}', primary key 'bad id'"):
        sync.full(bad)
    assert sync.client.document_count(index.name) == first.index_document_count
    assert sync.doc(index.name, 1)["product_id"] == 1
    assert sync.client.index_uids(prefix=index.name) == [index.name]


def test_failed_meilisearch_task_leaves_live_index_untouched(
    sync: SyncHarness, make_index: MakeIndex
) -> None:
    index = make_index()
    first = sync.full(index)
    # A value only Meilisearch refuses (one typo allowed from longer words than two).
    broken = make_index(
        settings={"typoTolerance": {"minWordSizeForTypos": {"oneTypo": 10, "twoTypos": 5}}}
    )
    with pytest.raises(MeilisearchError, match="invalid_settings_typo_tolerance"):
        sync.full(broken)
    assert sync.client.document_count(index.name) == first.index_document_count
    assert sync.client.index_uids(prefix=index.name) == [index.name]


def test_recreate_strategy_TEST_074(sync: SyncHarness, make_index: MakeIndex) -> None:
    index = make_index(full_strategy="recreate")
    sync.full(index)
    sync.execute("DELETE FROM PRODUCTS WHERE PRODUCT_ID <= 10")
    result = sync.full(index)
    assert result.strategy == "recreate"
    assert sync.client.document_count(index.name) == sync.live_count()


def test_incremental_sync_upserts_changes_and_deletes_soft_deleted_TEST_080_to_084_TEST_131(
    sync: SyncHarness, make_index: MakeIndex
) -> None:
    """TEST-080 the sync point stored and read, TEST-081 only changed rows extracted,
    TEST-082 upserted, TEST-083 soft-deleted rows deleted, TEST-084 the sync point advanced."""
    index = make_index(lookback_seconds=0)
    full = sync.full(index)
    now = dt.datetime(2026, 6, 1, 12, 0)
    sync.execute(
        "UPDATE PRODUCTS SET NAME = '새 이름 무선', UPDATED_AT = :t WHERE PRODUCT_ID = 2",
        t=now,
    )
    sync.execute(
        "UPDATE PRODUCTS SET IS_DELETED = 'Y', UPDATED_AT = :t WHERE PRODUCT_ID = 3",
        t=now,
    )
    sync.execute(
        "INSERT INTO PRODUCTS SELECT 9001, 'SKU-9001', 'Brand new kettle', NULL, 'Kitchen', NULL, "
        "'en', 10.5, 1, :t, :t, 'N'",
        t=now,
    )
    result = sync.incremental(index, full.watermark)
    assert (result.rows_read, result.documents_upserted, result.documents_deleted) == (3, 2, 1)
    assert result.previous_watermark == full.watermark
    assert decode_watermark(result.watermark) == now
    assert sync.doc(index.name, 2)["name"] == "새 이름 무선"
    assert sync.doc(index.name, 9001)["name"] == "Brand new kettle"
    assert sync.client.search(index.name, "Brand new kettle")["hits"][0]["product_id"] == 9001
    with pytest.raises(MeilisearchError, match="document_not_found"):
        sync.doc(index.name, 3)
    assert result.index_document_count == sync.live_count()
    again = sync.incremental(index, result.watermark)
    assert again.rows_read == 0 and again.watermark == result.watermark


def test_late_commit_inside_lookback_is_picked_up(sync: SyncHarness, make_index: MakeIndex) -> None:
    index = make_index(lookback_seconds=60)
    full = sync.full(index)
    watermark = decode_watermark(full.watermark)
    assert isinstance(watermark, dt.datetime)
    # A transaction that stamped its row before the last sync but committed after it.
    late = watermark - dt.timedelta(seconds=30)
    sync.execute(
        "UPDATE PRODUCTS SET NAME = 'late row', UPDATED_AT = :t WHERE PRODUCT_ID = 5",
        t=late,
    )
    without = sync.incremental(make_index(lookback_seconds=0), full.watermark)
    assert without.rows_read == 0
    result = sync.incremental(index, full.watermark)
    assert sync.doc(index.name, 5)["name"] == "late row"
    assert result.watermark == full.watermark  # the upper bound did not move


def test_incremental_creates_missing_index_with_settings(
    sync: SyncHarness, make_index: MakeIndex
) -> None:
    index = make_index()
    result = sync.incremental(index, None)
    assert result.rows_read == 500
    assert result.index_document_count == sync.live_count()
    # Soft-deleted rows were never in the new index: nothing was deleted (it used
    # to report the deletes asked for).
    assert sync.scalar("SELECT COUNT(*) FROM PRODUCTS WHERE IS_DELETED = 'Y'") > 0
    assert result.documents_deleted == 0
    assert result.documents_upserted == result.index_document_count
    settings = sync.client.settings(index.name)
    assert settings["filterableAttributes"] == ["category", "price"]


def test_composite_primary_key_end_to_end(sync: SyncHarness, make_index: MakeIndex) -> None:
    query = "SELECT CATEGORY, PRODUCT_ID AS LINE, NAME, UPDATED_AT, IS_DELETED FROM PRODUCTS"
    index = make_index(table=None, query=query, primary_key=["CATEGORY", "LINE"])
    result = sync.full(index)
    assert result.index_document_count == sync.live_count()
    hit = sync.client.search(index.name, "", filter=None, limit=1)["hits"][0]
    assert hit["id"].endswith(f"-{hit['line']}")


def test_unreachable_meilisearch_fails_before_touching_anything(
    demo_engine: sa.Engine, make_index: MakeIndex
) -> None:
    config = MeilisearchConfig(url=f"http://127.0.0.1:{free_port()}", timeout_seconds=2)
    with (
        MeiliClient(config) as client,
        pytest.raises(MeilisearchUnavailableError, match="is not answering"),
    ):
        SyncHarness(demo_engine, client).full(make_index())


def test_full_sync_of_10000_rows_TEST_132(
    tmp_path: Path,
    make_index: MakeIndex,
    meili_client: MeiliClient,
    meili_config: MeilisearchConfig,
) -> None:
    engine = sa.create_engine(f"sqlite:///{create_demo(tmp_path / 'big.db', rows=10_000)}")
    # Small payloads force several tasks in flight and several NDJSON payloads.
    big = SyncHarness(engine, meili_client).with_settings(
        max_payload_bytes=500_000, max_tasks_in_flight=2
    )
    result = big.full(make_index(batch_size=1000))
    assert result.index_document_count == big.live_count() > 9500
    assert len(result.task_uids) > 3
    engine.dispose()


def test_bad_row_in_incremental_sync_changes_nothing_live(
    sync: SyncHarness, make_index: MakeIndex
) -> None:
    query = (
        "SELECT CASE WHEN PRODUCT_ID = 250 THEN 'bad id' ELSE SKU END AS DOC_ID, NAME, "
        "UPDATED_AT, IS_DELETED FROM PRODUCTS"
    )
    index = make_index(table=None, query=query, primary_key="DOC_ID", settings={})
    sync.execute("UPDATE PRODUCTS SET PRODUCT_ID = 100250 WHERE PRODUCT_ID = 250")
    full = sync.full(index)
    sync.execute("UPDATE PRODUCTS SET PRODUCT_ID = 250 WHERE PRODUCT_ID = 100250")
    now = dt.datetime(2026, 6, 1)
    # Row 2 sorts before the bad row, so its document is serialized first: it must still
    # not reach the live index when the run fails.
    sync.execute(
        "UPDATE PRODUCTS SET NAME = 'must not appear', IS_DELETED = 'N', UPDATED_AT = :t "
        "WHERE PRODUCT_ID IN (2, 250)",
        t=now,
    )
    with pytest.raises(DocumentError, match="primary key 'bad id'"):
        sync.incremental(index, full.watermark)
    assert sync.doc(index.name, "SKU-00000002")["name"] != "must not appear"
    assert sync.client.document_count(index.name) == full.index_document_count
