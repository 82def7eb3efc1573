"""Shaped documents in the real Meilisearch, judged by searches: geosearch over the demo's
stores and vega-datasets' airports, vector and hybrid search, a filter on nested items, and
a transform whose dropped rows leave the index."""

from __future__ import annotations

import math
import uuid
from typing import Any

import orjson
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from oracle_meili.config import IndexConfig
from oracle_meili.demo_stores import SEOUL_STATION, STORES
from oracle_meili_tests.conftest import MakeIndex
from oracle_meili_tests.engine.test_public_data import airports  # noqa: F401 (a fixture)
from oracle_meili_tests.harness import SyncHarness
from oracle_meili_tests.test_docs import blocks


def distance_km(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Great-circle distance (haversine, Earth radius 6,371 km)."""
    lat1, lng1, lat2, lng2 = map(math.radians, (*a, *b))
    h = (
        math.sin((lat2 - lat1) / 2) ** 2
        + math.cos(lat1) * math.cos(lat2) * math.sin((lng2 - lng1) / 2) ** 2
    )
    return 2 * 6371 * math.asin(math.sqrt(h))


def nearest_first(
    point: tuple[float, float], filter_: str, index: str, sync: SyncHarness
) -> list[Any]:
    lat, lng = point
    found = sync.client.search(
        index, "", filter=filter_, sort=[f"_geoPoint({lat}, {lng}):asc"], limit=50
    )
    return list(found["hits"])


def test_stores_within_5_km_of_seoul_station_nearest_first(
    sync: SyncHarness, make_index: MakeIndex
) -> None:
    index = make_index(
        table="STORES", primary_key="STORE_ID", soft_delete=None,
        geo={"lat": "LATITUDE", "lng": "LONGITUDE"}, exclude=["LATITUDE", "LONGITUDE"],
        settings={"searchableAttributes": ["name", "city"], "filterableAttributes": ["city"]},
    )  # fmt: skip
    result = sync.full(index)
    assert result.index_document_count == len(STORES)
    lat, lng = SEOUL_STATION
    hits = nearest_first(SEOUL_STATION, f"_geoRadius({lat}, {lng}, 5000)", index.name, sync)
    expected = sorted(
        (distance_km(SEOUL_STATION, (la, ln)), name)
        for name, _, la, ln in STORES
        if la is not None and ln is not None and distance_km(SEOUL_STATION, (la, ln)) <= 5
    )
    assert [h["name"] for h in hits] == [name for _, name in expected]
    assert hits[0]["name"] == "서울역점" and "latitude" not in hits[0]
    # The online shop has no point: not in a geosearch, but found by its name.
    online = sync.client.search(index.name, "온라인")["hits"]
    assert [h["name"] for h in online] == ["온라인 스토어"] and "_geo" not in online[0]
    assert sync.check(index).consistent


def test_airports_nearest_to_a_point_from_public_data(
    airports: sa.Engine,  # noqa: F811 (the fixture)
    sync: SyncHarness,
    index_name: str,
) -> None:
    index = IndexConfig.model_validate(
        {"name": index_name, "table": "AIRPORTS", "primary_key": ["STATE", "IATA"],
         "geo": {"lat": "LATITUDE", "lng": "LONGITUDE"}, "batch_size": 500}
    )  # fmt: skip
    harness = SyncHarness(airports, sync.client)
    harness.full(index)
    ohare = (41.9786, -87.9048)
    hits = nearest_first(ohare, f"_geoRadius({ohare[0]}, {ohare[1]}, 40000)", index_name, harness)
    with airports.connect() as c:
        rows = c.exec_driver_sql("SELECT IATA, LATITUDE, LONGITUDE FROM AIRPORTS").all()
    expected = sorted((distance_km(ohare, (la, ln)), iata) for iata, la, ln in rows)
    inside = [iata for d, iata in expected if d <= 40]
    assert inside[0] == "ORD"
    assert [h["iata"] for h in hits] == inside
    assert harness.check(index).consistent


def test_vector_and_hybrid_search_on_user_provided_vectors(
    sync: SyncHarness, make_index: MakeIndex
) -> None:
    sync.execute("CREATE TABLE DOCS (DOC_ID INTEGER PRIMARY KEY, TITLE TEXT, EMBEDDING TEXT)")
    vectors = {1: [1, 0, 0], 2: [0.9, 0.1, 0], 3: [0, 1, 0], 4: [0, 0, 1], 5: None}
    titles = {1: "red apple", 2: "red cherry", 3: "green pear", 4: "blue berry", 5: "plain"}
    for doc_id, vector in vectors.items():
        sync.execute(
            "INSERT INTO DOCS VALUES (:id, :title, :embedding)", id=doc_id, title=titles[doc_id],
            embedding=None if vector is None else orjson.dumps(vector).decode(),
        )  # fmt: skip
    index = make_index(
        table="DOCS", primary_key="DOC_ID", cursor=None, soft_delete=None,
        vectors={"mini": {"column": "EMBEDDING", "dimensions": 3}},
        settings={"searchableAttributes": ["title"]},
    )  # fmt: skip
    sync.full(index)
    embedder = sync.client.settings(index.name)["embedders"]["mini"]
    assert (embedder["source"], embedder["dimensions"]) == ("userProvided", 3)
    semantic = sync.client.search(
        index.name, "", vector=[0.8, 0.2, 0], hybrid={"embedder": "mini", "semanticRatio": 1.0},
        limit=2,
    )["hits"]  # fmt: skip
    assert [h["doc_id"] for h in semantic] == [2, 1]
    assert "embedding" not in semantic[0]
    # Hybrid: the keyword "pear" brings in a document the vector alone ranks last.
    hybrid = sync.client.search(
        index.name, "pear", vector=[1, 0, 0], hybrid={"embedder": "mini", "semanticRatio": 0.5},
        limit=3,
    )["hits"]  # fmt: skip
    assert 3 in [h["doc_id"] for h in hybrid] and 1 in [h["doc_id"] for h in hybrid]
    assert sync.check(index).consistent


# The SQLite query of docs/configuration.md ("One-to-many"), run as the docs show it.
ORDERS_QUERY = next(block.text for block in blocks("sql") if "json_group_array" in block.text)


def test_orders_with_their_items_nested_and_a_child_change(
    sync: SyncHarness, make_index: MakeIndex
) -> None:
    sync.execute(
        "CREATE TABLE ORDERS (ORDER_ID INTEGER PRIMARY KEY, CUSTOMER TEXT, UPDATED_AT TEXT)"
    )
    sync.execute(
        "CREATE TABLE ORDER_ITEMS (ORDER_ID INTEGER, PRODUCT_ID INTEGER, QTY INTEGER, "
        "UPDATED_AT TEXT, PRIMARY KEY (ORDER_ID, PRODUCT_ID))"
    )
    for order_id, customer in ((1, "김민수"), (2, "Alice"), (3, "이서연")):
        sync.execute(
            "INSERT INTO ORDERS VALUES (:o, :c, '2026-11-01 00:00:00')", o=order_id, c=customer
        )
    for order_id, product_id, qty in ((1, 7, 1), (1, 8, 2), (2, 9, 1), (3, 8, 5)):
        sync.execute(
            "INSERT INTO ORDER_ITEMS VALUES (:o, :p, :q, '2026-11-01 00:00:00')",
            o=order_id, p=product_id, q=qty,
        )  # fmt: skip
    index = make_index(
        table=None, query=ORDERS_QUERY, primary_key="ORDER_ID", cursor="CHANGED_AT",
        soft_delete=None, json_fields=["ITEMS"], upstream=["ORDERS", "ORDER_ITEMS"],
        settings={"filterableAttributes": ["items.product_id"]},
    )  # fmt: skip
    full = sync.full(index)
    hits = sync.client.search(index.name, "", filter="items.product_id = 7")["hits"]
    assert [h["order_id"] for h in hits] == [1]
    assert hits[0]["items"] == [{"product_id": 7, "qty": 1}, {"product_id": 8, "qty": 2}]
    # A child row changes: the parent's cursor is the newest of both, so an incremental
    # sync re-sends order 2, now holding product 7.
    sync.execute(
        "UPDATE ORDER_ITEMS SET PRODUCT_ID = 7, UPDATED_AT = '2026-11-02 00:00:00' "
        "WHERE ORDER_ID = 2"
    )
    incremental = sync.incremental(index, full.watermark)
    assert incremental.rows_read == 1
    hits = sync.client.search(index.name, "", filter="items.product_id = 7", sort=None)["hits"]
    assert sorted(h["order_id"] for h in hits) == [1, 2]
    assert sync.check(index).consistent


def test_a_transform_that_drops_rows_removes_their_documents(
    sync: SyncHarness, make_index: MakeIndex
) -> None:
    sync.execute("ALTER TABLE PRODUCTS ADD COLUMN STATUS TEXT DEFAULT 'open'")
    sync.execute("UPDATE PRODUCTS SET STATUS = 'discontinued' WHERE PRODUCT_ID % 10 = 0")
    index = make_index(
        transform="oracle_meili_tests.transforms:drop_discontinued", lookback_seconds=0
    )
    full = sync.full(index)
    live = sync.live_count()
    dropped = sync.scalar(
        "SELECT COUNT(*) FROM PRODUCTS WHERE IS_DELETED = 'N' AND STATUS = 'discontinued'"
    )
    assert full.index_document_count == live - dropped
    assert sync.check(index).consistent
    # Three indexed products are discontinued: an incremental sync deletes their documents.
    sync.execute(
        "UPDATE PRODUCTS SET STATUS = 'discontinued', UPDATED_AT = '2030-01-01 00:00:00' "
        "WHERE PRODUCT_ID IN (SELECT PRODUCT_ID FROM PRODUCTS WHERE IS_DELETED = 'N' "
        "AND STATUS = 'open' ORDER BY PRODUCT_ID LIMIT 3)"
    )
    sync.incremental(index, full.watermark)
    assert sync.client.document_count(index.name) == live - dropped - 3
    assert sync.check(index).consistent


@settings(
    max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    items=st.lists(st.tuples(st.integers(1, 4), st.integers(1, 6), st.integers(1, 3)),
                   min_size=1, max_size=10, unique_by=lambda t: (t[0], t[1])),
    changes=st.lists(st.tuples(st.integers(1, 4), st.integers(1, 9)), min_size=1, max_size=4),
    batch_size=st.integers(1, 3),
)  # fmt: skip
def test_any_child_change_reaches_its_parent_by_an_incremental_sync(
    sync: SyncHarness,
    make_index: MakeIndex,
    items: list[tuple[int, int, int]],
    changes: list[tuple[int, int]],
    batch_size: int,
) -> None:
    """Orders with items (ties in the cursor, tiny pages): after items change, one
    incremental sync leaves the index equal to the query, document by document."""
    sync.execute("DROP TABLE IF EXISTS ORDERS")
    sync.execute("DROP TABLE IF EXISTS ORDER_ITEMS")
    sync.execute(
        "CREATE TABLE ORDERS (ORDER_ID INTEGER PRIMARY KEY, CUSTOMER TEXT, UPDATED_AT TEXT)"
    )
    sync.execute(
        "CREATE TABLE ORDER_ITEMS (ORDER_ID INTEGER, PRODUCT_ID INTEGER, QTY INTEGER, "
        "UPDATED_AT TEXT, PRIMARY KEY (ORDER_ID, PRODUCT_ID))"
    )
    for order_id in range(1, 5):
        sync.execute("INSERT INTO ORDERS VALUES (:o, 'c', '2026-11-01 00:00:00')", o=order_id)
    for order_id, product_id, qty in items:
        sync.execute("INSERT INTO ORDER_ITEMS VALUES (:o, :p, :q, '2026-11-01 00:00:00')",
                     o=order_id, p=product_id, q=qty)  # fmt: skip
    index = make_index(
        name=f"orders_{uuid.uuid4().hex[:8]}", table=None, query=ORDERS_QUERY,
        primary_key="ORDER_ID", cursor="CHANGED_AT", soft_delete=None, json_fields=["ITEMS"],
        batch_size=batch_size, settings={},
    )  # fmt: skip
    full = sync.full(index)
    for order_id, qty in changes:
        # A new item, or a changed quantity: either way the item row's time moves on.
        sync.execute(
            "INSERT INTO ORDER_ITEMS VALUES (:o, 99, :q, '2026-11-02 00:00:00') "
            "ON CONFLICT (ORDER_ID, PRODUCT_ID) DO UPDATE SET QTY = :q, "
            "UPDATED_AT = '2026-11-02 00:00:00'",
            o=order_id, q=qty,
        )  # fmt: skip
    sync.incremental(index, full.watermark)
    report = sync.check(index)
    assert report.consistent, report.summary()
    sync.client.delete_index(index.name)


def test_reconcile_removes_documents_the_transform_now_drops(
    sync: SyncHarness, make_index: MakeIndex
) -> None:
    """Rows the transform drops without their cursor moving (no sync sees them): check
    reports their documents as orphans, and reconcile deletes exactly those."""
    sync.execute("ALTER TABLE PRODUCTS ADD COLUMN STATUS TEXT DEFAULT 'open'")
    index = make_index(transform="oracle_meili_tests.transforms:drop_discontinued")
    sync.full(index)
    sync.execute(
        "UPDATE PRODUCTS SET STATUS = 'discontinued' WHERE PRODUCT_ID IN (SELECT PRODUCT_ID "
        "FROM PRODUCTS WHERE IS_DELETED = 'N' ORDER BY PRODUCT_ID LIMIT 2)"
    )
    before = sync.check(index)
    assert before.orphans == 2 and not before.consistent
    result = sync.reconcile(index)
    assert result.orphans == 2
    assert sync.check(index).consistent
