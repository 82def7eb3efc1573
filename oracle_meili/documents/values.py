"""The type contract: each value python-oracledb (or SQLAlchemy) returns as a JSON value.

See the table in docs/type-contract.md. Anything else raises :class:`UnsupportedValue`.
"""

from __future__ import annotations

import array
import base64
import datetime as dt
import math
import uuid
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import oracledb

from oracle_meili.config import BinaryPolicy

# JavaScript (and Meilisearch's number type) holds integers exactly only within +-2^53.
MAX_EXACT_INT = 2**53

JsonValue = None | bool | int | float | str | list["JsonValue"] | dict[str, "JsonValue"]


class UnsupportedValue(TypeError):
    """A value of a type the type contract does not cover."""


class _Omit:
    """Marker: leave the field out of the document."""


OMIT: Any = _Omit()


def convert_value(value: Any, *, binary: BinaryPolicy = "base64") -> Any:
    """Convert one non-NULL source value to its JSON document value (see the type contract).

    Raises:
        UnsupportedValue: for a type the contract does not cover.
    """
    converter = _CONVERTERS.get(type(value))
    if converter is not None:
        return converter(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return OMIT if binary == "omit" else base64.b64encode(bytes(value)).decode("ascii")
    for kind, fallback in _SUBCLASS_CONVERTERS:
        if isinstance(value, kind):
            return fallback(value)
    raise UnsupportedValue(
        f"unsupported value of type {type(value).__module__}.{type(value).__name__}"
    )


def localize(value: dt.date, timezone: dt.tzinfo | None) -> dt.date:
    """A naive datetime placed in ``timezone`` (dates and aware values are left alone)."""
    if timezone is None or type(value) is dt.date or not isinstance(value, dt.datetime):
        return value
    return value if value.tzinfo is not None else value.replace(tzinfo=timezone)


def epoch_seconds(value: dt.date) -> float | int:
    """Seconds since 1970-01-01 UTC; naive date/times are taken as UTC."""
    if not isinstance(value, dt.datetime):
        value = dt.datetime(value.year, value.month, value.day)
    # For naive values, subtraction is several times faster than .replace(tzinfo=).timestamp().
    naive = value.tzinfo is None
    seconds = (value - _UNIX_EPOCH).total_seconds() if naive else value.timestamp()
    return int(seconds) if seconds.is_integer() else seconds


_UNIX_EPOCH = dt.datetime(1970, 1, 1)


def _int(value: int) -> int | float:
    # NOTE: NUMBER(38) values beyond 2^53 would be silently rounded by JSON readers; send them
    # as numbers (float) deliberately rather than as integers that look exact but are not.
    return value if -MAX_EXACT_INT <= value <= MAX_EXACT_INT else float(value)


def _float(value: float) -> float | None:
    # NaN and infinity (BINARY_FLOAT/BINARY_DOUBLE) have no JSON form: they become null.
    return value if math.isfinite(value) else None


def _decimal(value: Decimal) -> int | float | None:
    if not value.is_finite():
        return None
    if value == value.to_integral_value():
        return _int(int(value))
    return float(value)


def _interval_months(value: oracledb.IntervalYM) -> int:
    return int(value.years) * 12 + int(value.months)


def _vector(value: array.array[Any]) -> list[Any]:
    # VECTOR columns arrive as array.array (FLOAT32/FLOAT64/INT8/BINARY elements).
    return [_float(v) if isinstance(v, float) else v for v in value]


def _sparse_vector(value: oracledb.SparseVector) -> dict[str, Any]:
    return {
        "num_dimensions": int(value.num_dimensions),
        "indices": list(value.indices),
        "values": _vector(value.values),
    }


def _json_container(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): None if v is None else convert_value(v) for k, v in value.items()}
    return [None if v is None else convert_value(v) for v in value]


_CONVERTERS: dict[type, Callable[[Any], Any]] = {
    str: lambda v: v,
    bool: lambda v: v,
    int: _int,
    float: _float,
    Decimal: _decimal,
    dt.datetime: lambda v: v.isoformat(),
    dt.date: lambda v: v.isoformat(),
    dt.time: lambda v: v.isoformat(),
    dt.timedelta: lambda v: v.total_seconds(),  # INTERVAL DAY TO SECOND
    uuid.UUID: str,
    dict: _json_container,
    list: _json_container,
    oracledb.IntervalYM: _interval_months,
    array.array: _vector,
    oracledb.SparseVector: _sparse_vector,
}
# Subclasses (e.g. pendulum datetimes, str enums) take their base type's conversion.
_SUBCLASS_CONVERTERS: tuple[tuple[type, Callable[[Any], Any]], ...] = (
    (bool, lambda v: bool(v)),
    (str, str),
    (int, lambda v: _int(int(v))),
    (float, lambda v: _float(float(v))),
    (dt.datetime, lambda v: v.isoformat()),
    (dt.date, lambda v: v.isoformat()),
)


def orjson_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return _decimal(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(value)).decode("ascii")
    converter = _CONVERTERS.get(type(value))
    if converter is not None:  # intervals, vectors
        return converter(value)
    raise TypeError  # orjson raises JSONEncodeError; encode_document takes the careful path
