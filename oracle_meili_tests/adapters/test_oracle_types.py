"""Oracle types as the field has them, driven through SQLAlchemy's own Oracle dialect and
python-oracledb's type objects (no server)."""

# mypy: disable-error-code="no-untyped-call"
# (SQLAlchemy's Oracle type constructors carry no annotations.)

from __future__ import annotations

import datetime as dt
import decimal
from typing import Any

import oracledb
import pytest
import sqlalchemy as sa
from pydantic import SecretStr
from sqlalchemy.dialects import oracle

from oracle_meili.adapters.oracle import (
    SESSION_SETTINGS,
    PoolSettings,
    connection_error,
    pool_parameters,
    set_session,
    source_error_is_transient,
    thick_mode_parameters,
)
from oracle_meili.adapters.oracle_types import (
    ExactNumber,
    IntervalYearToMonth,
    description_type,
    exact_plain_number,
    prepare_reflection,
    query_column_types,
)
from oracle_meili.adapters.reflection import identifier
from oracle_meili.adapters.source import TableSource
from oracle_meili.config import IndexConfig, OracleSettings
from oracle_meili.documents import document_id
from oracle_meili.errors import ConfigError, SourceConnectionError, SourceUnavailableError

ORACLE = sa.create_engine("oracle+oracledb://sync:pw@db.example:1521/?service_name=FREEPDB1")
DIALECT = ORACLE.dialect


class RecordingCursor:
    """Stands in for a python-oracledb cursor: records the variables a type handler asks for."""

    arraysize = 100

    def __init__(self) -> None:
        self.variables: list[tuple[Any, ...]] = []
        self.executed: list[str] = []

    def var(self, type_: Any, size: int, **kwargs: Any) -> tuple[Any, ...]:
        self.variables.append((type_, size, kwargs))
        return (type_, size, kwargs)

    def execute(self, statement: str) -> None:
        self.executed.append(statement)

    def __enter__(self) -> RecordingCursor:
        return self

    def __exit__(self, *exc: object) -> None:
        pass


def fetch_type(type_: sa.types.TypeEngine[Any], *, precision: int, scale: int) -> Any:
    """What SQLAlchemy's oracledb dialect asks python-oracledb to fetch a column as, given
    the metadata python-oracledb reports for it."""
    impl: Any = type_.dialect_impl(DIALECT)
    handler = impl._cx_oracle_outputtypehandler(DIALECT)
    cursor = RecordingCursor()
    handler(cursor, "ID", oracledb.DB_TYPE_NUMBER, 22, precision, scale)
    return cursor.variables[0][0] if cursor.variables else None


def bind(type_: sa.types.TypeEngine[Any], value: Any) -> Any:
    processor = type_.dialect_impl(DIALECT).bind_processor(DIALECT)
    return processor(value) if processor else value


def reflected(column_type: sa.types.TypeEngine[Any]) -> sa.types.TypeEngine[Any]:
    info: dict[str, Any] = {"name": "id", "type": column_type}
    exact_plain_number(None, sa.Table("t", sa.MetaData()), info)
    result: sa.types.TypeEngine[Any] = info["type"]
    return result


def test_plain_number_is_read_and_bound_exactly() -> None:
    """`ID NUMBER` reflects as NUMBER(None, None). python-oracledb reports it as
    precision 0, scale -127; SQLAlchemy would fetch it as a binary double and bind float()."""
    plain = oracle.NUMBER()
    assert fetch_type(plain, precision=0, scale=-127) is oracledb.NATIVE_FLOAT  # the defect
    assert bind(plain, 2**53 + 1) == 9007199254740992.0  # ... and its rounding

    exact = reflected(plain)
    assert isinstance(exact, ExactNumber)
    assert fetch_type(exact, precision=0, scale=-127) is decimal.Decimal
    bound = bind(exact, exact.process_bind_param(2**53 + 1, DIALECT))
    assert bound == decimal.Decimal(2**53 + 1) and isinstance(bound, decimal.Decimal)
    # A key read back as Decimal gives the same integer id.
    shape_row = (decimal.Decimal(2**53 + 1),)
    assert document_id(_shape(), shape_row) == 2**53 + 1


def test_other_numbers_keep_their_reflected_type() -> None:
    for kept in (oracle.NUMBER(10, 0), oracle.NUMBER(12, 2), sa.INTEGER()):
        assert reflected(kept) is kept
    assert fetch_type(oracle.NUMBER(12, 2), precision=12, scale=2) is decimal.Decimal


def test_interval_year_to_month_and_synonyms_are_known_to_reflection() -> None:
    """INTERVAL YEAR TO MONTH reflects as a type of its own; synonyms resolve."""
    engine = sa.create_engine("oracle+oracledb://u:p@db.example:1521/?service_name=X")
    assert "INTERVAL YEAR TO MONTH" not in engine.dialect.ischema_names  # type: ignore[attr-defined]
    options = prepare_reflection(engine, sa.MetaData())
    assert options == {"oracle_resolve_synonyms": True}
    names: Any = engine.dialect.ischema_names  # type: ignore[attr-defined]
    assert names["INTERVAL YEAR TO MONTH"] is IntervalYearToMonth
    assert prepare_reflection(sa.create_engine("sqlite://"), sa.MetaData()) == {}


def test_bfile_is_rejected_at_load_naming_the_column() -> None:
    """a BFILE has no document form (its content is a file on the server)."""
    table = sa.Table(
        "docs",
        sa.MetaData(),
        sa.Column("id", oracle.NUMBER(10, 0), primary_key=True),
        sa.Column("scan", oracle.BFILE()),
    )
    with pytest.raises(ConfigError, match=r"column\(s\) scan of DOCS"):
        TableSource(ORACLE, _index(table="DOCS", primary_key="ID"), selectable=table)


@pytest.mark.parametrize(
    ("type_code", "precision", "scale", "expected", "dbapi_type"),
    [
        (oracledb.DB_TYPE_TIMESTAMP, 0, 6, oracle.TIMESTAMP, oracledb.DB_TYPE_TIMESTAMP),
        (oracledb.DB_TYPE_DATE, 0, 0, oracle.DATE, oracledb.DB_TYPE_DATE),
        (oracledb.DB_TYPE_NUMBER, 0, -127, ExactNumber, None),
        (oracledb.DB_TYPE_NUMBER, 10, 0, oracle.NUMBER, None),
        (oracledb.DB_TYPE_CHAR, 0, 0, sa.CHAR, oracledb.DB_TYPE_CHAR),
        (oracledb.DB_TYPE_INTERVAL_YM, 0, 0, IntervalYearToMonth, None),
    ],
)
def test_query_columns_are_typed_from_the_cursor_description(
    type_code: Any, precision: int, scale: int, expected: type, dbapi_type: Any
) -> None:
    """a `query:` TIMESTAMP cursor is bound as TIMESTAMP, not as a DATE that drops
    fractions (which would restart every page at the start of the same second)."""
    column_type = description_type(("C", type_code, 0, 0, precision, scale, True))
    assert isinstance(column_type, expected)
    if dbapi_type is not None:
        impl: Any = column_type.dialect_impl(DIALECT)
        assert impl.get_dbapi_type(oracledb) == dbapi_type  # an ApiType equals its DbTypes
        sizes: Any = DIALECT.include_set_input_sizes
        assert any(dbapi_type == t for t in sizes)  # bound with setinputsizes


def test_query_columns_stay_untyped_where_the_driver_reports_no_types() -> None:
    description = [("A", None, None, None, None, None, None)]
    types = query_column_types(sa.create_engine("sqlite://").dialect, description, 1)
    assert isinstance(types[0], sa.types.NullType)


def test_tstz_cursor_is_compared_and_recorded_as_utc_instants() -> None:
    """TIMESTAMP WITH (LOCAL) TIME ZONE keys and cursors compare as UTC."""
    for tz in ({"timezone": True}, {"local_timezone": True}):
        table = sa.Table(
            "events",
            sa.MetaData(),
            sa.Column("id", oracle.NUMBER(10, 0), primary_key=True),
            sa.Column("changed_at", oracle.TIMESTAMP(**tz)),
        )
        index = _index(table="EVENTS", primary_key="ID", cursor="CHANGED_AT")
        source = TableSource(ORACLE, index, selectable=table)
        page = source.changed_page(
            lower=dt.datetime(2026, 1, 1), upper=dt.datetime(2026, 1, 2), after=None, batch_size=9
        )
        text = " ".join(str(page.compile(dialect=DIALECT)).split())
        assert "sys_extract_utc(events.changed_at) AS om_order_0" in text
        assert "WHERE sys_extract_utc(events.changed_at) <= :changed_at_1" in text
        assert "ORDER BY sys_extract_utc(events.changed_at), events.id" in text
        markers = " ".join(str(source.change_markers_statement().compile(dialect=DIALECT)).split())
        assert "max(sys_extract_utc(events.changed_at))" in markers


def test_every_pooled_session_gets_binary_sorting_and_utc() -> None:
    """NLS_SORT/NLS_COMP BINARY and TIME_ZONE UTC, once per new session."""
    settings = _settings()
    parameters = pool_parameters(settings, PoolSettings())
    assert parameters["session_callback"] is set_session
    cursor = RecordingCursor()

    class Connection:
        def cursor(self) -> RecordingCursor:
            return cursor

    set_session(Connection(), None)
    assert cursor.executed == [SESSION_SETTINGS]
    assert "NLS_SORT = BINARY" in SESSION_SETTINGS and "NLS_COMP = BINARY" in SESSION_SETTINGS
    assert "TIME_ZONE = 'UTC'" in SESSION_SETTINGS


@pytest.mark.parametrize(
    ("message", "transient"),
    [
        ("DPY-6005: cannot connect to database. ORA-12514: listener does not know", True),
        ("DPY-6005: cannot connect to database. ORA-12528: blocking new connections", True),
        ("DPY-6005: cannot connect to database. ORA-12541: no listener", True),
        ("ORA-01034: ORACLE not available", True),
        ("ORA-01089: immediate shutdown or close in progress", True),
        ("DPY-4011: the database or network closed the connection", True),
        ("DPY-6005: cannot connect to database. ORA-01017: invalid credential", False),
        ("ORA-00942: table or view does not exist", False),
        ("database is locked", True),
    ],
)
def test_outages_are_transient_and_mistakes_final(message: str, transient: bool) -> None:
    """a restart or failover while connecting is retried; a wrong password is not."""
    assert source_error_is_transient(Exception(message)) is transient
    error = connection_error(_settings(), Exception(message))
    assert isinstance(error, SourceConnectionError)
    assert isinstance(error, SourceUnavailableError) is transient


def test_thick_mode_reads_its_network_configuration_from_config_dir() -> None:
    """thick mode ignores config_dir at connect time; it goes to init_oracle_client."""
    settings = _settings(client_lib_dir="/opt/instantclient", wallet_dir="/etc/wallet")
    assert thick_mode_parameters(settings) == {
        "lib_dir": "/opt/instantclient",
        "config_dir": "/etc/wallet",
    }


@pytest.mark.parametrize(
    ("configured", "expected", "quoted"),
    [
        ("PRODUCTS", "products", False),  # case-insensitive
        ("products", "products", False),
        ("EMP#", "EMP#", True),  # needs quotes: matched exactly
        ("ORDER", "ORDER", True),  # a reserved word
        ("OrderLines", "OrderLines", True),  # mixed case
    ],
)
def test_configured_names_follow_the_dialects_normalisation(
    configured: str, expected: str, quoted: bool
) -> None:
    """names are normalised by the dialect, not lower-cased and then quoted wrongly."""
    name = identifier(ORACLE, configured)
    assert name == expected
    rendered = ORACLE.dialect.identifier_preparer.quote(name)
    assert rendered.startswith('"') is quoted


def test_query_probe_reads_no_row_with_a_plain_condition(tmp_path: Any) -> None:
    """the `query:` probe says `1 = 0` (never `WHERE 0`)."""
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'p.db'}")
    with engine.begin() as c:
        c.exec_driver_sql("CREATE TABLE t (ID INTEGER PRIMARY KEY, NAME TEXT)")
    statements: list[str] = []
    sa.event.listen(engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    TableSource(engine, _index(table=None, query="SELECT ID, NAME FROM t", primary_key="ID"))
    assert any(s.rstrip().endswith("WHERE 1 = 0") for s in statements), statements


def _index(**overrides: Any) -> IndexConfig:
    raw: dict[str, Any] = {"name": "t", "table": "T", "primary_key": "ID", **overrides}
    return IndexConfig.model_validate(raw)


def _shape() -> Any:
    from oracle_meili.documents import build_shape

    return build_shape(_index(), ("ID",))


def _settings(**overrides: Any) -> OracleSettings:
    return OracleSettings(
        user="sync", password=SecretStr("pw"), dsn="db.example/FREEPDB1", **overrides
    )
