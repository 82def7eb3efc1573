"""Watermarks survive a round trip with their type (seed TEST-080)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from oracle_meili.errors import SyncError
from oracle_meili.watermark import Watermark, decode_watermark, encode_watermark, lower_bound


@pytest.mark.parametrize(
    "value",
    [
        dt.datetime(2026, 11, 29, 18, 0, 0, 123456),
        dt.datetime(2026, 11, 29, 18, 0, tzinfo=dt.UTC),
        dt.date(2026, 11, 29),
        12345678901234,
        Decimal("42.5"),
        "2026-11-29 18:00:00",
        None,
    ],
)
def test_round_trip(value: Watermark | None) -> None:
    decoded = decode_watermark(encode_watermark(value))
    assert decoded == value
    assert type(decoded) is type(value)


def test_encoded_form_is_readable() -> None:
    assert encode_watermark(dt.datetime(2026, 1, 1)) == "datetime:2026-01-01T00:00:00"


@pytest.mark.parametrize("text", ["2026-01-01", "float:1", "int:x"])
def test_garbage_is_refused(text: str) -> None:
    with pytest.raises(SyncError, match="not a watermark"):
        decode_watermark(text)


def test_lookback() -> None:
    at = dt.datetime(2026, 1, 1, 0, 5)
    assert lower_bound(at, 300) == dt.datetime(2026, 1, 1)
    assert lower_bound(at, 0) == at
    assert lower_bound(None, 300) is None
    assert lower_bound(dt.date(2026, 1, 2), 10) == dt.date(2026, 1, 1)
    with pytest.raises(SyncError, match="date/time cursors only"):
        lower_bound(100, 5)
