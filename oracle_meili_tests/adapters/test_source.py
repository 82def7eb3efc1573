"""Reading the source in keyset batches."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import oracle

from oracle_meili.adapters.markers import CursorMax
from oracle_meili.adapters.ordering import after_key, order_column
from oracle_meili.adapters.source import TableSource
from oracle_meili.errors import ConfigError, SourceError
from oracle_meili_tests.conftest import MakeIndex


def all_rows(engine: sa.Engine, where: str = "") -> list[Any]:
    with engine.connect() as c:
        return list(c.execute(sa.text(f"SELECT * FROM PRODUCTS {where} ORDER BY PRODUCT_ID")))


def test_read_all_returns_every_live_row_in_batches_TEST_030_TEST_032(
    demo_engine: sa.Engine, make_index: MakeIndex
) -> None:
    source = TableSource(demo_engine, make_index(batch_size=64))
    batches = list(source.read_all(batch_size=64))
    assert all(len(b) <= 64 for b in batches) and len(batches) > 5
    ids = [row[0] for batch in batches for row in batch]
    expected = [r[0] for r in all_rows(demo_engine, "WHERE IS_DELETED <> 'Y'")]
    assert ids == expected
    assert len(ids) < 500  # soft-deleted rows are left out


def test_read_all_without_soft_delete_reads_everything(
    demo_engine: sa.Engine, make_index: MakeIndex
) -> None:
    source = TableSource(demo_engine, make_index(soft_delete=None))
    assert sum(len(b) for b in source.read_all(batch_size=100)) == 500


def test_read_changed_reads_only_the_window_TEST_033(
    demo_engine: sa.Engine, make_index: MakeIndex
) -> None:
    source = TableSource(demo_engine, make_index())
    rows = all_rows(demo_engine)
    times = sorted(r.UPDATED_AT for r in rows)
    after, upto = times[100], times[300]
    # SQLite keeps the text: the lower bound is a typed watermark, the upper one the stored
    # value the read captured first (see CursorMax).
    bound = CursorMax(stored=upto, value=dt.datetime.fromisoformat(upto))
    lower = dt.datetime.fromisoformat(after)
    changed = [
        row for batch in source.read_changed(after=lower, upto=bound, batch_size=7) for row in batch
    ]
    expected = {r.PRODUCT_ID for r in rows if after < r.UPDATED_AT <= upto}
    assert {row[0] for row in changed} == expected
    assert len(changed) == len(expected)  # no row twice across pages
    cursor_position = source.columns.index("UPDATED_AT")
    assert [r[cursor_position] for r in changed] == sorted(r[cursor_position] for r in changed)


def test_read_changed_from_the_beginning(demo_engine: sa.Engine, make_index: MakeIndex) -> None:
    source = TableSource(demo_engine, make_index())
    upto = source.max_cursor()
    assert upto is not None
    assert sum(len(b) for b in source.read_changed(after=None, upto=upto, batch_size=50)) == 500


def test_change_markers(demo_engine: sa.Engine, make_index: MakeIndex) -> None:
    source = TableSource(demo_engine, make_index())
    markers = source.change_markers()
    assert isinstance(markers.max_cursor, dt.datetime)
    with demo_engine.connect() as c:
        highest = c.execute(sa.text("SELECT MAX(UPDATED_AT) FROM PRODUCTS")).scalar_one()
    assert markers.max_cursor == dt.datetime.fromisoformat(highest)


def test_is_deleted_handles_char_padding(demo_engine: sa.Engine, make_index: MakeIndex) -> None:
    source = TableSource(demo_engine, make_index())
    flag = source.columns.index("IS_DELETED")
    row: list[Any] = [None] * len(source.columns)
    row[flag] = "Y"
    assert source.is_deleted(row)
    row[flag] = "N"
    assert not source.is_deleted(row)


def test_query_source(demo_engine: sa.Engine, make_index: MakeIndex) -> None:
    query = "SELECT PRODUCT_ID, NAME, UPDATED_AT, IS_DELETED FROM PRODUCTS WHERE LANG = 'ko'"
    source = TableSource(demo_engine, make_index(table=None, query=query))
    assert source.columns == ("PRODUCT_ID", "NAME", "UPDATED_AT", "IS_DELETED")
    rows = [r for b in source.read_all(batch_size=40) for r in b]
    expected = all_rows(demo_engine, "WHERE LANG = 'ko' AND IS_DELETED <> 'Y'")
    assert [r[0] for r in rows] == [r[0] for r in expected]


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"cursor": "MODIFIED"}, r"index 't_\w+': cursor column 'MODIFIED' is not in PRODUCTS"),
        ({"primary_key": "ID"}, r"primary_key column 'ID' is not in PRODUCTS"),
        ({"table": "NO_SUCH_TABLE"}, r"table 'NO_SUCH_TABLE' does not exist"),
    ],
)
def test_configuration_errors_name_index_and_column(
    demo_engine: sa.Engine, make_index: MakeIndex, override: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        TableSource(demo_engine, make_index(**override))


def test_keyset_condition_compiles_for_oracle_without_row_values() -> None:
    table = sa.table("orders", sa.column("order_id"), sa.column("line_no"))
    dialect = oracle.dialect()  # type: ignore[no-untyped-call]
    order = [order_column(dialect, table.c.order_id), order_column(dialect, table.c.line_no)]
    sql = str(after_key(order, [10, 2]).compile(dialect=dialect))
    # The leading `>=` is an index access predicate for order_id (an OR is not).
    assert sql == (
        "orders.order_id >= :order_id_1 AND (orders.order_id > :order_id_2 "
        "OR orders.order_id = :order_id_2 AND orders.line_no > :line_no_1)"
    )


def test_lost_connection_is_retried_TEST_090(
    demo_engine: sa.Engine, make_index: MakeIndex, caplog: pytest.LogCaptureFixture
) -> None:
    failures = {"left": 2}

    def drop_connection(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if "LIMIT" in statement and failures["left"]:
            failures["left"] -= 1
            lost = Exception("connection lost (injected)")
            raise sa.exc.OperationalError(statement, {}, lost, connection_invalidated=True)

    sa.event.listen(demo_engine, "before_cursor_execute", drop_connection)
    source = TableSource(demo_engine, make_index())
    rows = sum(len(b) for b in source.read_all(batch_size=100))
    assert rows == len(all_rows(demo_engine, "WHERE IS_DELETED <> 'Y'"))
    assert len([r for r in caplog.records if "retrying in" in r.getMessage()]) == 2


def test_sql_errors_are_not_retried(
    demo_engine: sa.Engine, make_index: MakeIndex, caplog: pytest.LogCaptureFixture
) -> None:
    source = TableSource(demo_engine, make_index())
    with demo_engine.begin() as c:
        c.execute(sa.text("ALTER TABLE PRODUCTS RENAME COLUMN NAME TO TITLE"))
    with pytest.raises(SourceError, match="no such column"):
        list(source.read_all(batch_size=100))
    assert not [r for r in caplog.records if "retrying in" in r.getMessage()]


def test_source_engine_connects_and_releases_its_connections_TEST_021_TEST_024(
    demo_db: Any,
) -> None:
    """TEST-021 a connection that works is handed out; TEST-024 the context manager gives
    every connection back and closes the engine's pool on exit."""
    from oracle_meili.adapters.database import source_engine
    from oracle_meili.config import SourceConfig

    with source_engine(SourceConfig(url=f"sqlite:///{demo_db}")) as engine:
        pool: Any = engine.pool  # a QueuePool, which counts its connections
        with engine.connect() as connection:
            assert connection.execute(sa.text("SELECT COUNT(*) FROM PRODUCTS")).scalar() == 500
            assert pool.checkedout() == 1
        assert pool.checkedout() == 0
    # dispose() replaced the pool: the one the block used holds no connection any more.
    assert engine.pool is not pool
    assert pool.checkedin() == 0
