"""Reading the source: one table or query, in keyset-paginated batches, with SQLAlchemy Core.

Every statement is built with SQLAlchemy Core and bind parameters; identifiers come from
reflection or the configuration and are quoted by the dialect, never pasted into SQL text.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from oracle_meili.config import IndexConfig, SourceConfig
from oracle_meili.documents import DocumentShape, build_shape
from oracle_meili.errors import (
    ConfigError,
    SourceConnectionError,
    SourceError,
    SourceTransientError,
)
from oracle_meili.oracle import FETCH_ROWS_OPTION, oracle_engine
from oracle_meili.retry import retrying

Row = Sequence[Any]
PageFactory = Callable[[Sequence[Any] | None], sa.Select[Any]]
SCN_STATEMENT = sa.text("SELECT DBMS_FLASHBACK.GET_SYSTEM_CHANGE_NUMBER FROM DUAL")


@contextmanager
def source_engine(config: SourceConfig) -> Iterator[sa.Engine]:
    """The SQLAlchemy engine for the configured source (URL, or pooled Oracle)."""
    if config.oracle is not None:
        with oracle_engine(config.oracle) as engine:
            yield engine
        return
    assert config.url is not None
    try:
        engine = sa.create_engine(config.url)
    except (sa.exc.ArgumentError, ImportError) as e:
        raise SourceConnectionError(f"source.url is not usable: {e}") from None
    try:
        yield engine
    finally:
        engine.dispose()


@dataclass(frozen=True)
class ChangeMarkers:
    """Cheap signs that the source changed: the highest cursor value and the row count."""

    max_cursor: Any
    row_count: int


class TableSource:
    """The rows of one configured index: a reflected table or a wrapped ``query:``."""

    def __init__(
        self, engine: sa.Engine, index: IndexConfig, *, selectable: sa.FromClause | None = None
    ) -> None:
        """Reflect the table (or probe the query's columns) unless ``selectable`` is given.

        Raises:
            ConfigError: a configured column is missing, or a column's type is unsupported.
        """
        self.engine = engine
        self.index = index
        self.selectable = selectable if selectable is not None else _selectable(engine, index)
        self.columns: tuple[str, ...] = tuple(c.name for c in self.selectable.columns)
        self._by_field = {c.name.lower(): c for c in self.selectable.columns}
        self.key_columns = tuple(self.column(name, "primary_key") for name in index.primary_key)
        self.cursor_column = self.column(index.cursor, "cursor") if index.cursor else None
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
            _check_types(index, self.selectable)

    @property
    def char_columns(self) -> tuple[str, ...]:
        """Fixed-width (CHAR/NCHAR) columns, whose padding the documents trim."""
        return tuple(
            c.name for c in self.selectable.columns if isinstance(c.type, sa.CHAR | sa.NCHAR)
        )

    @property
    def temporal_columns(self) -> tuple[str, ...] | None:
        """Date/time columns, or None when a column's type is unknown (a `query:` source)."""
        if any(isinstance(c.type, sa.types.NullType) for c in self.selectable.columns):
            return None
        return tuple(
            c.name for c in self.selectable.columns if isinstance(c.type, sa.Date | sa.DateTime)
        )

    def document_shape(self) -> DocumentShape:
        """How this source's rows become documents."""
        return build_shape(
            self.index,
            self.columns,
            char_columns=self.char_columns,
            temporal_columns=self.temporal_columns,
        )

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
        """The highest cursor value (None without a cursor) and the row count, in one query."""
        statement = self.change_markers_statement()
        row: Sequence[Any] = self._fetch(statement)[0]
        return ChangeMarkers(max_cursor=row[0], row_count=int(row[1]))

    def current_scn(self) -> int:
        """The database's current system change number (Oracle; EXECUTE on DBMS_FLASHBACK)."""
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
        # The table name is quoted by the dialect's own preparer; the SCN is a bind variable.
        quoted = self.engine.dialect.identifier_preparer.format_table(table)
        snapshot = (
            sa.text(f"SELECT * FROM {quoted} AS OF SCN :snapshot_scn")
            .bindparams(snapshot_scn=scn)
            .columns(*(sa.column(c.name, c.type) for c in table.columns))
            .subquery("snapshot")
        )
        return TableSource(self.engine, self.index, selectable=snapshot)

    def change_markers_statement(self) -> sa.Select[Any]:
        """``SELECT MAX(cursor), COUNT(*)``: one cheap query for the change sensor."""
        max_cursor: sa.ColumnElement[Any] = (
            sa.func.max(self.cursor_column) if self.cursor_column is not None else sa.null()
        )
        return sa.select(max_cursor, sa.func.count()).select_from(self.selectable)

    def max_cursor(self) -> Any:
        """The highest cursor value now in the source (None when empty or without a cursor)."""
        if self.cursor_column is None:
            return None
        statement = sa.select(sa.func.max(self.cursor_column)).select_from(self.selectable)
        return self._fetch(statement)[0][0]

    def live_condition(self) -> sa.ColumnElement[bool] | None:
        """SQL for "not soft-deleted", or None when the index has no soft delete."""
        if self.soft_delete_column is None or self.index.soft_delete is None:
            return None
        deleted = sa.literal(self.index.soft_delete.deleted_value)
        return sa.or_(self.soft_delete_column.is_(None), self.soft_delete_column != deleted)

    def read_all(
        self, *, batch_size: int, after: Sequence[Any] | None = None
    ) -> Iterator[list[Row]]:
        """All live rows (after the key ``after``, if given), in batches, in key order."""
        yield from self._keyset(
            order=self.key_columns,
            page=lambda last: self.full_page(after=last, batch_size=batch_size),
            batch_size=batch_size,
            start=after,
        )

    @property
    def key_positions(self) -> tuple[int, ...]:
        """Where the primary-key values are in a row."""
        return tuple(self.columns.index(c.name) for c in self.key_columns)

    def read_changed(self, *, after: Any, upto: Any, batch_size: int) -> Iterator[list[Row]]:
        """Rows (soft-deleted ones included) with ``after < cursor <= upto``, in batches.

        ``after=None`` reads from the beginning. Ordered by (cursor, primary key) so that an
        index on the cursor column serves every page.
        """
        if self.cursor_column is None:
            raise ConfigError(f"index {self.index.name!r}: an incremental sync needs `cursor`")
        yield from self._keyset(
            order=(self.cursor_column, *self.key_columns),
            page=lambda last: self.changed_page(
                lower=after, upper=upto, after=last, batch_size=batch_size
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
            # NOTE: CHAR(1) flags come back blank-padded from Oracle.
            return value.rstrip(" ") == wanted
        return bool(value == wanted)

    def full_page(self, *, after: Sequence[Any] | None, batch_size: int) -> sa.Select[Any]:
        """One page of live rows in primary-key order, after the key ``after``."""
        condition = self.live_condition()
        return self._page(
            order=self.key_columns,
            where=[condition] if condition is not None else [],
            after=after,
            batch_size=batch_size,
        )

    def changed_page(
        self, *, lower: Any, upper: Any, after: Sequence[Any] | None, batch_size: int
    ) -> sa.Select[Any]:
        """One page of rows with ``lower < cursor <= upper``, in (cursor, key) order."""
        if self.cursor_column is None:
            raise ConfigError(f"index {self.index.name!r}: an incremental sync needs `cursor`")
        where: list[sa.ColumnElement[bool]] = [self.cursor_column <= upper]
        if lower is not None:
            where.append(self.cursor_column > lower)
        return self._page(
            order=(self.cursor_column, *self.key_columns),
            where=where,
            after=after,
            batch_size=batch_size,
        )

    def _page(
        self,
        *,
        order: Sequence[sa.ColumnElement[Any]],
        where: Sequence[sa.ColumnElement[bool]],
        after: Sequence[Any] | None,
        batch_size: int,
    ) -> sa.Select[Any]:
        conditions = list(where)
        if after is not None:
            conditions.append(_after(order, after))
        return sa.select(self.selectable).where(*conditions).order_by(*order).limit(batch_size)

    def _keyset(
        self,
        *,
        order: Sequence[sa.ColumnElement[Any]],
        page: PageFactory,
        batch_size: int,
        start: Sequence[Any] | None = None,
    ) -> Iterator[list[Row]]:
        # Keyset pagination: each page is a short query that starts after the last row seen,
        # so no cursor stays open for the whole read (NOTE: long Oracle cursors risk
        # ORA-01555) and the rows come in a stable order.
        positions = [self.columns.index(c.name) for c in order]
        last: tuple[Any, ...] | None = tuple(start) if start is not None else None
        while True:
            rows = self._fetch(page(last), fetch_rows=batch_size)
            if not rows:
                return
            yield [tuple(r) for r in rows]
            if len(rows) < batch_size:
                return
            last = tuple(rows[-1][p] for p in positions)

    def fetch(self, statement: sa.Executable) -> Sequence[sa.Row[Any]]:
        """Run a read against the source (with the same retries as the sync's own reads)."""
        return self._fetch(statement)

    def _fetch(
        self, statement: sa.Executable, *, fetch_rows: int | None = None
    ) -> Sequence[sa.Row[Any]]:
        """Run one statement; a lost connection or a busy database is retried (each statement
        is a read that can run again: a keyset page, a MAX, a COUNT)."""
        for attempt in retrying():
            with attempt:
                return self._fetch_once(statement, fetch_rows=fetch_rows)
        raise AssertionError("unreachable: retrying re-raises the last error")

    def _fetch_once(
        self, statement: sa.Executable, *, fetch_rows: int | None
    ) -> Sequence[sa.Row[Any]]:
        # One short-lived connection per statement: it goes back to the pool between pages.
        try:
            with self.engine.connect() as connection:
                if fetch_rows is not None:
                    connection = connection.execution_options(**{FETCH_ROWS_OPTION: fetch_rows})
                return connection.execute(statement).all()
        except sa.exc.DBAPIError as e:
            # The dialect recognises a lost connection (Oracle DPY-4011, ORA-03113, ...);
            # SQLite reports a busy database as "database is locked".
            transient = e.connection_invalidated or "database is locked" in str(e.orig)
            kind = SourceTransientError if transient else SourceError
            raise kind(
                f"index {self.index.name!r}: reading {self.index.source_label} failed: "
                f"{str(e.orig).splitlines()[0] if e.orig else e}"
            ) from e


def _after(order: Sequence[sa.ColumnElement[Any]], last: Sequence[Any]) -> sa.ColumnElement[bool]:
    """``(a, b, c) > (x, y, z)`` spelled out, since Oracle has no row-value comparison."""
    head, value = order[0], last[0]
    greater: sa.ColumnElement[bool] = head > value
    if len(order) == 1:
        return greater
    return sa.or_(greater, sa.and_(head == value, _after(order[1:], last[1:])))


def _selectable(engine: sa.Engine, index: IndexConfig) -> sa.FromClause:
    try:
        if index.table is not None:
            schema, _, name = index.table.rpartition(".")
            return sa.Table(
                _identifier(name),
                sa.MetaData(),
                schema=_identifier(schema) if schema else None,
                autoload_with=engine,
            )
        assert index.query is not None
        # Learn the query's columns without reading a row: SELECT * FROM (query) WHERE 1 = 0.
        probe: sa.Select[Any] = sa.select(sa.literal_column("*")).select_from(
            sa.text(index.query).columns().subquery("probe")
        )
        with engine.connect() as connection:
            names = list(connection.execute(probe.where(sa.false())).keys())
        return sa.text(index.query).columns(*(sa.column(n) for n in names)).subquery("src")
    except sa.exc.NoSuchTableError:
        raise ConfigError(
            f"index {index.name!r}: table {index.table!r} does not exist or is not visible"
        ) from None
    except sa.exc.DBAPIError as e:
        raise SourceError(
            f"index {index.name!r}: cannot read {index.source_label}: "
            f"{str(e.orig).splitlines()[0] if e.orig else e}"
        ) from e


def _check_types(index: IndexConfig, table: sa.FromClause) -> None:
    """Fail at load time on a column whose type SQLAlchemy could not map (e.g. SDO_GEOMETRY,
    XMLTYPE): its values would have no defined document form."""
    unknown = [c.name for c in table.columns if isinstance(c.type, sa.types.NullType)]
    if unknown:
        raise ConfigError(
            f"index {index.name!r}: column(s) {', '.join(unknown)} of {index.table} have a type "
            "oracle-meili does not support; leave them out with a `query:`"
        )


def _identifier(name: str) -> str:
    # NOTE: SQLAlchemy treats all-lower-case names as case-insensitive (Oracle folds them to
    # upper case); a mixed-case name is quoted and matched exactly.
    return name.lower() if name.isupper() or name.islower() else name
