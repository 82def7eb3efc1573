"""Reading the source: one table or query, in keyset-paginated batches, with SQLAlchemy Core.

Reflection is :mod:`~oracle_meili.adapters.reflection`; connections and the retried
execution of one statement, :mod:`~oracle_meili.adapters.database`.

Every statement is built with SQLAlchemy Core and bind parameters; identifiers come from
reflection or the configuration and are quoted by the dialect, never pasted into SQL text.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import sqlalchemy as sa

from oracle_meili.adapters.columns import (
    DocumentField,
    described_columns,
    document_fields,
    shape_of,
)
from oracle_meili.adapters.database import SCN_STATEMENT, read
from oracle_meili.adapters.keyset import Batch, PageFactory, Row, StoredKey, keyset_batches
from oracle_meili.adapters.markers import ChangeMarkers, CursorMax
from oracle_meili.adapters.ordering import OrderColumn, order_column
from oracle_meili.adapters.reflection import (
    cached_selectable,
    check_types,
    reflect,
    snapshot_of,
)
from oracle_meili.adapters.source_pages import SourcePages
from oracle_meili.config import IndexConfig
from oracle_meili.documents import DocumentShape
from oracle_meili.errors import ConfigError


class TableSource(SourcePages):
    """The rows of one configured index: a reflected table or a wrapped ``query:``."""

    def __init__(
        self,
        engine: sa.Engine,
        index: IndexConfig,
        *,
        selectable: sa.FromClause | None = None,
        scn: int | None = None,
    ) -> None:
        """Reflect the table (or probe the query's columns) unless ``selectable`` is given.

        ``scn``: the SCN ``selectable`` reads as of (see :meth:`as_of`).

        Raises:
            ConfigError: a configured column is missing, or a column's type is unsupported.
        """
        self.engine = engine
        self.index = index
        self.scn = scn
        self.selectable = selectable if selectable is not None else reflect(engine, index)
        self.columns: tuple[str, ...] = tuple(c.name for c in self.selectable.columns)
        self._by_field = {c.name.lower(): c for c in self.selectable.columns}
        self.key_columns = tuple(self.column(name, "primary_key") for name in index.primary_key)
        self.cursor_column = self.column(index.cursor, "cursor") if index.cursor else None
        self.key_order = tuple(order_column(engine.dialect, c) for c in self.key_columns)
        cursor = self.cursor_column
        self.cursor_order = order_column(engine.dialect, cursor) if cursor is not None else None
        self.soft_delete_column = (
            self.column(index.soft_delete.column, "soft_delete.column")
            if index.soft_delete
            else None
        )
        self._soft_delete_position = (
            self.columns.index(self.soft_delete_column.name)
            if self.soft_delete_column is not None
            else None
        )
        if index.table is not None:
            check_types(index, self.selectable)

    @classmethod
    def cached(cls, engine: sa.Engine, index: IndexConfig) -> TableSource:
        """A source whose reflection is reused for a few minutes (:data:`REFLECTION_TTL`).

        For the change sensor, which polls every few seconds: reflecting an Oracle table
        costs several dictionary queries, and its columns rarely change. A column that is
        dropped shows up as an error, after which the next tick reflects afresh.
        """
        return cls(engine, index, selectable=cached_selectable(engine, index))

    def document_shape(self) -> DocumentShape:
        """How this source's rows become documents."""
        return shape_of(self.index, self.selectable)

    def field_columns(self) -> tuple[tuple[str, str, str], ...]:
        """Each source column as a field, with the column and its SQL type."""
        return described_columns(self.index, self.selectable, self.engine.dialect)

    def document_fields(self) -> tuple[DocumentField, ...]:
        """Each document field (shaped: renamed, excluded, epoch, geo, vectors) with its
        source columns and type."""
        return document_fields(self.index, self.selectable, self.engine.dialect)

    def column(self, name: str, key: str) -> sa.ColumnElement[Any]:
        """The source column ``name`` (matched case-insensitively), for setting ``key``."""
        try:
            return self._by_field[name.lower()]
        except KeyError:
            raise ConfigError(
                f"index {self.index.name!r}: {key} column {name!r} is not in "
                f"{self.index.source_label} (columns: {', '.join(self._by_field)})"
            ) from None

    def change_markers(self) -> ChangeMarkers:
        """The highest cursor value (None without a cursor or rows): one cheap query."""
        statement = self.change_markers_statement()
        row: Sequence[Any] = self._fetch(statement)[0]
        return ChangeMarkers(max_cursor=row[0])

    def current_scn(self) -> int:
        """The database's current SCN (Oracle; needs EXECUTE on DBMS_FLASHBACK)."""
        return int(self._fetch(SCN_STATEMENT)[0][0])

    def as_of(self, scn: int) -> TableSource:
        """This source read as it was at ``scn`` (an Oracle flashback query).

        Every page of a full read then sees the same consistent state, however long the
        read takes. Needs FLASHBACK on the table (or FLASHBACK ANY TABLE) and undo retained
        for the duration of the read (else ORA-01555 / ORA-08180).
        """
        table = self.selectable
        if not isinstance(table, sa.Table):
            raise ConfigError(f"index {self.index.name!r}: consistent_snapshot needs a `table`")
        snapshot = snapshot_of(self.engine, table, scn)
        return TableSource(self.engine, self.index, selectable=snapshot, scn=scn)

    def change_markers_statement(self) -> sa.Select[Any]:
        """``SELECT MAX(cursor)``: the change probe, whose cost does not grow with the table
        given an index on the cursor."""
        max_cursor: sa.ColumnElement[Any] = (
            self.cursor_order.typed(sa.func.max(self.cursor_order.stored))
            if self.cursor_order is not None
            else sa.null()
        )
        return sa.select(max_cursor).select_from(self.selectable)

    def max_cursor(self) -> CursorMax | None:
        """The highest cursor value now in the source (None when empty or without a cursor)."""
        if self.cursor_order is None:
            return None
        highest = sa.func.max(self.cursor_order.stored)
        statement = sa.select(highest, self.cursor_order.typed(highest)).select_from(
            self.selectable
        )
        stored, value = tuple(self._fetch(statement)[0])
        return None if stored is None else CursorMax(stored=stored, value=value)

    def live_condition(self) -> sa.ColumnElement[bool] | None:
        """SQL for "not soft-deleted", or None when the index has no soft delete."""
        if self.soft_delete_column is None or self.index.soft_delete is None:
            return None
        # NOTE: bound with the column's own type, so that an Oracle CHAR(n) flag is compared
        # under blank-padded semantics ('Y' = 'Y   '), as is_deleted() compares it.
        deleted = sa.literal(self.index.soft_delete.deleted_value, self.soft_delete_column.type)
        return sa.or_(self.soft_delete_column.is_(None), self.soft_delete_column != deleted)

    def live_conditions(self) -> list[sa.ColumnElement[bool]]:
        """The WHERE conditions of a read of live rows (none without a soft delete)."""
        condition = self.live_condition()
        return [condition] if condition is not None else []

    def count_live(self, *, cursor_at_most: Any = None) -> int:
        """Live rows now in the source; with ``cursor_at_most``, only those whose cursor is
        at most that (typed) value."""
        statement = sa.select(sa.func.count()).select_from(self.selectable)
        live = self.live_condition()
        if live is not None:
            statement = statement.where(live)
        if cursor_at_most is not None:
            if self.cursor_order is None:
                raise ConfigError(f"index {self.index.name!r}: this needs a `cursor`")
            order = self.cursor_order
            statement = statement.where(order.stored <= order.typed_value(cursor_at_most))
        return int(self._fetch(statement)[0][0])

    def read_all(
        self,
        *,
        batch_size: int,
        after: StoredKey | None = None,
        upto: StoredKey | None = None,
    ) -> Iterator[Batch]:
        """All live rows after the stored key ``after`` and up to ``upto`` (each end open
        when None), in batches, in key order: the whole table, or one key range of it.

        Each batch carries its rows' stored keys: a checkpoint resumes after one of them.
        """
        yield from self._batches(
            order=self.key_order,
            page=lambda last: self.full_page(after=last, upto=upto, batch_size=batch_size),
            batch_size=batch_size,
            start=after,
        )

    def read_keys(self, *, batch_size: int) -> Iterator[Batch]:
        """The primary-key values of every live row, in batches, in key order."""
        yield from self._batches(
            order=self.key_order,
            page=lambda last: self.full_page(
                after=last, batch_size=batch_size, columns=self.key_columns
            ),
            batch_size=batch_size,
            width=len(self.key_columns),
        )

    @property
    def key_positions(self) -> tuple[int, ...]:
        """Where the primary-key values are in a row."""
        return tuple(self.columns.index(c.name) for c in self.key_columns)

    def read_changed(self, *, after: Any, upto: CursorMax, batch_size: int) -> Iterator[Batch]:
        """Rows (soft-deleted ones included) with ``after < cursor <= upto``, in batches.

        ``after`` is a typed cursor value (a watermark less the look-back) or None to read
        from the beginning; ``upto`` is a :meth:`max_cursor` taken before reading. Ordered by
        (cursor, primary key) so that an index on the cursor column serves every page.
        """
        if self.cursor_order is None:
            raise ConfigError(f"index {self.index.name!r}: an incremental sync needs `cursor`")
        yield from self._batches(
            order=(self.cursor_order, *self.key_order),
            page=lambda last: self.changed_page(
                lower=after, upper=upto.stored, after=last, batch_size=batch_size
            ),
            batch_size=batch_size,
        )

    def is_deleted(self, row: Row) -> bool:
        """Whether a row read by :meth:`read_changed` is soft-deleted."""
        if self._soft_delete_position is None or self.index.soft_delete is None:
            return False
        value = row[self._soft_delete_position]
        wanted = self.index.soft_delete.deleted_value
        if isinstance(value, str) and isinstance(wanted, str):
            # NOTE: CHAR(n) flags come back blank-padded from Oracle.
            return value.rstrip(" ") == wanted.rstrip(" ")
        return bool(value == wanted)

    def _batches(
        self,
        *,
        order: Sequence[OrderColumn],
        page: PageFactory,
        batch_size: int,
        start: StoredKey | None = None,
        width: int | None = None,
    ) -> Iterator[Batch]:
        return keyset_batches(
            lambda statement, rows: self._fetch(statement, fetch_rows=rows),
            page=page,
            batch_size=batch_size,
            width=len(self.columns) if width is None else width,
            what=f"index {self.index.name!r}: reading {self.index.source_label}",
            start=start,
        )

    def fetch(self, statement: sa.Executable) -> Sequence[sa.Row[Any]]:
        """Every row of one statement over this source (retried, errors naming the index)."""
        return self._fetch(statement)

    def _fetch(
        self, statement: sa.Executable, *, fetch_rows: int | None = None
    ) -> Sequence[sa.Row[Any]]:
        return read(
            self.engine,
            statement,
            fetch_rows=fetch_rows,
            what=f"index {self.index.name!r}: reading {self.index.source_label}",
        )
