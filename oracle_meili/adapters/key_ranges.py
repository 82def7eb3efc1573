"""Key ranges: a table's live rows cut into slices of nearly equal size, by primary key.

The boundaries are the stored keys of the rows at ranks ``count * i / n`` in key order,
found with ``ROW_NUMBER() OVER (ORDER BY key)`` in one statement (Oracle, PostgreSQL and
SQLite all have it). They are exact quantiles of the whole key, not of its leading column
only: a leading column full of ties still splits evenly, and each row falls in exactly one
range, since the stored key order is total. Finding them costs one ordered scan of the
key's index (on Oracle, usually an index full scan with no sort), well under what reading
the rows costs.

A range is ``after < key <= upto``; the first has no ``after``, the last no ``upto``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from oracle_meili.adapters.keyset import StoredKey
from oracle_meili.adapters.ordering import OrderColumn

if TYPE_CHECKING:
    from oracle_meili.adapters.source import TableSource

_KEY_LABEL = "om_key_{}"
_RANK_LABEL = "om_rank"


@dataclass(frozen=True)
class KeyRange:
    """The rows with ``after < key <= upto`` (an open end when None), as stored keys."""

    after: StoredKey | None
    upto: StoredKey | None


def boundary_ranks(rows: int, slices: int) -> list[int]:
    """The 1-based ranks whose keys end each range but the last: ``ceil(rows * i / n)``.

    Fewer ranges than asked when there are fewer rows than slices (never an empty range)."""
    ranks = sorted({-(-rows * i // slices) for i in range(1, slices)})
    return [rank for rank in ranks if 1 <= rank < rows]


def boundaries_statement(
    selectable: sa.FromClause,
    *,
    order: Sequence[OrderColumn],
    where: Sequence[sa.ColumnElement[bool]],
    ranks: Sequence[int],
) -> sa.Select[Any]:
    """The stored keys of the rows at ``ranks`` (1-based, in key order), in key order."""
    ranked = (
        sa.select(
            *(o.stored.label(_KEY_LABEL.format(i)) for i, o in enumerate(order)),
            sa.func.row_number().over(order_by=[o.stored for o in order]).label(_RANK_LABEL),
        )
        .select_from(selectable)
        .where(*where)
        .subquery("om_ranked")
    )
    rank = ranked.c[_RANK_LABEL]
    return (
        sa.select(*(ranked.c[_KEY_LABEL.format(i)] for i in range(len(order))))
        .where(rank.in_(list(ranks)))
        .order_by(rank)
    )


def key_ranges(source: TableSource, slices: int) -> list[KeyRange]:
    """The source's live rows as up to ``slices`` key ranges of nearly equal row counts.

    One COUNT and one ranking statement; one range (the whole table) when ``slices`` is 1
    or the table has fewer than two rows."""
    ranks = boundary_ranks(source.count_live(), slices) if slices > 1 else []
    if not ranks:
        return [KeyRange(None, None)]
    statement = boundaries_statement(
        source.selectable,
        order=source.key_order,
        where=source.live_conditions(),
        ranks=ranks,
    )
    bounds = [tuple(row) for row in source.fetch(statement)]
    return ranges_between(bounds)


def ranges_between(bounds: Sequence[StoredKey]) -> list[KeyRange]:
    """The ranges that ``bounds`` (ascending stored keys) cut the whole key order into."""
    ends: list[StoredKey | None] = [*bounds, None]
    starts: list[StoredKey | None] = [None, *bounds]
    return [KeyRange(after, upto) for after, upto in zip(starts, ends, strict=True)]
