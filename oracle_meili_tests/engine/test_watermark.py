"""Watermarks survive a round trip with their type."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from oracle_meili.engine.watermark import Watermark, decode_watermark, encode_watermark, lower_bound
from oracle_meili.errors import SyncError


@pytest.mark.parametrize(
    "value",
    [
        dt.datetime(2026, 11, 29, 18, 0, 0, 123456),
        dt.datetime(2026, 11, 29, 18, 0, tzinfo=dt.UTC),
        dt.date(2026, 11, 29),
        12345678901234,
        Decimal("42.5"),
        "2026-11-29 18:00:00",
        # Stored key values (SQLite REAL, RAW) kept exactly by checkpoints.
        0.1,
        2.0**60 + 0.5,
        b"\x00\xffkey",
        None,
    ],
)
def test_round_trip(value: Watermark | None) -> None:
    decoded = decode_watermark(encode_watermark(value))
    assert decoded == value
    assert type(decoded) is type(value)


def test_encoded_form_is_readable() -> None:
    assert encode_watermark(dt.datetime(2026, 1, 1)) == "datetime:2026-01-01T00:00:00"


@pytest.mark.parametrize("text", ["2026-01-01", "float:x", "int:x", "bytes:zz"])
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


def test_lookback_on_a_date_time_kept_as_text() -> None:
    """A SQLite cursor's stored text: the same text form, earlier (never later)."""
    assert lower_bound("2026-01-01 00:05:00", 300) == "2026-01-01 00:00:00"
    assert lower_bound("2026-01-01T00:05:00.25", 300) == "2026-01-01T00:00:00.250000"
    with pytest.raises(SyncError, match="date/time cursors only"):
        lower_bound("not a time", 5)
