"""The statements the engine sends, compiled with SQLAlchemy's Oracle dialect (no server)."""

# mypy: disable-error-code="no-untyped-call"
# (SQLAlchemy's Oracle type constructors carry no annotations.)

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import oracledb
import pytest
import sqlalchemy as sa
from pydantic import ValidationError
from sqlalchemy.dialects import oracle
from sqlalchemy.sql.compiler import SQLCompiler

from oracle_meili.adapters.database import SCN_STATEMENT
from oracle_meili.adapters.key_ranges import boundaries_statement
from oracle_meili.adapters.probe import probe_statement
from oracle_meili.adapters.source import TableSource
from oracle_meili.config import IndexConfig
from oracle_meili.errors import ConfigError

# An engine for compiling only: creating it opens no connection.
ORACLE = sa.create_engine("oracle+oracledb://sync:pw@db.example:1521/?service_name=FREEPDB1")


def products(name: str = "products", schema: str | None = "shop") -> sa.Table:
    """What reflection returns for SHOP.PRODUCTS (SQLAlchemy folds Oracle's upper case)."""
    return sa.Table(
        name,
        sa.MetaData(),
        sa.Column("product_id", oracle.NUMBER(10, 0), primary_key=True),
        sa.Column("name", oracle.VARCHAR2(200)),
        sa.Column("price", oracle.NUMBER(12, 2)),
        sa.Column("updated_at", oracle.TIMESTAMP()),
        sa.Column("is_deleted", sa.CHAR(1)),
        schema=schema,
    )


def index(**overrides: Any) -> IndexConfig:
    return IndexConfig.model_validate(
        {
            "name": "products",
            "table": "SHOP.PRODUCTS",
            "primary_key": "PRODUCT_ID",
            "cursor": "UPDATED_AT",
            "soft_delete": {"column": "IS_DELETED", "deleted_value": "Y"},
            **overrides,
        }
    )


def compiled(statement: sa.Select[Any]) -> SQLCompiler:
    result = statement.compile(dialect=ORACLE.dialect)
    assert isinstance(result, SQLCompiler)
    return result


def sql(statement: sa.Select[Any]) -> str:
    return " ".join(str(compiled(statement)).split())


def test_full_read_page_uses_keyset_and_fetch_first() -> None:
    """The page size is a post-compile parameter: SQLAlchemy renders it inline at execution,
    so every page of a read shares one statement text (one cursor in the shared pool)."""
    source = TableSource(ORACLE, index(), selectable=products())
    text = sql(source.full_page(after=(41,), batch_size=500))
    assert text == (
        "SELECT shop.products.product_id, shop.products.name, shop.products.price, "
        "shop.products.updated_at, shop.products.is_deleted, "
        "shop.products.product_id AS om_order_0 FROM shop.products "
        "WHERE (shop.products.is_deleted IS NULL OR shop.products.is_deleted != :param_1) "
        "AND shop.products.product_id > :product_id_1 "
        "ORDER BY shop.products.product_id FETCH FIRST __[POSTCOMPILE_param_2] ROWS ONLY"
    )
    binds = compiled(source.full_page(after=(41,), batch_size=500)).binds
    assert binds["product_id_1"].value == 41
    assert binds["param_1"].value == "Y"
    # The flag is bound as CHAR, the column's type: Oracle then compares it blank-padded,
    # as is_deleted() does.
    assert isinstance(binds["param_1"].type, sa.CHAR)


def test_first_page_has_no_keyset_condition() -> None:
    source = TableSource(ORACLE, index(soft_delete=None), selectable=products())
    assert "WHERE" not in sql(source.full_page(after=None, batch_size=10))


def test_incremental_bounds_are_binds_of_the_cursor_type() -> None:
    source = TableSource(ORACLE, index(), selectable=products())
    lower, upper = dt.datetime(2026, 1, 1), dt.datetime(2026, 1, 2)
    statement = source.changed_page(lower=lower, upper=upper, after=None, batch_size=100)
    assert sql(statement).endswith(
        "WHERE shop.products.updated_at <= :updated_at_1 "
        "AND shop.products.updated_at > :updated_at_2 "
        "ORDER BY shop.products.updated_at, shop.products.product_id "
        "FETCH FIRST __[POSTCOMPILE_param_1] ROWS ONLY"
    )
    binds = compiled(statement).binds
    # Bound as TIMESTAMP, the column's own type: no implicit conversion defeats its index.
    assert isinstance(binds["updated_at_1"].type, oracle.TIMESTAMP)
    assert (binds["updated_at_2"].value, binds["updated_at_1"].value) == (lower, upper)


def test_incremental_keyset_over_cursor_and_key() -> None:
    source = TableSource(ORACLE, index(), selectable=products())
    after = (dt.datetime(2026, 1, 1), 7)
    text = sql(source.changed_page(lower=None, upper=after[0], after=after, batch_size=100))
    assert (
        "AND shop.products.updated_at >= :updated_at_2 "
        "AND (shop.products.updated_at > :updated_at_3 OR shop.products.updated_at = "
        ":updated_at_3 AND shop.products.product_id > :product_id_1)"
    ) in text
    # The leading `>=` is an access predicate: the cursor index serves every page.


def test_change_probe_is_max_cursor_alone() -> None:
    """No COUNT(*) (a full scan that grows with the table) in the probe: with an
    index on the cursor, MAX is an index min/max scan, its cost independent of the size."""
    source = TableSource(ORACLE, index(), selectable=products())
    assert sql(source.change_markers_statement()) == (
        "SELECT max(shop.products.updated_at) AS max_1 FROM shop.products"
    )


def test_incremental_reads_are_sargable_for_date_and_timestamp_cursors() -> None:
    """The cursor column stands bare in every predicate (no function, no implicit
    conversion), and each bind has the column's own type: DATE binds as DATE, TIMESTAMP as
    TIMESTAMP (a TIMESTAMP bind on a DATE column would convert the column, not the bind)."""
    for column_type, dbapi_type in (
        (oracle.DATE(), oracledb.DB_TYPE_DATE),
        (oracle.TIMESTAMP(), oracledb.DB_TYPE_TIMESTAMP),
    ):
        table = products()
        table.c.updated_at.type = column_type
        source = TableSource(ORACLE, index(), selectable=table)
        after = (dt.datetime(2026, 1, 1), 7)
        statement = source.changed_page(
            lower=dt.datetime(2025, 1, 1), upper=dt.datetime(2026, 2, 1), after=after, batch_size=9
        )
        text = sql(statement)
        where = text[text.index(" WHERE ") : text.index(" ORDER BY ")]
        assert not re.search(r"\w\(shop\.products\.updated_at", where)  # no function on it
        assert where.count("shop.products.updated_at ") == 5  # <=, >, >=, >, =
        for name, bind in compiled(statement).binds.items():
            if name.startswith("updated_at"):
                impl: Any = bind.type.dialect_impl(ORACLE.dialect)
                assert impl.get_dbapi_type(oracledb) == dbapi_type, (name, column_type)


def test_mixed_case_names_are_quoted() -> None:
    table = sa.Table(
        "OrderLines",
        sa.MetaData(),
        sa.Column("LineId", oracle.NUMBER(10)),
        sa.Column("updated_at", oracle.DATE()),
        schema="Sales",
    )
    source = TableSource(
        ORACLE,
        index(
            table="Sales.OrderLines", primary_key="LineId", cursor="UPDATED_AT", soft_delete=None
        ),
        selectable=table,
    )
    text = sql(source.full_page(after=(1,), batch_size=10))
    assert 'FROM "Sales"."OrderLines"' in text
    assert '"Sales"."OrderLines"."LineId" > :LineId_1' in text


def test_custom_query_is_a_subquery() -> None:
    query = (
        "SELECT p.product_id, p.updated_at, c.name AS category "
        "FROM shop.products p JOIN shop.categories c ON c.id = p.category_id"
    )
    selectable = (
        sa.text(query)
        .columns(sa.column("PRODUCT_ID"), sa.column("UPDATED_AT"), sa.column("CATEGORY"))
        .subquery("src")
    )
    source = TableSource(
        ORACLE, index(table=None, query=query, soft_delete=None), selectable=selectable
    )
    text = sql(
        source.changed_page(
            lower=dt.datetime(2026, 1, 1), upper=dt.datetime(2026, 2, 1), after=None, batch_size=5
        )
    )
    assert text.startswith(
        'SELECT src."PRODUCT_ID", src."UPDATED_AT", src."CATEGORY", '
        'src."UPDATED_AT" AS om_order_0, src."PRODUCT_ID" AS om_order_1 '
        f"FROM ({query}) src WHERE"
    )


def test_unsupported_column_type_fails_at_load_naming_the_column() -> None:
    table = products()
    table.append_column(sa.Column("shape", sa.types.NullType()))  # e.g. SDO_GEOMETRY
    with pytest.raises(ConfigError, match=r"index 'products': column\(s\) shape of SHOP.PRODUCTS"):
        TableSource(ORACLE, index(), selectable=table)


def test_consistent_snapshot_reads_as_of_one_scn() -> None:
    source = TableSource(ORACLE, index(consistent_snapshot=True), selectable=products())
    page = source.as_of(987654321).full_page(after=(5,), batch_size=100)
    text = sql(page)
    assert "FROM (SELECT * FROM shop.products AS OF SCN :snapshot_scn) snapshot WHERE" in text
    assert "snapshot.product_id > :product_id_1" in text
    assert compiled(page).binds["snapshot_scn"].value == 987654321
    # The snapshot keeps the column types: CHAR padding and date handling still apply.
    shape = source.as_of(1).document_shape()
    assert shape.char_positions == {shape.fields.index("is_deleted")}
    assert str(SCN_STATEMENT) == "SELECT DBMS_FLASHBACK.GET_SYSTEM_CHANGE_NUMBER FROM DUAL"


def test_consistent_snapshot_needs_a_table() -> None:
    with pytest.raises(ValidationError, match="consistent_snapshot: works on a `table`"):
        index(table=None, query="SELECT 1 FROM DUAL", consistent_snapshot=True)


def test_one_probe_reads_every_index_in_one_statement() -> None:
    """Each index's MAX(cursor) as a scalar subquery of one SELECT FROM DUAL, so each keeps
    its own type (a UNION ALL of a TIMESTAMP and a NUMBER is ORA-01790)."""
    stores = sa.Table(
        "stores", sa.MetaData(),
        sa.Column("store_id", oracle.NUMBER(10, 0), primary_key=True),
        sa.Column("version", oracle.NUMBER(19, 0)),
        schema="shop",
    )  # fmt: skip
    stores_index = index(
        name="stores", table="SHOP.STORES", primary_key="STORE_ID", cursor="VERSION",
        soft_delete=None,
    )  # fmt: skip
    sources = [
        TableSource(ORACLE, index(), selectable=products()),
        TableSource(ORACLE, stores_index, selectable=stores),
    ]
    assert sql(probe_statement(sources)) == (
        "SELECT (SELECT max(shop.products.updated_at) AS max_1 FROM shop.products) AS index_0, "
        "(SELECT max(shop.stores.version) AS max_2 FROM shop.stores) AS index_1 FROM DUAL"
    )


def test_key_range_boundaries_are_ranked_in_one_statement() -> None:
    """The slices' boundaries: ROW_NUMBER over the key, the ranks bound as one IN list."""
    source = TableSource(ORACLE, index(), selectable=products())
    statement = boundaries_statement(
        source.selectable,
        order=source.key_order,
        where=source.live_conditions(),
        ranks=[250, 500, 750],
    )
    assert sql(statement) == (
        "SELECT om_ranked.om_key_0 FROM (SELECT shop.products.product_id AS om_key_0, "
        "row_number() OVER (ORDER BY shop.products.product_id) AS om_rank "
        "FROM shop.products WHERE shop.products.is_deleted IS NULL OR "
        "shop.products.is_deleted != :param_1) om_ranked "
        "WHERE om_ranked.om_rank IN (__[POSTCOMPILE_om_rank_1]) ORDER BY om_ranked.om_rank"
    )
    assert compiled(statement).binds["om_rank_1"].value == [250, 500, 750]


def test_key_range_page_ends_at_its_upper_key() -> None:
    """A slice's page: after the last key read, up to the range's end, both on stored keys,
    each led by a comparison on the leading column (an index access predicate)."""
    table = sa.Table(
        "order_lines",
        sa.MetaData(),
        sa.Column("order_id", oracle.NUMBER(10, 0), primary_key=True),
        sa.Column("line_no", oracle.NUMBER(5, 0), primary_key=True),
        sa.Column("sku", oracle.VARCHAR2(40)),
        schema="shop",
    )
    source = TableSource(
        ORACLE,
        index(
            table="SHOP.ORDER_LINES",
            primary_key=["ORDER_ID", "LINE_NO"],
            cursor=None,
            soft_delete=None,
        ),
        selectable=table,
    )
    text = sql(source.full_page(after=(10, 2), upto=(20, 1), batch_size=100))
    assert (
        "WHERE shop.order_lines.order_id <= :order_id_1 AND NOT "
        "(shop.order_lines.order_id > :order_id_2 OR shop.order_lines.order_id = :order_id_2 "
        "AND shop.order_lines.line_no > :line_no_1) "
        "AND shop.order_lines.order_id >= :order_id_3"
    ) in text
