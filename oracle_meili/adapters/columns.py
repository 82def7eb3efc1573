"""A source's columns as documents see them: the document shape, and each field described
with its source column and SQL type (for Dagster's column schema)."""

from __future__ import annotations

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


def document_fields(
    index: IndexConfig, selectable: sa.FromClause, dialect: sa.Dialect
) -> tuple[tuple[str, str, str], ...]:
    """The fields of the documents, each with its source column and SQL type: the
    columns', and with ``epoch_fields`` each date/time column's ``<field>_epoch`` companion
    (seconds since 1970, from the same column)."""
    shape = shape_of(index, selectable)
    temporal = set(shape.temporal_positions or ()) if shape.epoch_fields else set()
    fields: list[tuple[str, str, str]] = []
    for position, described in enumerate(described_columns(index, selectable, dialect)):
        fields.append(described)
        if position in temporal:
            fields.append((described[0] + EPOCH_SUFFIX, described[1], "epoch seconds"))
    return tuple(fields)
