"""Learning a source's columns: a reflected table (synonyms resolved, Oracle types made
exact) or a ``query:`` typed from its cursor description; and a short-lived cache of them
for the change sensor."""

from __future__ import annotations

import time
from typing import Any

import sqlalchemy as sa

from oracle_meili.adapters.oracle import TARGET_OPTION
from oracle_meili.adapters.oracle_types import (
    UNSUPPORTED_TYPES,
    prepare_reflection,
    query_column_types,
)
from oracle_meili.config import IndexConfig
from oracle_meili.errors import ConfigError, SourceError

# The change sensor reuses a reflected table this long (seconds).
REFLECTION_TTL = 300.0
_REFLECTED_MAX = 256
# NOTE: module state on purpose: sensor ticks build new resources and engines each time.
_REFLECTED: dict[tuple[str, str], tuple[float, sa.FromClause]] = {}


def engine_identity(engine: sa.Engine) -> str:
    target = engine.get_execution_options().get(TARGET_OPTION)
    return str(target) if target else engine.url.render_as_string(hide_password=True)


def cached_selectable(engine: sa.Engine, index: IndexConfig) -> sa.FromClause:
    """:func:`reflect`, reused for :data:`REFLECTION_TTL` seconds per database and index."""
    key = (engine_identity(engine), index.model_dump_json())
    now = time.monotonic()
    hit = _REFLECTED.get(key)
    if hit is not None and now - hit[0] < REFLECTION_TTL:
        return hit[1]
    selectable = reflect(engine, index)
    for stale in [k for k, (at, _) in _REFLECTED.items() if now - at >= REFLECTION_TTL]:
        del _REFLECTED[stale]
    if len(_REFLECTED) < _REFLECTED_MAX:
        _REFLECTED[key] = (now, selectable)
    return selectable


def reflect(engine: sa.Engine, index: IndexConfig) -> sa.FromClause:
    """The index's table, reflected, or its ``query:`` as a typed subquery.

    Raises:
        ConfigError: the table does not exist or is not visible.
        SourceError: the database could not be read.
    """
    try:
        if index.table is not None:
            schema, _, name = index.table.rpartition(".")
            metadata = sa.MetaData()
            options = prepare_reflection(engine, metadata)
            return sa.Table(
                identifier(engine, name),
                metadata,
                schema=identifier(engine, schema) if schema else None,
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


def check_types(index: IndexConfig, table: sa.FromClause) -> None:
    """Fail at load time on a column whose type SQLAlchemy could not map (e.g. SDO_GEOMETRY,
    XMLTYPE): its values would have no defined document form."""
    unknown = [c.name for c in table.columns if isinstance(c.type, UNSUPPORTED_TYPES)]
    if unknown:
        raise ConfigError(
            f"index {index.name!r}: column(s) {', '.join(unknown)} of {index.table} have a type "
            "oracle-meili does not support; leave them out with a `query:`"
        )


def identifier(engine: sa.Engine, name: str) -> str:
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


def snapshot_of(engine: sa.Engine, table: sa.Table, scn: int) -> sa.Subquery:
    """``table`` as it was at ``scn``: an Oracle flashback query, typed like the table."""
    # The table name is quoted by the dialect's own preparer; the SCN is a bind variable.
    quoted = engine.dialect.identifier_preparer.format_table(table)
    return (
        sa.text(f"SELECT * FROM {quoted} AS OF SCN :snapshot_scn")
        .bindparams(snapshot_scn=scn)
        .columns(*(sa.column(c.name, c.type) for c in table.columns))
        .subquery("snapshot")
    )
