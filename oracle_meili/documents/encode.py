"""Rows to NDJSON lines: the fast path through orjson, and the careful reference path."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import orjson

from oracle_meili.documents.ids import document_id
from oracle_meili.documents.shape import EPOCH_SUFFIX, DocumentShape
from oracle_meili.documents.shaping import shape_document
from oracle_meili.documents.values import (
    OMIT,
    JsonValue,
    UnsupportedValue,
    convert_value,
    epoch_seconds,
    localize,
    orjson_default,
)
from oracle_meili.errors import DocumentError


def encode_document(shape: DocumentShape, row: Sequence[Any]) -> bytes | None:
    """One row as an NDJSON line: the same document as :func:`to_document`, made faster;
    None when the index's transform keeps the row out.

    The common case leaves the value conversions to orjson, in C: strings, numbers, None,
    booleans, date/times (its ISO 8601 output equals ``isoformat()``) and UUIDs, with NaN and
    infinity written as null as the type contract asks; ``orjson_default`` converts the rest
    (Decimal, bytes, intervals). Integers beyond 2^53 (``OPT_STRICT_INTEGER``), an
    unsupported type, the ``omit`` binary policy or a transform (which is given converted
    values) take the careful path, :func:`to_document`, which also produces the error that
    names the column.
    """
    if shape.binary == "omit" or shape.transform is not None:
        return _careful_line(shape, row)
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
    doc_id = document_id(shape, row)
    document[shape.id_field] = doc_id
    if shape.shaped:
        shape_document(shape, row, document, doc_id)
    try:
        return orjson.dumps(document, default=orjson_default, option=_FAST_LINE)
    except orjson.JSONEncodeError:
        return _careful_line(shape, row)


def _careful_line(shape: DocumentShape, row: Sequence[Any]) -> bytes | None:
    document = to_document(shape, row)
    return None if document is None else orjson.dumps(document, option=_LINE)


_LINE = orjson.OPT_APPEND_NEWLINE
_FAST_LINE = orjson.OPT_APPEND_NEWLINE | orjson.OPT_STRICT_INTEGER


def to_document(shape: DocumentShape, row: Sequence[Any]) -> dict[str, JsonValue] | None:
    """Convert one row (values in ``shape.fields`` order) to a document, shaped as the index
    says (None: the transform keeps the row out).

    Raises:
        DocumentError: naming index, primary key and column of an unsupported value or bad id.
    """
    doc_id = document_id(shape, row)
    document: dict[str, JsonValue] = {}
    for position, (field, value) in enumerate(zip(shape.fields, row, strict=True)):
        if position in shape.excluded:
            continue
        if position in shape.json_positions:
            document[field] = None  # in its place; the shaping parses the raw value
            continue
        if value is None:
            document[field] = None
            continue
        try:
            converted = convert_value(value, binary=shape.binary)
        except UnsupportedValue as e:
            raise DocumentError(str(e), index=shape.index, key=doc_id, column=field) from None
        if converted is OMIT:
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
    if shape.shaped:
        return shape_document(shape, row, document, doc_id)
    return document
