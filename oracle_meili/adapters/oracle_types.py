"""Oracle column types as SQLAlchemy should see them, for reflected tables and ``query:`` sources.

NOTE: SQLAlchemy's Oracle dialect reflects a plain ``NUMBER`` (no precision: the most common
Oracle key, ``ID NUMBER``) as ``NUMBER(None, None)``, which it fetches as a binary double and
binds through ``float()``: every value above 2^53 is rounded, and keys come back as floats.
It does not know ``INTERVAL YEAR TO MONTH`` at all. A ``query:`` source has no reflected types;
they come from the cursor description python-oracledb reports.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import oracledb
import sqlalchemy as sa
from sqlalchemy.dialects import oracle

# Reflection options for Oracle: a configured name may be a synonym (oracle/synonyms).
ORACLE_REFLECTION_OPTIONS: dict[str, Any] = {"oracle_resolve_synonyms": True}


class ExactNumber(sa.types.TypeDecorator[Decimal]):
    """Oracle ``NUMBER`` without precision or scale: every value read and bound exactly.

    Read as ``Decimal`` (python-oracledb converts the number's own digits), bound as
    ``Decimal`` (an ``int`` would otherwise go through SQLAlchemy's ``'%.10f' %`` formatting,
    which passes through a float).
    """

    impl = oracle.NUMBER
    cache_ok = True

    def load_dialect_impl(self, dialect: sa.Dialect) -> sa.types.TypeEngine[Any]:
        return dialect.type_descriptor(oracle.NUMBER(asdecimal=True))  # type: ignore[no-untyped-call]

    def process_bind_param(self, value: Any, dialect: sa.Dialect) -> Any:
        if isinstance(value, int) and not isinstance(value, bool):
            return Decimal(value)
        return value


class IntervalYearToMonth(sa.types.UserDefinedType[Any]):
    """``INTERVAL YEAR TO MONTH``: python-oracledb returns ``oracledb.IntervalYM`` values."""

    cache_ok = True

    def get_col_spec(self, **kw: Any) -> str:
        return "INTERVAL YEAR TO MONTH"


# Column types with no document form: rejected when the index is loaded, naming the column.
# BFILE is a pointer to a file on the database server; its content cannot be read in thin mode.
UNSUPPORTED_TYPES: tuple[type, ...] = (sa.types.NullType, oracle.BFILE)


def prepare_reflection(engine: sa.Engine, metadata: sa.MetaData) -> dict[str, Any]:
    """Make reflection on ``engine`` see Oracle types exactly; the options to reflect with.

    On other dialects nothing changes and there are no options.
    """
    if engine.dialect.name != "oracle":
        return {}
    dialect: Any = engine.dialect
    if "INTERVAL YEAR TO MONTH" not in dialect.ischema_names:
        # Reflection strips "(2)" from "INTERVAL YEAR(2) TO MONTH" before this look-up.
        dialect.ischema_names = {
            **dialect.ischema_names,
            "INTERVAL YEAR TO MONTH": IntervalYearToMonth,
        }
    sa.event.listen(metadata, "column_reflect", exact_plain_number)
    return dict(ORACLE_REFLECTION_OPTIONS)


def exact_plain_number(inspector: Any, table: sa.Table, column_info: dict[str, Any]) -> None:
    """``column_reflect`` hook: a plain ``NUMBER`` becomes :class:`ExactNumber`."""
    reflected = column_info["type"]
    if type(reflected) is oracle.NUMBER and reflected.precision is reflected.scale is None:
        column_info["type"] = ExactNumber()


def query_column_types(
    dialect: sa.Dialect, description: Sequence[Sequence[Any]] | None, count: int
) -> list[sa.types.TypeEngine[Any]]:
    """The SQLAlchemy type of each column of a ``query:``, from the cursor description.

    Only Oracle reports types; elsewhere (SQLite) every column stays untyped, and its values
    are taken as the driver returns them.
    """
    if dialect.name != "oracle" or description is None:
        return [sa.types.NullType() for _ in range(count)]
    return [description_type(entry) for entry in description]


def description_type(entry: Sequence[Any]) -> sa.types.TypeEngine[Any]:
    """One python-oracledb cursor description entry as a SQLAlchemy Oracle type.

    ``entry`` is (name, type_code, display_size, internal_size, precision, scale, null_ok).
    """
    type_code, precision, scale = entry[1], entry[4], entry[5]
    if type_code is oracledb.DB_TYPE_NUMBER:
        # NOTE: python-oracledb reports a plain NUMBER as precision 0, scale -127.
        if precision and scale == 0:
            return oracle.NUMBER(precision, 0)  # type: ignore[no-untyped-call]
        if precision and scale is not None and scale > 0:
            return oracle.NUMBER(precision, scale, asdecimal=True)  # type: ignore[no-untyped-call]
        return ExactNumber()
    factory = _DESCRIPTION_TYPES.get(type_code)
    return factory() if factory is not None else sa.types.NullType()


_DESCRIPTION_TYPES: dict[Any, Any] = {
    oracledb.DB_TYPE_DATE: oracle.DATE,
    oracledb.DB_TYPE_TIMESTAMP: oracle.TIMESTAMP,
    oracledb.DB_TYPE_TIMESTAMP_TZ: lambda: oracle.TIMESTAMP(timezone=True),
    oracledb.DB_TYPE_TIMESTAMP_LTZ: lambda: oracle.TIMESTAMP(local_timezone=True),
    oracledb.DB_TYPE_VARCHAR: oracle.VARCHAR2,
    oracledb.DB_TYPE_NVARCHAR: oracle.NVARCHAR2,
    oracledb.DB_TYPE_LONG: oracle.LONG,
    oracledb.DB_TYPE_CHAR: sa.CHAR,
    oracledb.DB_TYPE_NCHAR: sa.NCHAR,
    oracledb.DB_TYPE_RAW: oracle.RAW,
    oracledb.DB_TYPE_BINARY_FLOAT: oracle.BINARY_FLOAT,
    oracledb.DB_TYPE_BINARY_DOUBLE: oracle.BINARY_DOUBLE,
    oracledb.DB_TYPE_CLOB: oracle.CLOB,
    oracledb.DB_TYPE_NCLOB: oracle.NCLOB,
    oracledb.DB_TYPE_BLOB: oracle.BLOB,
    oracledb.DB_TYPE_INTERVAL_DS: oracle.INTERVAL,
    oracledb.DB_TYPE_INTERVAL_YM: IntervalYearToMonth,
}
