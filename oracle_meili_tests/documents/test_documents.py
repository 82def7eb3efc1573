"""Rows to documents: the type contract and document ids."""

from __future__ import annotations

import datetime as dt
import math
import re
import uuid
from decimal import Decimal
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from oracle_meili.config import IndexConfig
from oracle_meili.documents import (
    build_shape,
    composite_id,
    convert_value,
    decode_composite_id,
    single_id,
)
from oracle_meili.errors import ConfigError, DocumentError
from oracle_meili_tests.documents.helpers import document_of

VALID_ID = re.compile(r"^[A-Za-z0-9_-]{1,511}$")
KST = dt.timezone(dt.timedelta(hours=9))


def index(**overrides: Any) -> IndexConfig:
    return IndexConfig.model_validate(
        {"name": "items", "table": "ITEMS", "primary_key": "ITEM_ID", **overrides}
    )


def test_row_becomes_dict_with_lower_case_fields_TEST_031() -> None:
    shape = build_shape(index(), ["ITEM_ID", "NAME", "PRICE"])
    doc = document_of(shape, (7, "무선 이어폰", Decimal("19.90")))
    assert doc == {"item_id": 7, "name": "무선 이어폰", "price": 19.9}
    assert shape.id_field == "item_id"


def test_null_stays_null_TEST_034() -> None:
    shape = build_shape(index(), ["ITEM_ID", "DESCRIPTION"])
    assert document_of(shape, (1, None)) == {"item_id": 1, "description": None}


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (dt.datetime(2026, 3, 1, 9, 30, 5), "2026-03-01T09:30:05"),
        (dt.datetime(2026, 3, 1, 9, 30, 5, 120000), "2026-03-01T09:30:05.120000"),
        (dt.datetime(2026, 3, 1, 9, 30, tzinfo=KST), "2026-03-01T09:30:00+09:00"),
        (dt.date(2026, 3, 1), "2026-03-01"),
    ],
)
def test_dates_become_iso_8601_TEST_035(value: Any, expected: str) -> None:
    assert convert_value(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (42, 42),
        (2**53, 2**53),
        (2**53 + 1, float(2**53 + 1)),
        (Decimal("12"), 12),
        (Decimal("12.50"), 12.5),
        (Decimal("123456789012345678901234567890"), 1.2345678901234568e29),
        (1.5, 1.5),
        (True, True),
        (dt.timedelta(days=1, seconds=30), 86430.0),
        ("text", "text"),
        (uuid.UUID(int=1), "00000000-0000-0000-0000-000000000001"),
        ({"a": [Decimal("1.5"), None]}, {"a": [1.5, None]}),
    ],
)
def test_value_conversions(value: Any, expected: Any) -> None:
    assert convert_value(value) == expected


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf, Decimal("NaN")])
def test_values_json_cannot_hold_become_null(value: Any) -> None:
    assert convert_value(value) is None


def test_binary_base64_or_omitted() -> None:
    shape = build_shape(index(), ["ITEM_ID", "PHOTO"])
    assert document_of(shape, (1, b"\x00\xff"))["photo"] == "AP8="
    omitted = build_shape(index(binary="omit"), ["ITEM_ID", "PHOTO"])
    assert "photo" not in document_of(omitted, (1, b"\x00\xff"))


def test_char_padding_is_trimmed() -> None:
    shape = build_shape(index(), ["ITEM_ID", "FLAG", "NOTE"], char_columns=["FLAG"])
    assert document_of(shape, (1, "Y  ", "kept  ")) == {"item_id": 1, "flag": "Y", "note": "kept  "}


def test_epoch_companion_fields() -> None:
    shape = build_shape(index(epoch_fields=True), ["ITEM_ID", "UPDATED_AT"])
    doc = document_of(shape, (1, dt.datetime(1970, 1, 2)))
    assert doc["updated_at_epoch"] == 86400


def test_unsupported_type_names_index_key_and_column() -> None:
    shape = build_shape(index(), ["ITEM_ID", "GEOMETRY"])
    with pytest.raises(
        DocumentError, match=r"index 'items', primary key 5, column 'geometry'.*object"
    ):
        document_of(shape, (5, object()))


def test_documents_serialize_with_orjson() -> None:
    shape = build_shape(index(epoch_fields=True), ["ITEM_ID", "AT", "PRICE", "RAW"])
    row = (1, dt.datetime(2026, 1, 1, tzinfo=KST), Decimal("1.25"), b"ab")
    assert orjson.loads(orjson.dumps(document_of(shape, row)))["price"] == 1.25


def test_missing_key_column_names_index() -> None:
    with pytest.raises(ConfigError, match=r"index 'items': primary_key column 'ITEM_ID' is not in"):
        build_shape(index(), ["ID", "NAME"])


def test_composite_key_cannot_shadow_id_column() -> None:
    with pytest.raises(ConfigError, match="adds the field 'id'"):
        build_shape(index(primary_key=["A", "B"]), ["A", "B", "ID"])


@pytest.mark.parametrize("value", [1, -7, 2**63 - 1, Decimal("10"), "SKU-0001_a"])
def test_valid_single_ids(value: Any) -> None:
    assert single_id(value, index="items", column="item_id") in (
        value,
        int(value) if not isinstance(value, str) else value,
    )


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("has space", "not a valid Meilisearch document id"),
        ("한글", "not a valid Meilisearch document id"),
        ("x" * 512, "not a valid Meilisearch document id"),
        (1.5, "type float cannot be a document id"),
        (None, "primary key is NULL"),
        (2**64, "64-bit"),
    ],
)
def test_invalid_single_ids_are_rejected_before_sending(value: Any, message: str) -> None:
    with pytest.raises(DocumentError, match=message):
        single_id(value, index="items", column="item_id")


def test_composite_id_examples() -> None:
    assert composite_id([10, "A-1"], index="i") == "10-A_2d1"
    assert composite_id(["서울", 2], index="i") == "_u00c11c_u00c6b8-2"
    assert composite_id([dt.date(2026, 1, 2), 1], index="i") == "2026_2d01_2d02-1"


key_part = st.one_of(st.integers(min_value=-(2**70), max_value=2**70), st.text(max_size=12))


@given(st.lists(key_part, min_size=2, max_size=4))
def test_composite_ids_are_valid_and_invertible(parts: list[Any]) -> None:
    encoded = composite_id(parts, index="i")
    assert VALID_ID.match(encoded)
    assert decode_composite_id(encoded) == [str(p) for p in parts]


@given(
    st.lists(st.text(max_size=8), min_size=2, max_size=2),
    st.lists(st.text(max_size=8), min_size=2, max_size=2),
)
def test_composite_ids_do_not_collide(a: list[str], b: list[str]) -> None:
    assert (composite_id(a, index="i") == composite_id(b, index="i")) == (a == b)


def test_composite_id_too_long() -> None:
    with pytest.raises(DocumentError, match="Meilisearch allows 511"):
        composite_id(["한" * 100, 1], index="i")
