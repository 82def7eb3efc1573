"""Document ids: the key value, or an injective encoding of a composite key.

Ids are only ever an integer (64-bit) or 1 to 511 characters of ``[A-Za-z0-9_-]``, as
Meilisearch requires; they are validated before anything is sent.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from oracle_meili.documents.shape import DocumentShape
from oracle_meili.errors import DocumentError

# Meilisearch accepts integer ids in the 64-bit range (negative ones included).
_MIN_INT_ID, _MAX_INT_ID = -(2**63), 2**64 - 1
_VALID_STRING_ID = re.compile(r"^[A-Za-z0-9_-]{1,511}$")
_MAX_ID_BYTES = 511
DocumentId = int | str


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
