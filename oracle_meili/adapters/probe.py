"""The change probe of many indexes on one database in one round trip.

One ``SELECT`` of scalar subqueries, one ``MAX(cursor)`` per index, so each value keeps its
column's type (a ``UNION ALL`` would need one type for all: ORA-01790 on Oracle)::

    SELECT (SELECT MAX(UPDATED_AT) FROM PRODUCTS) AS index_0,
           (SELECT MAX(CHANGED) FROM STORES) AS index_1 FROM DUAL
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from oracle_meili.adapters.database import read
from oracle_meili.adapters.markers import ChangeMarkers
from oracle_meili.adapters.source import TableSource


def probe_statement(sources: Sequence[TableSource]) -> sa.Select[Any]:
    """Every source's highest cursor as one row (Oracle adds ``FROM DUAL`` itself)."""
    return sa.select(
        *(
            source.change_markers_statement().scalar_subquery().label(f"index_{position}")
            for position, source in enumerate(sources)
        )
    )


def change_markers_of(
    sources: Sequence[TableSource], statement: sa.Select[Any] | None = None
) -> list[ChangeMarkers]:
    """Each source's change markers, read in one statement on their (shared) engine:
    ``statement`` when the caller kept the sources' :func:`probe_statement` (building it
    is most of a probe's CPU when many indexes are probed every half second)."""
    if not sources:
        return []
    engines = {id(source.engine) for source in sources}
    if len(engines) != 1:
        raise ValueError("one probe reads one database: the sources have different engines")
    names = ", ".join(source.index.name for source in sources)
    probe = statement if statement is not None else probe_statement(sources)
    (row,) = read(sources[0].engine, probe, what=f"probing {names}")
    return [ChangeMarkers(max_cursor=value) for value in row]
