"""Keyset pages fetched as Arrow tables: the columnar read path's fetch.

The page statements are the row path's own (:mod:`oracle_meili.adapters.keyset`), compiled
by SQLAlchemy with its bind processors applied, so the SQL, the binds and the order are the
same; only the driver differs. SQLite is read through the ADBC driver (one connection per
sync, read-only). Other sources have no Arrow fetch here and take the row path.

NOTE: python-oracledb's ``Connection.fetch_df_batches`` is the Oracle equivalent; it is not
wired in yet because its conversions (DATE/TIMESTAMP zones, NUMBER to decimal or double,
TIMESTAMP WITH TIME ZONE offsets) could not be checked against a live server here.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

if TYPE_CHECKING:
    import pyarrow as pa


# The ADBC SQLite driver's rows per Arrow batch (its type inference looks at one batch).
_BATCH_ROWS = "adbc.sqlite.query.batch_rows"


class ArrowFetchError(Exception):
    """The driver could not give this page as Arrow (the row path reads it)."""


class ArrowPages:
    """Runs page statements on one SQLite database through ADBC."""

    def __init__(self, engine: sa.Engine) -> None:
        import adbc_driver_sqlite.dbapi

        database = engine.url.database
        assert database, "only file databases have an Arrow fetch"
        self.dialect = engine.dialect
        # Read-only: the columnar path only ever reads.
        self._connection = adbc_driver_sqlite.dbapi.connect(f"file:{database}?mode=ro")

    @classmethod
    def for_engine(cls, engine: sa.Engine) -> ArrowPages | None:
        """An Arrow fetch for this source, or None when it has none (then: the row path)."""
        database = engine.url.database
        if engine.dialect.name != "sqlite" or not database or database == ":memory:":
            return None
        try:
            return cls(engine)
        except Exception:  # no driver, or no such file: the row path says what is wrong
            return None

    def fetch(self, statement: sa.Select[Any], *, rows: int) -> pa.Table:
        """One page of at most ``rows`` rows, as SQLAlchemy would run it, as an Arrow table.

        The driver infers each column's type from the values of its first batch: one batch
        per page, so a page that starts with NULLs is typed by the values after them.

        Raises:
            ArrowFetchError: the driver could not read the page (for instance, values of two
                storage classes in one column): the caller reads it on the row path.
        """
        sql, parameters = self.compile(statement)
        cursor = self._connection.cursor()
        try:
            cursor.adbc_statement.set_options(**{_BATCH_ROWS: str(max(rows, 1))})
            cursor.execute(sql, parameters)
            return cursor.fetch_arrow_table()
        except Exception as e:  # ADBC raises its own DB-API errors and OSError
            raise ArrowFetchError(f"Arrow fetch failed: {e}") from e
        finally:
            cursor.close()

    def compile(self, statement: sa.Select[Any]) -> tuple[str, Sequence[Any]]:
        """The statement's SQL and its positional binds, through SQLAlchemy's bind processors
        (a DateTime bound as SQLAlchemy stores it, for instance)."""
        compiled = statement.compile(dialect=self.dialect)
        values = compiled.construct_params()
        # NOTE: _bind_processors is SQLAlchemy's own per-bind conversion (no public accessor);
        # the columnar property tests fail if it ever stops matching the row path.
        processors: dict[str, Any] = dict(compiled._bind_processors)
        names = compiled.positiontup or []
        parameters = [
            processors[name](values[name]) if name in processors else values[name] for name in names
        ]
        return str(compiled), parameters

    def close(self) -> None:
        self._connection.close()
