"""Reading the source: one table or query, in keyset-paginated batches, with SQLAlchemy Core.

Every statement is built with SQLAlchemy Core and bind parameters; identifiers come from
reflection or the configuration and are quoted by the dialect, never pasted into SQL text.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from oracle_meili.adapters.oracle import (
    FETCH_ROWS_OPTION,
    SNAPSHOT_TOO_OLD_CODES,
    TARGET_OPTION,
    error_codes,
    oracle_engine,
    set_session,
    source_error_is_transient,
)
from oracle_meili.adapters.oracle_types import (
    UNSUPPORTED_TYPES,
    prepare_reflection,
    query_column_types,
)
from oracle_meili.adapters.ordering import OrderColumn, after_key, order_column
from oracle_meili.config import IndexConfig, SourceConfig
from oracle_meili.documents import DocumentShape, build_shape
from oracle_meili.errors import (
    ConfigError,
    SnapshotTooOldError,
    SourceConnectionError,
    SourceError,
    SourceTransientError,
    SourceUnavailableError,
)
from oracle_meili.retry import retrying

Row = Sequence[Any]
# A row's key (or cursor and key) values as the database stores them: where to resume after it.
StoredKey = tuple[Any, ...]
PageFactory = Callable[[StoredKey | None], sa.Select[Any]]
# Labels of the stored order values a page selects after the row's own columns.
_ORDER_LABEL = "om_order_{}"


# The change sensor reuses a reflected table this long (seconds).
REFLECTION_TTL = 300.0
_REFLECTED_MAX = 256
# NOTE: module state on purpose: sensor ticks build new resources and engines each time.
_REFLECTED: dict[tuple[str, str], tuple[float, sa.FromClause]] = {}


def _engine_identity(engine: sa.Engine) -> str:
    target = engine.get_execution_options().get(TARGET_OPTION)
    return str(target) if target else engine.url.render_as_string(hide_password=True)


class Batch(list[Row]):
    """One page of rows, with each row's stored key (``keys[i]`` belongs to ``self[i]``)."""

    def __init__(self, rows: list[Row], keys: list[StoredKey]) -> None:
        super().__init__(rows)
        self.keys = keys


@dataclass(frozen=True)
class CursorMax:
    """The highest cursor value: as stored (to bound a read exactly) and typed (watermark)."""

    stored: Any
    value: Any


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
    if engine.dialect.name == "oracle":
        # An Oracle URL (not the pooled ORACLE_* settings): fix the session the same way.
        sa.event.listen(engine, "connect", lambda connection, _: set_session(connection))
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
        self.selectable = selectable if selectable is not None else _selectable(engine, index)
        self.columns: tuple[str, ...] = tuple(c.name for c in self.selectable.columns)
        self._by_field = {c.name.lower(): c for c in self.selectable.columns}
        self.key_columns = tuple(self.column(name, "primary_key") for name in index.primary_key)
        self.cursor_column = self.column(index.cursor, "cursor") if index.cursor else None
        self.key_order = tuple(order_column(engine.dialect, c) for c in self.key_columns)
        self.cursor_order: OrderColumn | None = (
            order_column(engine.dialect, self.cursor_column)
            if self.cursor_column is not None
            else None
        )
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

    @classmethod
    def cached(cls, engine: sa.Engine, index: IndexConfig) -> TableSource:
        """A source whose reflection is reused for a few minutes (:data:`REFLECTION_TTL`).

        For the change sensor, which polls every few seconds: reflecting an Oracle table
        costs several dictionary queries, and its columns rarely change. A column that is
        dropped shows up as an error, after which the next tick reflects afresh.
        """
        key = (_engine_identity(engine), index.model_dump_json())
        now = time.monotonic()
        hit = _REFLECTED.get(key)
        if hit is not None and now - hit[0] < REFLECTION_TTL:
            return cls(engine, index, selectable=hit[1])
        source = cls(engine, index)
        for stale in [k for k, (at, _) in _REFLECTED.items() if now - at >= REFLECTION_TTL]:
            del _REFLECTED[stale]
        if len(_REFLECTED) < _REFLECTED_MAX:
            _REFLECTED[key] = (now, source.selectable)
        return source

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
        return TableSource(self.engine, self.index, selectable=snapshot, scn=scn)

    def change_markers_statement(self) -> sa.Select[Any]:
        """``SELECT MAX(cursor), COUNT(*)``: one cheap query for the change sensor."""
        max_cursor: sa.ColumnElement[Any] = (
            self.cursor_order.typed(sa.func.max(self.cursor_order.stored))
            if self.cursor_order is not None
            else sa.null()
        )
        return sa.select(max_cursor, sa.func.count()).select_from(self.selectable)

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

    def read_all(self, *, batch_size: int, after: StoredKey | None = None) -> Iterator[Batch]:
        """All live rows (after the stored key ``after``, if given), in batches, in key order.

        Each batch carries its rows' stored keys: a checkpoint resumes after one of them.
        """
        yield from self._keyset(
            order=self.key_order,
            page=lambda last: self.full_page(after=last, batch_size=batch_size),
            batch_size=batch_size,
            start=after,
        )

    def read_keys(self, *, batch_size: int) -> Iterator[Batch]:
        """The primary-key values of every live row, in batches, in key order."""
        yield from self._keyset(
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
        yield from self._keyset(
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

    def full_page(
        self,
        *,
        after: StoredKey | None,
        batch_size: int,
        columns: Sequence[sa.ColumnElement[Any]] | None = None,
    ) -> sa.Select[Any]:
        """One page of live rows in primary-key order, after the stored key ``after``."""
        condition = self.live_condition()
        return self._page(
            order=self.key_order,
            where=[condition] if condition is not None else [],
            after=after,
            batch_size=batch_size,
            columns=columns,
        )

    def changed_page(
        self, *, lower: Any, upper: Any, after: StoredKey | None, batch_size: int
    ) -> sa.Select[Any]:
        """One page of rows with ``lower < cursor <= upper``, in (cursor, key) order.

        ``lower`` is a typed value (a watermark), ``upper`` a stored one (see CursorMax).
        """
        if self.cursor_order is None:
            raise ConfigError(f"index {self.index.name!r}: an incremental sync needs `cursor`")
        cursor = self.cursor_order
        where: list[sa.ColumnElement[bool]] = [cursor.stored <= cursor.stored_value(upper)]
        if lower is not None:
            where.append(cursor.stored > cursor.typed_value(lower))
        return self._page(
            order=(cursor, *self.key_order),
            where=where,
            after=after,
            batch_size=batch_size,
        )

    def _page(
        self,
        *,
        order: Sequence[OrderColumn],
        where: Sequence[sa.ColumnElement[bool]],
        after: StoredKey | None,
        batch_size: int,
        columns: Sequence[sa.ColumnElement[Any]] | None = None,
    ) -> sa.Select[Any]:
        conditions = list(where)
        if after is not None:
            conditions.append(after_key(order, after))
        stored = (o.stored.label(_ORDER_LABEL.format(i)) for i, o in enumerate(order))
        selected = [self.selectable] if columns is None else list(columns)
        return (
            sa.select(*selected, *stored)
            .where(*conditions)
            .order_by(*(o.stored for o in order))
            .limit(batch_size)
        )

    def _keyset(
        self,
        *,
        order: Sequence[OrderColumn],
        page: PageFactory,
        batch_size: int,
        start: StoredKey | None = None,
        width: int | None = None,
    ) -> Iterator[Batch]:
        # Keyset pagination: each page is a short query that starts after the last row seen,
        # so no cursor stays open for the whole read (NOTE: long Oracle cursors risk
        # ORA-01555) and the rows come in a stable order. Each page row is the source row
        # followed by its stored order values (see oracle_meili.adapters.ordering).
        width = len(self.columns) if width is None else width
        last: StoredKey | None = tuple(start) if start is not None else None
        while True:
            rows = self._fetch(page(last), fetch_rows=batch_size)
            if not rows:
                return
            # (Slicing a SQLAlchemy Row gives a tuple.)
            keys: list[StoredKey] = [r[width:] for r in rows]
            if last is not None and last in (keys[0], keys[-1]):
                raise SourceError(
                    f"index {self.index.name!r}: reading {self.index.source_label} did not move "
                    f"past the key {last!r}: the database compares these values differently "
                    "from how it orders them (a linguistic NLS_SORT, or a bind type that "
                    "drops fractions); stopping rather than reading the same rows again"
                )
            yield Batch([r[:width] for r in rows], keys)
            if len(rows) < batch_size:
                return
            last = keys[-1]

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
            detail = str(e.orig).splitlines()[0] if e.orig else str(e)
            kind = _read_error_kind(e)
            raise kind(
                f"index {self.index.name!r}: reading {self.index.source_label} failed: {detail}"
            ) from e


def _read_error_kind(error: sa.exc.DBAPIError) -> type[SourceError]:
    """What a failed read means: which errors are retried, and how (see retry.py)."""
    codes = error_codes(error.orig)
    if codes & SNAPSHOT_TOO_OLD_CODES:
        return SnapshotTooOldError
    if error.connection_invalidated or (codes and source_error_is_transient(error.orig)):
        # A lost connection (the dialect recognises Oracle's DPY-4011, ORA-03113, ...) or
        # an Oracle outage code: the long backoff.
        return SourceUnavailableError
    if source_error_is_transient(error.orig):
        return SourceTransientError  # SQLite: "database is locked"
    return SourceError


def _selectable(engine: sa.Engine, index: IndexConfig) -> sa.FromClause:
    try:
        if index.table is not None:
            schema, _, name = index.table.rpartition(".")
            metadata = sa.MetaData()
            options = prepare_reflection(engine, metadata)
            return sa.Table(
                _identifier(engine, name),
                metadata,
                schema=_identifier(engine, schema) if schema else None,
                autoload_with=engine,
                # Foreign-key targets are not needed, and reflecting them costs queries.
                resolve_fks=False,
                **options,
            )
        assert index.query is not None
        # Learn the query's columns without reading a row. NOTE: a plain `1 = 0`, since
        # `WHERE false` may render as `WHERE 0` on dialects with a native boolean.
        probe: sa.Select[Any] = (
            sa.select(sa.literal_column("*"))
            .select_from(sa.text(index.query).columns().subquery("probe"))
            .where(sa.text("1 = 0"))
        )
        with engine.connect() as connection:
            result = connection.execute(probe)
            names = list(result.keys())
            description = result.cursor.description if result.cursor is not None else None
        # Typed from what the driver reports, so binds go out with the column's own type
        # (NOTE: an untyped Oracle datetime bind is a DATE and drops fractional seconds).
        types = query_column_types(engine.dialect, description, len(names))
        columns = (sa.column(n, t) for n, t in zip(names, types, strict=True))
        return sa.text(index.query).columns(*columns).subquery("src")
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
    unknown = [c.name for c in table.columns if isinstance(c.type, UNSUPPORTED_TYPES)]
    if unknown:
        raise ConfigError(
            f"index {index.name!r}: column(s) {', '.join(unknown)} of {index.table} have a type "
            "oracle-meili does not support; leave them out with a `query:`"
        )


def _identifier(engine: sa.Engine, name: str) -> str:
    """A configured table or schema name as SQLAlchemy expects it.

    NOTE: an all-lower-case name is what users type for a case-insensitive one (Oracle folds
    it to upper case). Otherwise the dialect's own normalisation applies: an upper-case name
    that needs no quotes is case-insensitive; one that does (``EMP#``, a reserved word) or a
    mixed-case one is quoted and matched exactly.
    """
    if name.islower():
        return name
    if engine.dialect.requires_name_normalize:
        return str(engine.dialect.normalize_name(name))
    return name.lower() if name.isupper() else name
