"""The integration scenarios against a real Oracle, opt-in.

Set ORACLE_TEST_DSN (e.g. localhost:1521/FREEPDB1), ORACLE_TEST_USER and
ORACLE_TEST_PASSWORD to run them (``docker compose up -d`` and ``oracle/seed.sql`` give
you one: see docs/oracle.md, "Testing against a real Oracle"); without them every test here is
skipped with that reason. No Oracle server exists where this project is built, so these
tests have not been run there.
"""

# mypy: disable-error-code="no-untyped-call"
# (SQLAlchemy's Oracle type constructors carry no annotations.)
from __future__ import annotations

import datetime as dt
import os
import uuid
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa
from pydantic import SecretStr
from sqlalchemy.dialects import oracle

from oracle_meili.adapters.key_ranges import key_ranges
from oracle_meili.adapters.meili import MeiliClient
from oracle_meili.adapters.oracle import oracle_engine
from oracle_meili.config import IndexConfig, MeilisearchConfig, OracleSettings
from oracle_meili.demo import populate
from oracle_meili.engine.result import SyncResult
from oracle_meili.engine.slices import complete_slices, load_slice, plan_slices
from oracle_meili.errors import SourceConnectionError
from oracle_meili_tests.harness import SyncHarness

pytestmark = [
    pytest.mark.oracle,
    pytest.mark.skipif(
        not os.environ.get("ORACLE_TEST_DSN"),
        reason="needs a real Oracle: set ORACLE_TEST_DSN, ORACLE_TEST_USER, ORACLE_TEST_PASSWORD",
    ),
]


@pytest.fixture(scope="module")
def settings() -> OracleSettings:
    return OracleSettings(
        user=os.environ.get("ORACLE_TEST_USER", "oracle_meili"),
        password=SecretStr(os.environ.get("ORACLE_TEST_PASSWORD", "")),
        dsn=os.environ["ORACLE_TEST_DSN"],
        connect_timeout_seconds=60,
    )


@pytest.fixture(scope="module")
def engine(settings: OracleSettings) -> Iterator[sa.Engine]:
    with oracle_engine(settings) as engine:
        yield engine


@pytest.fixture
def table_name(engine: sa.Engine) -> Iterator[str]:
    """A fresh table name per test, dropped afterwards."""
    name = f"OM_{uuid.uuid4().hex[:10].upper()}"
    yield name
    with engine.begin() as c:
        c.execute(sa.text(f'DROP TABLE "{name}" PURGE'))


def products_index(table: str, **overrides: Any) -> IndexConfig:
    return IndexConfig.model_validate(
        {
            "name": f"live_{table.lower()}",
            "table": table,
            "primary_key": "PRODUCT_ID",
            "cursor": "UPDATED_AT",
            "soft_delete": {"column": "IS_DELETED", "deleted_value": "Y"},
            "settings": {"searchableAttributes": ["name", "description"]},
            **overrides,
        }
    )


def full(engine: sa.Engine, index: IndexConfig, meili: MeilisearchConfig) -> SyncResult:
    with MeiliClient(meili) as client:
        return SyncHarness(engine, client).full(index)


def incremental(
    engine: sa.Engine, index: IndexConfig, meili: MeilisearchConfig, watermark: str | None
) -> SyncResult:
    with MeiliClient(meili) as client:
        return SyncHarness(engine, client).incremental(index, watermark)


def live_rows(engine: sa.Engine, table: str) -> int:
    sql = f"SELECT COUNT(*) FROM \"{table}\" WHERE IS_DELETED = 'N'"
    with engine.connect() as c:
        return int(c.execute(sa.text(sql)).scalar_one())


def test_full_then_incremental_with_soft_delete_and_late_commit(
    engine: sa.Engine, table_name: str, meili_config: MeilisearchConfig, meili_client: MeiliClient
) -> None:
    populate(engine, rows=2000, table_name=table_name)
    index = products_index(table_name, lookback_seconds=60)
    first = full(engine, index, meili_config)
    assert first.index_document_count == live_rows(engine, table_name)
    assert meili_client.search(index.name, "이어폰")["hits"]

    watermark = first.watermark
    now = dt.datetime(2026, 6, 1, 12)
    late = dt.datetime(2025, 12, 31, 23, 59, 30)  # inside the look-back of the watermark
    with engine.begin() as c:
        update = f'UPDATE "{table_name}" SET NAME = :n, UPDATED_AT = :t WHERE PRODUCT_ID = :i'
        c.execute(sa.text(update), [{"n": "새 이름", "t": now, "i": 2}])
        c.execute(sa.text(update), [{"n": "late row", "t": late, "i": 3}])
        soft = f"UPDATE \"{table_name}\" SET IS_DELETED = 'Y', UPDATED_AT = :t WHERE PRODUCT_ID = 4"
        c.execute(sa.text(soft), {"t": now})
    result = incremental(engine, index, meili_config, watermark)
    assert result.documents_deleted >= 1
    assert meili_client.document(index.name, 2)["name"] == "새 이름"
    assert meili_client.document(index.name, 3)["name"] == "late row"
    assert result.index_document_count == live_rows(engine, table_name)


def test_every_oracle_type(
    engine: sa.Engine, table_name: str, meili_config: MeilisearchConfig, meili_client: MeiliClient
) -> None:
    table = sa.Table(
        table_name,
        sa.MetaData(),
        sa.Column("ID", oracle.NUMBER(10), primary_key=True),
        sa.Column("NUM", oracle.NUMBER(12, 2)),
        sa.Column("BIG", oracle.NUMBER(38)),
        sa.Column("DBL", oracle.BINARY_DOUBLE()),
        sa.Column("FLAG", sa.CHAR(3)),
        sa.Column("TXT", oracle.VARCHAR2(100)),
        sa.Column("NTXT", oracle.NVARCHAR2(100)),
        sa.Column("DOC", oracle.CLOB()),
        sa.Column("BIN", oracle.RAW(16)),
        sa.Column("BLB", oracle.BLOB()),
        sa.Column("D", oracle.DATE()),
        sa.Column("TS", oracle.TIMESTAMP()),
        sa.Column("IDS", oracle.INTERVAL(day_precision=2, second_precision=6)),
    )  # fmt: skip
    table.create(engine)
    with engine.begin() as c:
        c.execute(
            table.insert(),
            {
                "ID": 1, "NUM": Decimal("19.90"), "BIG": 12345678901234567890, "DBL": float("inf"),
                "FLAG": "Y", "TXT": "plain", "NTXT": "한국어", "DOC": "긴 글 " * 1000,
                "BIN": b"\x01\x02", "BLB": b"\x00" * 10, "D": dt.datetime(2026, 1, 2, 3, 4, 5),
                "TS": dt.datetime(2026, 1, 2, 3, 4, 5, 123456),
                "IDS": dt.timedelta(days=1, seconds=1.5),
            },
        )  # fmt: skip
    index = IndexConfig.model_validate(
        {"name": f"live_{table_name.lower()}", "table": table_name, "primary_key": "ID"}
    )
    full(engine, index, meili_config)
    doc = meili_client.document(index.name, 1)
    assert (doc["num"], doc["big"], doc["dbl"]) == (19.9, 1.2345678901234567e19, None)
    assert (doc["flag"], doc["ntxt"], doc["bin"], doc["blb"]) == (
        "Y",
        "한국어",
        "AQI=",
        "AAAAAAAAAAAAAA==",
    )
    assert doc["doc"].startswith("긴 글")
    assert (doc["d"], doc["ts"], doc["ids"]) == (
        "2026-01-02T03:04:05",
        "2026-01-02T03:04:05.123456",
        86401.5,
    )


def test_composite_key(
    engine: sa.Engine, table_name: str, meili_config: MeilisearchConfig, meili_client: MeiliClient
) -> None:
    table = sa.Table(
        table_name,
        sa.MetaData(),
        sa.Column("ORDER_ID", oracle.NUMBER(10), primary_key=True),
        sa.Column("LINE_NO", oracle.NUMBER(5), primary_key=True),
        sa.Column("ITEM", oracle.VARCHAR2(50)),
    )
    table.create(engine)
    with engine.begin() as c:
        c.execute(table.insert(), [{"ORDER_ID": o, "LINE_NO": n, "ITEM": f"i{o}-{n}"}
                                   for o in range(1, 51) for n in range(1, 5)])  # fmt: skip
    index = IndexConfig.model_validate(
        {"name": f"live_{table_name.lower()}", "table": table_name,
         "primary_key": ["ORDER_ID", "LINE_NO"]}
    )  # fmt: skip
    assert full(engine, index, meili_config).index_document_count == 200
    assert meili_client.document(index.name, "7-3")["item"] == "i7-3"


def test_consistent_snapshot(
    engine: sa.Engine, table_name: str, meili_config: MeilisearchConfig
) -> None:
    populate(engine, rows=500, table_name=table_name)
    index = products_index(table_name, consistent_snapshot=True)
    # NOTE: no skip on a missing grant: oracle/seed.sql grants it, and a skip here once hid
    # a seed script that granted nothing.
    result = full(engine, index, meili_config)
    assert result.index_document_count == live_rows(engine, table_name)


def test_key_range_slices_on_oracle(
    engine: sa.Engine, table_name: str, meili_config: MeilisearchConfig, meili_client: MeiliClient
) -> None:
    """``parallel``: the ROW_NUMBER boundaries and each range's pages on Oracle, with a
    composite key whose leading column is all ties, read as of one SCN."""
    table = sa.Table(
        table_name,
        sa.MetaData(),
        sa.Column("REGION", oracle.VARCHAR2(10), primary_key=True),
        sa.Column("SEQ", oracle.NUMBER(10), primary_key=True),
        sa.Column("NAME", oracle.NVARCHAR2(50)),
    )
    table.create(engine)
    with engine.begin() as c:
        c.execute(table.insert(), [{"REGION": "SEOUL", "SEQ": n, "NAME": f"가게 {n}"}
                                   for n in range(1, 1001)])  # fmt: skip
    index = IndexConfig.model_validate(
        {"name": f"live_{table_name.lower()}", "table": table_name,
         "primary_key": ["REGION", "SEQ"], "parallel": 4, "batch_size": 100,
         "consistent_snapshot": True}
    )  # fmt: skip
    with MeiliClient(meili_config) as client:
        source = SyncHarness(engine, client).source(index)
        ranges = key_ranges(source, 4)
        assert [r.upto for r in ranges] == [("SEOUL", 250), ("SEOUL", 500), ("SEOUL", 750), None]
        plan = plan_slices(source, client, resume=None)
        done = {n: load_slice(source, client, plan, n) for n in range(plan.slices)}
        assert [c.rows_read for c in done.values()] == [250, 250, 250, 250]
        result = complete_slices(source, client, plan, done)
    assert result.index_document_count == 1000
    assert meili_client.document(index.name, "SEOUL-777")["name"] == "가게 777"


def test_wrong_password_names_target_and_code(settings: OracleSettings) -> None:
    wrong = settings.model_copy(update={"password": SecretStr("wrong-password")})
    with pytest.raises(SourceConnectionError, match=r"ORA-01017") as raised, oracle_engine(wrong):
        pass
    assert "wrong-password" not in str(raised.value)


# Oracle as it is in the field. oracle/seed.sql gives every session of the test
# user a linguistic sort and a +09:00 time zone through a logon trigger.


def test_sessions_compare_binary_in_utc_whatever_the_logon_trigger_says(
    engine: sa.Engine,
) -> None:
    with engine.connect() as c:
        settings: dict[str, str] = dict(
            c.execute(
                sa.text(
                    "SELECT parameter, value FROM nls_session_parameters "
                    "WHERE parameter IN ('NLS_SORT', 'NLS_COMP')"
                )
            ).all()
        )
        zone = c.execute(sa.text("SELECT SESSIONTIMEZONE FROM DUAL")).scalar_one()
    assert settings == {"NLS_SORT": "BINARY", "NLS_COMP": "BINARY"}
    assert zone in ("UTC", "+00:00")
