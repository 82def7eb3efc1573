"""The type contract on the values python-oracledb returns, time zones, and the fast encoder."""

from __future__ import annotations

import array
import datetime as dt
import math
from decimal import Decimal
from typing import Any

import oracledb
import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from oracle_meili.config import IndexConfig
from oracle_meili.documents import (
    build_shape,
    composite_id,
    document_id,
)
from oracle_meili.errors import DocumentError
from oracle_meili_tests.documents.helpers import document_of, line_of
from oracle_meili_tests.documents.test_documents import index

KST = dt.timezone(dt.timedelta(hours=9))


@pytest.mark.parametrize(
    ("oracle_type", "value", "expected"),
    [
        ("DATE", dt.datetime(2026, 3, 1, 9, 30), "2026-03-01T09:30:00"),
        ("TIMESTAMP(6)", dt.datetime(2026, 3, 1, 9, 30, 0, 5), "2026-03-01T09:30:00.000005"),
        ("NUMBER(10)", 1234567890, 1234567890),
        ("NUMBER(38) beyond 2^53", 12345678901234567890, 1.2345678901234567e19),
        ("NUMBER(12,2) as Decimal", Decimal("19.90"), 19.9),
        ("NUMBER as float", 0.1, 0.1),
        ("BINARY_DOUBLE NaN", math.nan, None),
        ("BINARY_FLOAT +infinity", math.inf, None),
        ("VARCHAR2 / NCLOB", "무선 이어폰 · 방수", "무선 이어폰 · 방수"),
        ("RAW / BLOB", b"\x01\x02", "AQI="),
        ("INTERVAL DAY TO SECOND", dt.timedelta(days=2, seconds=3.5), 172803.5),
        ("INTERVAL YEAR TO MONTH", oracledb.IntervalYM(2, 3), 27),
        ("ROWID (thin mode: str)", "AAAR3sAAEAAAACXAAA", "AAAR3sAAEAAAACXAAA"),
        ("BOOLEAN (23ai)", True, True),
        (
            "JSON (21c+)",
            {"tags": ["a"], "price": Decimal("1.5"), "at": dt.datetime(2026, 1, 1)},
            {"tags": ["a"], "price": 1.5, "at": "2026-01-01T00:00:00"},
        ),
        ("VECTOR FLOAT32 (23ai)", array.array("f", [0.5, math.nan]), [0.5, None]),
        ("VECTOR INT8 (23ai)", array.array("b", [1, -2]), [1, -2]),
        (
            "sparse VECTOR (23.7)",
            oracledb.SparseVector(8, [1, 5], [0.25, 2.0]),
            {"num_dimensions": 8, "indices": [1, 5], "values": [0.25, 2.0]},
        ),
    ],
)
def test_values_python_oracledb_returns(oracle_type: str, value: Any, expected: Any) -> None:
    """The type contract on the Python values python-oracledb returns for each Oracle type."""
    shape = build_shape(index(), ["ITEM_ID", "V"])
    row = (1, value)
    assert document_of(shape, row)["v"] == expected, oracle_type
    assert orjson.loads(line_of(shape, row))["v"] == expected, oracle_type


def test_naive_dates_in_a_configured_time_zone() -> None:
    shape = build_shape(
        index(timezone="Asia/Seoul", epoch_fields=True),
        ["ITEM_ID", "CREATED"],
        temporal_columns=["CREATED"],
    )
    row = (1, dt.datetime(2026, 1, 1, 9, 0))
    expected = {"item_id": 1, "created": "2026-01-01T09:00:00+09:00", "created_epoch": 1767225600}
    assert document_of(shape, row) == expected
    assert orjson.loads(line_of(shape, row)) == expected


def test_unknown_time_zone_is_a_config_error() -> None:
    with pytest.raises(ValidationError, match="unknown time zone 'Mars/Base'"):
        index(timezone="Mars/Base")


row_value = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.decimals(allow_nan=False, places=3, min_value=-(10**20), max_value=10**20),
    st.text(max_size=20),
    st.datetimes(min_value=dt.datetime(1900, 1, 1)),
    st.datetimes(min_value=dt.datetime(1900, 1, 1), timezones=st.just(KST)),
    st.dates(),
    st.binary(max_size=10),
    st.timedeltas(max_value=dt.timedelta(days=1000), min_value=dt.timedelta(days=-1000)),
    st.uuids(),
    st.builds(oracledb.IntervalYM, st.integers(-100, 100), st.integers(-11, 11)),
    st.lists(st.floats(width=32), max_size=4).map(lambda v: array.array("f", v)),
)


@given(
    st.lists(row_value, min_size=3, max_size=3),
    st.booleans(),
    st.booleans(),
    st.sampled_from([None, "Asia/Seoul", "UTC"]),
)
def test_fast_encoding_equals_the_type_contract(
    values: list[Any], epoch: bool, typed: bool, zone: str | None
) -> None:
    """encode_document (orjson in C) writes exactly the document to_document defines."""
    columns = ["ITEM_ID", "A", "B", "C"]
    temporal = [c for c, v in zip(columns[1:], values, strict=True) if isinstance(v, dt.date)]
    shape = build_shape(
        index(epoch_fields=epoch, timezone=zone),
        columns,
        char_columns=["A"],
        temporal_columns=temporal if typed else None,
    )
    row = (1, *values)
    assert orjson.loads(line_of(shape, row)) == orjson.loads(orjson.dumps(document_of(shape, row)))


def test_fast_encoding_names_the_column_of_an_unsupported_value() -> None:
    shape = build_shape(index(), ["ITEM_ID", "SHAPE"])
    with pytest.raises(DocumentError, match="column 'shape'"):
        line_of(shape, (3, object()))


def test_decimal_key_parts_have_one_canonical_id() -> None:
    """Oracle's 1.10 and 1.1 are one NUMBER, so one id."""
    assert composite_id([Decimal("1.10"), "a"], index="t") == composite_id(
        [Decimal("1.1"), "a"], index="t"
    )
    assert composite_id([Decimal("100"), "a"], index="t") == composite_id([100, "a"], index="t")
    assert (
        composite_id([Decimal("-0.50"), "a"], index="t") == "_2d0_2e5-a"
    )  # "-" is escaped: it joins parts


def test_char_key_padding_is_not_part_of_the_id() -> None:
    """a CHAR(n) key comes back blank-padded from Oracle."""
    index = IndexConfig.model_validate({"name": "t", "table": "T", "primary_key": "CODE"})
    shape = build_shape(index, ("CODE", "NAME"), char_columns=("CODE",))
    assert document_id(shape, ("AB   ", "x")) == "AB"
    both = IndexConfig.model_validate({"name": "t", "table": "T", "primary_key": ["CODE", "N"]})
    composite = build_shape(both, ("CODE", "N"), char_columns=("CODE",))
    assert document_id(composite, ("AB  ", 1)) == "AB-1"
