"""Both encoders on one row, for rows that become documents (no transform drops them)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from oracle_meili.documents import DocumentShape, JsonValue, encode_document, to_document


def document_of(shape: DocumentShape, row: Sequence[Any]) -> dict[str, JsonValue]:
    document = to_document(shape, row)
    assert document is not None, "the row was dropped"
    return document


def line_of(shape: DocumentShape, row: Sequence[Any]) -> bytes:
    line = encode_document(shape, row)
    assert line is not None, "the row was dropped"
    return line
