"""Keyset pagination: short page statements, each starting after the last row seen.

No cursor stays open for the whole read (NOTE: long Oracle cursors risk ORA-01555), the
rows come in a stable order, and every comparison is on stored values
(:mod:`~oracle_meili.adapters.ordering`). A page that does not move forward stops the read.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

import sqlalchemy as sa

from oracle_meili.adapters.ordering import OrderColumn, after_key
from oracle_meili.errors import SourceError

Row = Sequence[Any]
# A row's key (or cursor and key) values as the database stores them: where to resume after it.
StoredKey = tuple[Any, ...]
PageFactory = Callable[[StoredKey | None], sa.Select[Any]]
# Labels of the stored order values a page selects after the row's own columns.
_ORDER_LABEL = "om_order_{}"


class Batch(list[Row]):
    """One page of rows, with each row's stored key (``keys[i]`` belongs to ``self[i]``)."""

    def __init__(self, rows: list[Row], keys: list[StoredKey]) -> None:
        super().__init__(rows)
        self.keys = keys


Fetch = Callable[[sa.Select[Any], int], Sequence[Any]]


def page_statement(
    selectable: sa.FromClause,
    *,
    order: Sequence[OrderColumn],
    where: Sequence[sa.ColumnElement[bool]],
    after: StoredKey | None,
    batch_size: int,
    columns: Sequence[sa.ColumnElement[Any]] | None = None,
) -> sa.Select[Any]:
    """One keyset page: rows after the stored key ``after``, in ``order``, with the stored
    order values selected after the row's own columns (labelled ``om_order_<n>``)."""
    conditions = list(where)
    if after is not None:
        conditions.append(after_key(order, after))
    stored = (o.stored.label(_ORDER_LABEL.format(i)) for i, o in enumerate(order))
    selected = [selectable] if columns is None else list(columns)
    return (
        sa.select(*selected, *stored)
        .where(*conditions)
        .order_by(*(o.stored for o in order))
        .limit(batch_size)
    )


def keyset_batches(
    fetch: Fetch,
    *,
    page: PageFactory,
    batch_size: int,
    width: int,
    what: str,
    start: StoredKey | None = None,
) -> Iterator[Batch]:
    """Every row, a page at a time, each page starting after the last stored key seen.

    ``fetch(statement, rows)`` runs one page; ``width`` is the number of the row's own
    columns (the stored order values follow them); ``what`` starts an error message.

    Raises:
        SourceError: a page did not move past the previous page's last key.
    """
    # Keyset pagination: each page is a short query that starts after the last row seen,
    # so no cursor stays open for the whole read (NOTE: long Oracle cursors risk
    # ORA-01555) and the rows come in a stable order. Each page row is the source row
    # followed by its stored order values (see oracle_meili.adapters.ordering).
    last: StoredKey | None = tuple(start) if start is not None else None
    while True:
        rows = fetch(page(last), batch_size)
        if not rows:
            return
        batch = split_page(rows, width)
        check_moved(last, batch.keys, what=what)
        yield batch
        if len(rows) < batch_size:
            return
        last = batch.keys[-1]


def split_page(rows: Sequence[Row], width: int) -> Batch:
    """A fetched page as a batch: each row's own columns, and its stored key after them."""
    # (Slicing a SQLAlchemy Row gives a tuple.)
    return Batch([r[:width] for r in rows], [tuple(r[width:]) for r in rows])


def check_moved(last: StoredKey | None, keys: Sequence[StoredKey], *, what: str) -> None:
    """Stop a read whose page did not move past the previous page's last key.

    Raises:
        SourceError: it did not.
    """
    if last is not None and keys and last in (keys[0], keys[-1]):
        raise SourceError(
            f"{what} did not move past the key {last!r}: the database compares these "
            "values differently from how it orders them (a linguistic NLS_SORT, or a bind "
            "type that drops fractions); stopping rather than reading the same rows again"
        )
