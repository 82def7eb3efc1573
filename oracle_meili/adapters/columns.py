"""A source's columns as documents see them: the document shape, and each field described
with its source column and SQL type (for Dagster's column schema)."""

from __future__ import annotations

from typing import NamedTuple

import sqlalchemy as sa

from oracle_meili.config import IndexConfig
from oracle_meili.documents import EPOCH_SUFFIX, DocumentShape, build_shape


def shape_of(index: IndexConfig, selectable: sa.FromClause) -> DocumentShape:
    """How the rows of ``selectable`` become documents of ``index``."""
    columns = list(selectable.columns)
    # Date/time columns, or None when a column's type is unknown (a `query:` on SQLite):
    # then every value is looked at.
    temporal = (
        None
        if any(isinstance(c.type, sa.types.NullType) for c in columns)
        else tuple(c.name for c in columns if isinstance(c.type, sa.Date | sa.DateTime))
    )
    return build_shape(
        index,
        tuple(c.name for c in columns),
        # Fixed-width (CHAR/NCHAR) columns, whose padding the documents trim.
        char_columns=tuple(c.name for c in columns if isinstance(c.type, sa.CHAR | sa.NCHAR)),
        temporal_columns=temporal,
    )


def described_columns(
    index: IndexConfig, selectable: sa.FromClause, dialect: sa.Dialect
) -> tuple[tuple[str, str, str], ...]:
    """Each document field with the source column it comes from and that column's SQL type
    (``unknown`` where the source does not say: a `query:` on SQLite)."""
    shape = shape_of(index, selectable)
    described = []
    for field_name, column in zip(shape.fields, selectable.columns, strict=True):
        try:
            type_name = str(column.type.compile(dialect=dialect))
        except sa.exc.CompileError:
            type_name = "unknown"
        described.append((field_name, column.name, type_name))
    return tuple(described)


class DocumentField(NamedTuple):
    """A field of the documents: its name, the source column(s) it comes from, its type."""

    name: str
    columns: tuple[str, ...]
    type: str


def document_fields(
    index: IndexConfig, selectable: sa.FromClause, dialect: sa.Dialect
) -> tuple[DocumentField, ...]:
    """The fields of the documents, each with its source columns and SQL type: the columns'
    (renamed as ``fields:`` says, ``exclude:`` left out), with ``epoch_fields`` each
    date/time column's ``<field>_epoch`` companion (seconds since 1970), ``_geo`` from its
    two columns and ``_vectors.<embedder>`` from its column. (Fields a ``transform`` adds
    are the transform's own, unknown here.)"""
    shape = shape_of(index, selectable)
    temporal = set(shape.temporal_positions or ()) if shape.epoch_fields else set()
    fields: list[DocumentField] = []
    for position, (name, column, type_name) in enumerate(
        described_columns(index, selectable, dialect)
    ):
        if position in shape.excluded:
            continue
        if position in shape.json_positions:
            type_name = f"JSON parsed from {type_name}"
        fields.append(DocumentField(name, (column,), type_name))
        if position in temporal:
            fields.append(DocumentField(name + EPOCH_SUFFIX, (column,), "epoch seconds"))
    columns = [c.name for c in selectable.columns]
    if shape.geo is not None:
        lat, lng = (columns[p] for p in shape.geo)
        fields.append(DocumentField("_geo", (lat, lng), "geo point {lat, lng}"))
    for embedder, position, dimensions in shape.vectors:
        fields.append(
            DocumentField(f"_vectors.{embedder}", (columns[position],), f"vector[{dimensions}]")
        )
    return tuple(fields)
