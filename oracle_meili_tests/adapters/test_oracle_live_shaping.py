"""Shaping against a real Oracle, opt-in (see test_oracle_live.py for how to run them):
a 23ai VECTOR column as `vectors`, a CLOB of JSON as `json_fields`, NUMBER coordinates as
`geo`, and the one-to-many query of docs/configuration.md with JSON_ARRAYAGG."""

# ruff: noqa: F811 (the fixtures come from test_oracle_live.py and are named as parameters)

from __future__ import annotations

import os

import pytest
import sqlalchemy as sa

from oracle_meili.adapters.meili import MeiliClient
from oracle_meili.config import IndexConfig, MeilisearchConfig
from oracle_meili_tests.adapters.test_oracle_live import (  # noqa: F401
    engine,
    full,
    settings,
    table_name,
)
from oracle_meili_tests.test_docs import blocks

pytestmark = [
    pytest.mark.oracle,
    pytest.mark.skipif(
        not os.environ.get("ORACLE_TEST_DSN"),
        reason="needs a real Oracle (23ai for VECTOR): set ORACLE_TEST_DSN, ORACLE_TEST_USER, "
        "ORACLE_TEST_PASSWORD",
    ),
]


def test_vector_clob_json_and_number_coordinates(
    engine: sa.Engine, table_name: str, meili_config: MeilisearchConfig, meili_client: MeiliClient
) -> None:
    with engine.begin() as c:
        c.execute(sa.text(
            f'CREATE TABLE "{table_name}" (ID NUMBER(10) PRIMARY KEY, LAT NUMBER(9, 6), '
            "LNG NUMBER(9, 6), TAGS CLOB, EMB VECTOR(3, FLOAT32))"
        ))  # fmt: skip
        c.execute(
            sa.text(f"INSERT INTO \"{table_name}\" VALUES (1, 37.5547, 126.9707, "
                    "'[\"역\", {\"a\": 1}]', TO_VECTOR('[1, 0, 0.5]'))")
        )  # fmt: skip
    index = IndexConfig.model_validate(
        {"name": f"live_{table_name.lower()}", "table": table_name, "primary_key": "ID",
         "geo": {"lat": "LAT", "lng": "LNG"}, "json_fields": ["TAGS"],
         "vectors": {"e": {"column": "EMB", "dimensions": 3}}}
    )  # fmt: skip
    full(engine, index, meili_config)
    document = meili_client.document(index.name, 1)
    assert document["_geo"] == {"lat": 37.5547, "lng": 126.9707}
    assert document["tags"] == ["역", {"a": 1}]
    hits = meili_client.search(
        index.name, "", vector=[1, 0, 0.5], hybrid={"embedder": "e", "semanticRatio": 1.0}
    )["hits"]
    assert [h["id"] for h in hits] == [1]


def test_the_docs_one_to_many_query_on_oracle(
    engine: sa.Engine, table_name: str, meili_config: MeilisearchConfig, meili_client: MeiliClient
) -> None:
    (oracle_query,) = [b.text for b in blocks("text") if "JSON_ARRAYAGG" in b.text]
    with engine.begin() as c:
        c.execute(sa.text("CREATE TABLE ORDERS (ORDER_ID NUMBER PRIMARY KEY, CUSTOMER "
                          "VARCHAR2(50), UPDATED_AT TIMESTAMP)"))  # fmt: skip
        c.execute(sa.text("CREATE TABLE ORDER_ITEMS (ORDER_ID NUMBER, PRODUCT_ID NUMBER, "
                          "QTY NUMBER, UPDATED_AT TIMESTAMP)"))  # fmt: skip
        c.execute(sa.text("INSERT INTO ORDERS VALUES (1, 'Kim', SYSTIMESTAMP)"))
        c.execute(sa.text("INSERT INTO ORDER_ITEMS VALUES (1, 7, 2, SYSTIMESTAMP)"))
    try:
        index = IndexConfig.model_validate(
            {"name": f"live_{table_name.lower()}", "query": oracle_query,
             "primary_key": "ORDER_ID", "cursor": "CHANGED_AT", "json_fields": ["ITEMS"],
             "settings": {"filterableAttributes": ["items.product_id"]}}
        )  # fmt: skip
        full(engine, index, meili_config)
        hits = meili_client.search(index.name, "", filter="items.product_id = 7")["hits"]
        assert [h["order_id"] for h in hits] == [1]
    finally:
        with engine.begin() as c:
            c.execute(sa.text("DROP TABLE ORDER_ITEMS"))
            c.execute(sa.text("DROP TABLE ORDERS"))
