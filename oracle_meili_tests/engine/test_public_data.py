"""Real data nobody on this project wrote: vega-datasets' stock prices and US
airports, loaded into the embedded SQLite source as a user would, synced into the real
Meilisearch, then checked document by document and searched.

- stocks.csv: 560 monthly prices, PRIMARY KEY (SYMBOL, DAY) with a date/time part, a
  NUMERIC price, and one bulk-load timestamp for every row (a cursor made of one tie).
- airports.csv: 3,376 airports, PRIMARY KEY (STATE, IATA): more than 1,000 composite ids,
  which check and reconcile must handle on SQLite.
Seed TEST-070 to TEST-073 (a full sync of a real table, document by document), TEST-081,
TEST-082 and TEST-084 (an incremental sync of changed rows advancing the sync point),
TEST-130 (searches a user would run).
"""

from __future__ import annotations

import csv
import datetime as dt
import importlib.util
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from oracle_meili.adapters.meili import MeiliClient
from oracle_meili.adapters.source import TableSource
from oracle_meili.config import IndexConfig, MeilisearchConfig
from oracle_meili.documents import composite_id
from oracle_meili.engine.consistency import check_consistency
from oracle_meili.engine.full import full_sync
from oracle_meili.engine.incremental import incremental_sync
from oracle_meili.engine.reconcile import reconcile

LOADED_AT = "2026-11-30 09:00:00"


def data_file(name: str) -> Path:
    """A file of the vega-datasets wheel, found without importing the package (pandas)."""
    spec = importlib.util.find_spec("vega_datasets")
    assert spec is not None and spec.submodule_search_locations is not None
    return Path(next(iter(spec.submodule_search_locations))) / "_data" / name


def csv_rows(name: str) -> list[dict[str, str]]:
    with data_file(name).open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture
def stocks(tmp_path: Path) -> Iterator[sa.Engine]:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'stocks.db'}")
    with engine.begin() as c:
        c.exec_driver_sql(
            "CREATE TABLE STOCKS (SYMBOL TEXT NOT NULL, DAY DATETIME NOT NULL, "
            "PRICE NUMERIC(10, 2), UPDATED_AT DATETIME, PRIMARY KEY (SYMBOL, DAY))"
        )
        c.exec_driver_sql(
            "INSERT INTO STOCKS VALUES (?, ?, ?, ?)",
            [
                (
                    r["symbol"],
                    dt.datetime.strptime(r["date"], "%b %d %Y").isoformat(sep=" "),
                    r["price"],
                    LOADED_AT,
                )
                for r in csv_rows("stocks.csv")
            ],
        )
    yield engine
    engine.dispose()


@pytest.fixture
def airports(tmp_path: Path) -> Iterator[sa.Engine]:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'airports.db'}")
    with engine.begin() as c:
        c.exec_driver_sql(
            "CREATE TABLE AIRPORTS (IATA TEXT NOT NULL, NAME TEXT, CITY TEXT, STATE TEXT "
            "NOT NULL, COUNTRY TEXT, LATITUDE REAL, LONGITUDE REAL, PRIMARY KEY (STATE, IATA))"
        )
        c.exec_driver_sql(
            "INSERT INTO AIRPORTS VALUES (?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    r["iata"],
                    r["name"],
                    r["city"],
                    r["state"] or "NA",
                    r["country"],
                    float(r["latitude"]),
                    float(r["longitude"]),
                )
                for r in csv_rows("airports.csv")
            ],
        )
    yield engine
    engine.dispose()


def stocks_index(name: str, **overrides: Any) -> IndexConfig:
    raw: dict[str, Any] = {
        "name": name,
        "table": "STOCKS",
        "primary_key": ["SYMBOL", "DAY"],
        "cursor": "UPDATED_AT",
        "batch_size": 7,  # pages end inside a symbol's run of dates
        "settings": {"filterableAttributes": ["symbol"], "sortableAttributes": ["price"]},
        **overrides,
    }
    return IndexConfig.model_validate(raw)


def test_stock_prices_sync_document_by_document(
    stocks: sa.Engine,
    index_name: str,
    meili_client: MeiliClient,
    meili_config: MeilisearchConfig,
) -> None:
    index = stocks_index(index_name)
    source = TableSource(stocks, index)
    result = full_sync(source, meili_client)
    expected = csv_rows("stocks.csv")
    assert result.rows_read == result.index_document_count == len(expected) == 560

    # Every CSV row, looked up by its id, is the document a user expects.
    for row in expected:
        day = dt.datetime.strptime(row["date"], "%b %d %Y")
        doc_id = composite_id([row["symbol"], day], index=index_name)
        document = meili_client.document(index_name, doc_id)
        assert document["symbol"] == row["symbol"]
        assert document["day"] == day.isoformat()
        assert Decimal(str(document["price"])) == Decimal(row["price"])

    report = check_consistency(source, meili_client, chunk=50)
    assert report.consistent and report.matching == 560, report

    # Searches a user would run.
    hits = meili_client.search(index_name, "", filter="symbol = AAPL", sort=["price:desc"])
    assert hits["estimatedTotalHits"] == sum(r["symbol"] == "AAPL" for r in expected)
    top = max((Decimal(r["price"]), r["date"]) for r in expected if r["symbol"] == "AAPL")
    assert Decimal(str(hits["hits"][0]["price"])) == top[0]
    assert meili_client.search(index_name, "GOOG")["hits"][0]["symbol"] == "GOOG"


def test_stock_prices_incremental_over_one_bulk_load_timestamp(
    stocks: sa.Engine,
    index_name: str,
    meili_client: MeiliClient,
    meili_config: MeilisearchConfig,
) -> None:
    """All 560 rows carry one cursor value: pages of 7 still read every one of them."""
    index = stocks_index(index_name)
    source = TableSource(stocks, index)
    first = incremental_sync(source, meili_client, watermark=None)
    assert first.rows_read == first.documents_upserted == 560
    assert first.index_document_count == 560
    with stocks.begin() as c:
        c.exec_driver_sql(
            "UPDATE STOCKS SET PRICE = PRICE + 1, UPDATED_AT = '2026-11-30 10:00:00' "
            "WHERE SYMBOL = 'IBM'"
        )
    second = incremental_sync(source, meili_client, watermark=first.watermark)
    assert second.rows_read == sum(r["symbol"] == "IBM" for r in csv_rows("stocks.csv"))
    report = check_consistency(source, meili_client, chunk=64)
    assert report.consistent, report


def test_stock_prices_reconcile_deletes_exactly_the_deleted_rows(
    stocks: sa.Engine,
    index_name: str,
    meili_client: MeiliClient,
    meili_config: MeilisearchConfig,
) -> None:
    """With a date in the key, reconcile deletes exactly the rows deleted from the source
    (an id is never decoded back into key values)."""
    index = stocks_index(index_name)
    source = TableSource(stocks, index)
    full_sync(source, meili_client)
    untouched = reconcile(source, meili_client)
    assert untouched.orphans == 0 and untouched.documents_checked == 560
    with stocks.begin() as c:
        c.exec_driver_sql("DELETE FROM STOCKS WHERE SYMBOL = 'MSFT' AND DAY < '2001-01-01'")
    result = reconcile(source, meili_client, chunk=64)
    assert result.orphans == 12
    assert all(str(i).startswith("MSFT-2000") for i in result.orphan_sample)
    assert meili_client.document_count(index_name) == 548
    assert check_consistency(source, meili_client).consistent


def test_airports_more_than_a_thousand_composite_ids(
    airports: sa.Engine,
    index_name: str,
    meili_client: MeiliClient,
    meili_config: MeilisearchConfig,
) -> None:
    """`Expression tree is too large` at 997+ composite documents."""
    index = IndexConfig.model_validate(
        {
            "name": index_name,
            "table": "AIRPORTS",
            "primary_key": ["STATE", "IATA"],
            "batch_size": 500,
            "settings": {"searchableAttributes": ["name", "city", "iata"]},
        }
    )
    source = TableSource(airports, index)
    result = full_sync(source, meili_client)
    assert result.index_document_count == len(csv_rows("airports.csv")) == 3376
    report = check_consistency(source, meili_client)
    assert report.consistent and report.matching == 3376, report
    with airports.begin() as c:
        c.exec_driver_sql("DELETE FROM AIRPORTS WHERE STATE = 'WY'")
        gone = 3376 - c.exec_driver_sql("SELECT COUNT(*) FROM AIRPORTS").scalar_one()
    assert 0 < gone < 100
    assert reconcile(source, meili_client).orphans == gone
    # A typo a user makes still finds the airport (Meilisearch's typo tolerance).
    hits = meili_client.search(index_name, "Chicgo Ohare")["hits"]
    assert any(h["iata"] == "ORD" for h in hits[:3])
