"""A document shaped for search: JSON parsed, ``_geo``, ``_vectors``, columns left out, and
the user's transform. Applied by both encoders to the row's raw values, after the type
contract and before the document is written; every failure names the row and the column."""

from __future__ import annotations

import array
import math
from collections.abc import Sequence
from typing import Any

import orjson

from oracle_meili.documents.ids import DocumentId
from oracle_meili.documents.shape import EPOCH_SUFFIX, DocumentShape
from oracle_meili.errors import DocumentError


def shape_document(
    shape: DocumentShape, row: Sequence[Any], document: dict[str, Any], doc_id: DocumentId
) -> dict[str, Any] | None:
    """``document`` (the row's fields, values converted or not) shaped as the index says;
    None when the transform keeps the row out of the index.

    Raises:
        DocumentError: invalid JSON, a point out of range, a vector of the wrong length or
            with a non-number, an exception in the transform, or a transform that changed
            the document id.
    """
    fields = shape.fields
    for position in shape.json_positions:
        document[fields[position]] = _json(shape, row[position], doc_id, fields[position])
    for position in shape.excluded:
        document.pop(fields[position], None)
        document.pop(fields[position] + EPOCH_SUFFIX, None)
    if shape.geo is not None:
        point = _geo(shape, row, doc_id)
        if point is not None:
            document["_geo"] = point
    if shape.vectors:
        document["_vectors"] = {
            embedder: _vector(shape, row[position], dimensions, doc_id, fields[position])
            for embedder, position, dimensions in shape.vectors
        }
    if shape.transform is None:
        return document
    try:
        shaped = shape.transform(document)
    except Exception as error:  # the user's code: any failure is this row's
        raise DocumentError(
            f"transform failed: {type(error).__name__}: {error}", index=shape.index, key=doc_id
        ) from None
    if shaped is None:
        return None
    if not isinstance(shaped, dict):
        raise DocumentError(
            f"transform returned {type(shaped).__name__}, not a dict or None",
            index=shape.index,
            key=doc_id,
        )
    if shaped.get(shape.id_field) != doc_id:
        raise DocumentError(
            f"transform changed the document id field {shape.id_field!r} "
            f"to {shaped.get(shape.id_field)!r}",
            index=shape.index,
            key=doc_id,
        )
    return shaped


def _json(shape: DocumentShape, value: Any, doc_id: DocumentId, field: str) -> Any:
    if value is None or isinstance(value, dict | list):
        return value  # NULL, or a native JSON column python-oracledb already parsed
    if not isinstance(value, str | bytes | bytearray | memoryview):
        raise DocumentError(
            f"json_fields: a {type(value).__name__} is not JSON text",
            index=shape.index, key=doc_id, column=field,
        )  # fmt: skip
    try:
        return orjson.loads(value)  # bytes are read as UTF-8
    except orjson.JSONDecodeError as error:
        raise DocumentError(
            f"json_fields: invalid JSON ({error})", index=shape.index, key=doc_id, column=field
        ) from None


def _geo(shape: DocumentShape, row: Sequence[Any], doc_id: DocumentId) -> dict[str, float] | None:
    assert shape.geo is not None
    point: dict[str, float] = {}
    for name, position, limit in (("lat", shape.geo[0], 90), ("lng", shape.geo[1], 180)):
        value = row[position]
        if value is None:
            return None  # no point: the document has no `_geo`
        column = shape.fields[position]
        number = _number(value)
        if number is None or not -limit <= number <= limit:
            raise DocumentError(
                f"geo.{name}: {value!r} is not a number from -{limit} to {limit}",
                index=shape.index, key=doc_id, column=column,
            )  # fmt: skip
        point[name] = number
    return point


def _vector(
    shape: DocumentShape, value: Any, dimensions: int, doc_id: DocumentId, field: str
) -> list[float] | None:
    if value is None:
        return None
    if isinstance(value, str | bytes | bytearray | memoryview):
        try:
            value = orjson.loads(value)
        except orjson.JSONDecodeError as error:
            raise DocumentError(
                f"vectors: invalid JSON ({error})", index=shape.index, key=doc_id, column=field
            ) from None
    if not isinstance(value, list | tuple | array.array):
        raise DocumentError(
            f"vectors: a {type(value).__name__} is not a vector",
            index=shape.index, key=doc_id, column=field,
        )  # fmt: skip
    numbers = [_number(item) for item in value]
    if any(n is None for n in numbers):
        raise DocumentError(
            "vectors: the vector holds a value that is not a finite number",
            index=shape.index, key=doc_id, column=field,
        )  # fmt: skip
    if len(numbers) != dimensions:
        raise DocumentError(
            f"vectors: {len(numbers)} numbers, the embedder has {dimensions} dimensions",
            index=shape.index, key=doc_id, column=field,
        )  # fmt: skip
    return numbers  # type: ignore[return-value]


def _number(value: Any) -> float | None:
    """A finite float from a number (int, float, Decimal, numeric text); None otherwise."""
    if isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None
