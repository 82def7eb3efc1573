"""Watermarks: the highest cursor value a sync has covered, as a tagged, readable string.

The tag keeps the cursor's type across a round trip through Dagster metadata or
``sync_state.json`` (``datetime:2026-11-29T18:00:00.123456``, ``int:42``), so the next
incremental read binds it with the column's own type.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from oracle_meili.errors import SyncError

Watermark = dt.datetime | dt.date | int | Decimal | float | bytes | str


def encode_watermark(value: Watermark | None) -> str | None:
    """Encode a cursor value; ``None`` (nothing synced yet) stays ``None``."""
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return f"datetime:{value.isoformat()}"
    if isinstance(value, dt.date):
        return f"date:{value.isoformat()}"
    if isinstance(value, bool):
        raise SyncError("a boolean column cannot be a cursor")
    if isinstance(value, int):
        return f"int:{value}"
    if isinstance(value, Decimal):
        return f"decimal:{value}"
    if isinstance(value, float):
        # repr() round-trips a float exactly (a SQLite REAL key, stored as it is).
        return f"float:{value!r}"
    if isinstance(value, bytes):
        return f"bytes:{value.hex()}"
    if isinstance(value, str):
        return f"str:{value}"
    raise SyncError(f"a cursor value of type {type(value).__name__} cannot be a watermark")


def decode_watermark(text: str | None) -> Watermark | None:
    """Invert :func:`encode_watermark`.

    Raises:
        SyncError: the text is not an encoded watermark.
    """
    if text is None:
        return None
    kind, sep, raw = text.partition(":")
    decoders: dict[str, Any] = {
        "datetime": dt.datetime.fromisoformat,
        "date": dt.date.fromisoformat,
        "int": int,
        "decimal": Decimal,
        "float": float,
        "bytes": bytes.fromhex,
        "str": str,
    }
    if not sep or kind not in decoders:
        raise SyncError(f"not a watermark: {text!r}")
    try:
        value: Watermark = decoders[kind](raw)
    except ValueError as e:
        raise SyncError(f"not a watermark: {text!r}") from e
    return value


def _iso_datetime(text: str) -> dt.datetime | None:
    try:
        return dt.datetime.fromisoformat(text)
    except ValueError:
        return None


def lower_bound(watermark: Watermark | None, lookback_seconds: float) -> Watermark | None:
    """Where an incremental read starts: the watermark less the look-back window.

    Raises:
        SyncError: a look-back was asked for on a cursor that is not a date or time.
    """
    if watermark is None or lookback_seconds == 0:
        return watermark
    if isinstance(watermark, dt.datetime):
        return watermark - dt.timedelta(seconds=lookback_seconds)
    if isinstance(watermark, dt.date):
        return watermark - dt.timedelta(days=-(-lookback_seconds // 86400))
    if isinstance(watermark, str) and (stamp := _iso_datetime(watermark)) is not None:
        # A date/time kept as text (SQLite, or a `query:` on it): the same text form, earlier.
        earlier = stamp - dt.timedelta(seconds=lookback_seconds)
        return earlier.isoformat(sep=watermark[10]) if len(watermark) > 10 else str(earlier)
    raise SyncError(
        "lookback_seconds applies to date/time cursors only; "
        f"this cursor holds {type(watermark).__name__} values"
    )
