"""Rows to Meilisearch documents: the type contract and the document id rules.

Values are converted by their Python type, as python-oracledb and SQLAlchemy return them
(see the table in README "Type contract"). Anything else fails loudly, naming the index, the
row's primary key and the column.
"""

from __future__ import annotations

import array
import base64
import datetime as dt
import math
import re
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import oracledb
import orjson

from oracle_meili.config import BinaryPolicy, IndexConfig
from oracle_meili.errors import ConfigError, DocumentError

# JavaScript (and Meilisearch's number type) holds integers exactly only within +-2^53.
MAX_EXACT_INT = 2**53
# Meilisearch accepts integer ids in the 64-bit range (negative ones included).
_MIN_INT_ID, _MAX_INT_ID = -(2**63), 2**64 - 1
_VALID_STRING_ID = re.compile(r"^[A-Za-z0-9_-]{1,511}$")
_MAX_ID_BYTES = 511
COMPOSITE_ID_FIELD = "id"
EPOCH_SUFFIX = "_epoch"

JsonValue = None | bool | int | float | str | list["JsonValue"] | dict[str, "JsonValue"]
DocumentId = int | str


class UnsupportedValue(TypeError):
    """A value of a type the type contract does not cover."""


@dataclass(frozen=True)
class DocumentShape:
    """How one index's rows become documents; built once per sync from the source columns."""

    index: str
    fields: tuple[str, ...]
    key_positions: tuple[int, ...]
    id_field: str
    char_positions: frozenset[int]
    binary: BinaryPolicy
    epoch_fields: bool
    # Columns known (from the source's column types) to hold dates or times; None when the
    # types are unknown (a `query:` source), and then every value is looked at.
    temporal_positions: tuple[int, ...] | None = None
    # The zone naive date/times are in (NOTE: Oracle DATE and TIMESTAMP carry none); None
    # leaves them naive in the document and takes them as UTC for epoch fields.
    timezone: dt.tzinfo | None = None

    @property
    def composite(self) -> bool:
        return len(self.key_positions) > 1


def build_shape(
    index: IndexConfig,
    columns: Sequence[str],
    *,
    char_columns: Sequence[str] = (),
    temporal_columns: Sequence[str] | None = None,
) -> DocumentShape:
    """Map the source columns to document fields (lower-cased names).

    Raises:
        ConfigError: a key column is missing, two columns share a field name, or a composite
            key's synthetic ``id`` field would clash with a column.
    """
    fields = tuple(c.lower() for c in columns)
    clashes = sorted({f for f in fields if fields.count(f) > 1})
    if clashes:
        raise ConfigError(
            f"index {index.name!r}: columns {', '.join(clashes)} differ only in case; "
            "alias them in a `query:`"
        )
    key_positions = tuple(_position(index, fields, key, "primary_key") for key in index.primary_key)
    if len(key_positions) > 1:
        if COMPOSITE_ID_FIELD in fields:
            raise ConfigError(
                f"index {index.name!r}: a composite primary_key adds the field "
                f"{COMPOSITE_ID_FIELD!r}, but the source has a column of that name; "
                "alias it in a `query:`"
            )
        id_field = COMPOSITE_ID_FIELD
    else:
        id_field = fields[key_positions[0]]
    lowered_chars = {c.lower() for c in char_columns}
    return DocumentShape(
        index=index.name,
        fields=fields,
        key_positions=key_positions,
        id_field=id_field,
        char_positions=frozenset(i for i, f in enumerate(fields) if f in lowered_chars),
        binary=index.binary,
        epoch_fields=index.epoch_fields,
        temporal_positions=None
        if temporal_columns is None
        else tuple(i for i, c in enumerate(columns) if c in set(temporal_columns)),
        timezone=ZoneInfo(index.timezone) if index.timezone else None,
    )


def _position(index: IndexConfig, fields: tuple[str, ...], column: str, key: str) -> int:
    try:
        return fields.index(column.lower())
    except ValueError:
        raise ConfigError(
            f"index {index.name!r}: {key} column {column!r} is not in {index.source_label} "
            f"(columns: {', '.join(fields)})"
        ) from None


def encode_document(shape: DocumentShape, row: Sequence[Any]) -> bytes:
    """One row as an NDJSON line: the same document as :func:`to_document`, made faster.

    The common case leaves the value conversions to orjson, in C: strings, numbers, None,
    booleans, date/times (its ISO 8601 output equals ``isoformat()``) and UUIDs, with NaN and
    infinity written as null as the type contract asks; ``_orjson_default`` converts the rest
    (Decimal, bytes, intervals). Integers beyond 2^53 (``OPT_STRICT_INTEGER``), an
    unsupported type, or the ``omit`` binary policy take the careful path,
    :func:`to_document`, which also produces the error that names the column.
    """
    if shape.binary == "omit":
        return orjson.dumps(to_document(shape, row), option=_LINE)
    document = dict(zip(shape.fields, row, strict=True))
    fields = shape.fields
    for position in shape.char_positions:
        value = row[position]
        if type(value) is str:
            document[fields[position]] = value.rstrip(" ")
    if shape.epoch_fields or shape.timezone is not None:
        positions = shape.temporal_positions
        for position in range(len(row)) if positions is None else positions:
            value = row[position]
            if not isinstance(value, dt.date):
                continue
            value = localize(value, shape.timezone)
            document[fields[position]] = value
            if shape.epoch_fields:
                document[fields[position] + EPOCH_SUFFIX] = epoch_seconds(value)
    document[shape.id_field] = document_id(shape, row)
    try:
        return orjson.dumps(document, default=_orjson_default, option=_FAST_LINE)
    except orjson.JSONEncodeError:
        return orjson.dumps(to_document(shape, row), option=_LINE)


_LINE = orjson.OPT_APPEND_NEWLINE
_FAST_LINE = orjson.OPT_APPEND_NEWLINE | orjson.OPT_STRICT_INTEGER


def _orjson_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return _decimal(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(value)).decode("ascii")
    converter = _CONVERTERS.get(type(value))
    if converter is not None:  # intervals, vectors
        return converter(value)
    raise TypeError  # orjson raises JSONEncodeError; encode_document takes the careful path


def to_document(shape: DocumentShape, row: Sequence[Any]) -> dict[str, JsonValue]:
    """Convert one row (values in ``shape.fields`` order) to a document.

    Raises:
        DocumentError: naming index, primary key and column of an unsupported value or bad id.
    """
    doc_id = document_id(shape, row)
    document: dict[str, JsonValue] = {}
    for position, (field, value) in enumerate(zip(shape.fields, row, strict=True)):
        if value is None:
            document[field] = None
            continue
        try:
            converted = convert_value(value, binary=shape.binary)
        except UnsupportedValue as e:
            raise DocumentError(str(e), index=shape.index, key=doc_id, column=field) from None
        if converted is _OMIT:
            continue
        if position in shape.char_positions and isinstance(converted, str):
            # NOTE: Oracle CHAR/NCHAR values come back blank-padded to the column width.
            converted = converted.rstrip(" ")
        document[field] = converted
        if isinstance(value, dt.date):
            value = localize(value, shape.timezone)
            document[field] = value.isoformat()
            if shape.epoch_fields:
                document[field + EPOCH_SUFFIX] = epoch_seconds(value)
    document[shape.id_field] = doc_id
    return document


def document_id(shape: DocumentShape, row: Sequence[Any]) -> DocumentId:
    """The Meilisearch id of a row: the key value, or an encoded composite of the key values.

    Raises:
        DocumentError: the key is NULL, of an unusable type, or outside Meilisearch's id rules.
    """
    if not shape.composite:
        position = shape.key_positions[0]
        value = row[position]
        if type(value) is int and _MIN_INT_ID <= value <= _MAX_INT_ID:
            return value  # the common case, checked inline: this runs once per row
        if position in shape.char_positions and isinstance(value, str):
            value = value.rstrip(" ")  # NOTE: Oracle CHAR(n) keys come back blank-padded
        return single_id(value, index=shape.index, column=shape.fields[position])
    parts = [
        row[p].rstrip(" ") if p in shape.char_positions and isinstance(row[p], str) else row[p]
        for p in shape.key_positions
    ]
    return composite_id(parts, index=shape.index)


def single_id(value: Any, *, index: str, column: str) -> DocumentId:
    """Validate a single-column key value as a Meilisearch document id."""
    key = _integral(value)
    if key is not None:
        if not _MIN_INT_ID <= key <= _MAX_INT_ID:
            raise DocumentError("id outside the 64-bit integer range", index=index, key=value)
        return key
    if isinstance(value, str):
        if not _VALID_STRING_ID.match(value):
            raise DocumentError(
                "not a valid Meilisearch document id (1-511 of A-Z a-z 0-9 _ -); "
                "use a composite primary_key, whose id is encoded, or a `query:` that maps it",
                index=index,
                key=value,
                column=column,
            )
        return value
    if value is None:
        raise DocumentError("primary key is NULL", index=index, column=column)
    if isinstance(value, dt.date | uuid.UUID | bytes) or (
        isinstance(value, Decimal) and value.is_finite()
    ):
        # A DATE, TIMESTAMP, RAW or decimal key: its canonical text, escaped as a composite
        # part is (so 1.10 and 1.1 share one id, and every id stays [A-Za-z0-9_-]).
        return _escape(_key_text(value, index=index, parts=(value,)))
    raise DocumentError(
        f"primary key of type {type(value).__name__} cannot be a document id",
        index=index,
        key=value,
        column=column,
    )


def composite_id(parts: Sequence[Any], *, index: str) -> str:
    """Encode key parts as one id, injectively, using only ``[A-Za-z0-9_-]``.

    Letters and digits stay as they are; every other character becomes ``_xx`` (code point
    below 256) or ``_uxxxxxx``; parts are joined with ``-``, which never occurs inside an
    encoded part. So two different key tuples (of the same column types) never share an id.
    """
    encoded: list[str] = []
    for part in parts:
        if part is None:
            raise DocumentError("a primary-key column is NULL", index=index, key=tuple(parts))
        encoded.append(_escape(_key_text(part, index=index, parts=parts)))
    result = "-".join(encoded)
    if len(result) > _MAX_ID_BYTES:
        raise DocumentError(
            f"encoded composite id is {len(result)} characters; Meilisearch allows {_MAX_ID_BYTES}",
            index=index,
            key=tuple(parts),
        )
    return result


def decode_composite_id(document_id: str) -> list[str]:
    """Invert :func:`composite_id` to the text of each key part (for diagnostics and tests)."""
    parts: list[str] = []
    for encoded in document_id.split("-"):
        text: list[str] = []
        i = 0
        while i < len(encoded):
            char = encoded[i]
            if char != "_":
                text.append(char)
                i += 1
            elif encoded[i + 1] == "u":
                text.append(chr(int(encoded[i + 2 : i + 8], 16)))
                i += 8
            else:
                text.append(chr(int(encoded[i + 1 : i + 3], 16)))
                i += 3
        parts.append("".join(text))
    return parts


def _key_text(part: Any, *, index: str, parts: Sequence[Any]) -> str:
    integral = _integral(part)
    if integral is not None:
        return str(integral)
    if isinstance(part, str):
        return part
    if isinstance(part, dt.datetime | dt.date | uuid.UUID):
        return part.isoformat() if not isinstance(part, uuid.UUID) else str(part)
    if isinstance(part, bytes):
        return part.hex()
    if isinstance(part, Decimal) and part.is_finite():
        # One NUMBER, one id: Oracle's 1.10 and 1.1 are the same number.
        return format(part.normalize(), "f")
    raise DocumentError(
        f"a key part of type {type(part).__name__} cannot be encoded", index=index, key=tuple(parts)
    )


def _escape(text: str) -> str:
    out: list[str] = []
    for char in text:
        if char.isascii() and char.isalnum():
            out.append(char)
        elif ord(char) < 256:
            out.append(f"_{ord(char):02x}")
        else:
            out.append(f"_u{ord(char):06x}")
    return "".join(out)


def _integral(value: Any) -> int | None:
    """The value as an int if it is an integer (int or integral Decimal), else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, Decimal) and value.is_finite() and value == value.to_integral_value():
        return int(value)
    return None


class _Omit:
    """Marker: leave the field out of the document."""


_OMIT: Any = _Omit()


def convert_value(value: Any, *, binary: BinaryPolicy = "base64") -> Any:
    """Convert one non-NULL source value to its JSON document value (see the type contract).

    Raises:
        UnsupportedValue: for a type the contract does not cover.
    """
    converter = _CONVERTERS.get(type(value))
    if converter is not None:
        return converter(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return _OMIT if binary == "omit" else base64.b64encode(bytes(value)).decode("ascii")
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
