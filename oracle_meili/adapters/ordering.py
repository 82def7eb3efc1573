"""Key and cursor order: every comparison is made on the value as the database stores it.

Keyset pagination reads "the rows after the last one seen". It reads every row exactly once
only if the ORDER BY and the ``>`` / ``=`` comparisons see the very values the database
stores and orders, and the last row's values are bound back unchanged. Per dialect:

- SQLite has no date/time or decimal storage: it keeps text, integers and REALs. SQLAlchemy
  re-formats a bound ``datetime`` as ``'YYYY-MM-DD HH:MM:SS.ffffff'``, which never equals a
  stored ``'YYYY-MM-DD HH:MM:SS'``. So the stored value itself is selected beside the row and
  bound back raw, without any type processing.
- Oracle ``TIMESTAMP WITH (LOCAL) TIME ZONE``: python-oracledb returns the wall-clock value
  with the zone dropped, and a naive bind is read in the session time zone. So such columns
  are selected, ordered and compared as UTC instants (``SYS_EXTRACT_UTC``).
- Everything else: the column itself, bound with its own type, so that the dialect binds
  Oracle ``DATE`` as ``DATE`` and ``TIMESTAMP`` as ``TIMESTAMP`` (no implicit conversion
  of the column, no lost fractions).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import oracle

# A type with no bind or result processing: values go to and come from the driver as they are.
STORED_AS_IS = sa.types.NullType()


@dataclass(frozen=True)
class OrderColumn:
    """One key or cursor column as it is ordered and compared.

    ``stored`` is what the page selects, orders by and compares; ``value_type`` is the type
    of the column's typed values (a watermark, a count bound), bound against ``stored``.
    """

    column: sa.ColumnElement[Any]
    stored: sa.ColumnElement[Any]
    value_type: sa.types.TypeEngine[Any]

    def stored_value(self, value: Any) -> sa.BindParameter[Any]:
        """A value read from :attr:`stored`, bound back unchanged."""
        return sa.bindparam(self._name, value, type_=self.stored.type, unique=True)

    def typed_value(self, value: Any) -> sa.BindParameter[Any]:
        """A typed value (e.g. a watermark) bound as the column's own type."""
        return sa.bindparam(self._name, value, type_=self.value_type, unique=True)

    @property
    def _name(self) -> str:
        # Named after the column, so that logged statements read well (:updated_at_1).
        return str(getattr(self.column, "name", None) or "value")

    def typed(self, expression: sa.ColumnElement[Any]) -> sa.ColumnElement[Any]:
        """``expression`` over :attr:`stored` read back as a typed value."""
        return sa.type_coerce(expression, self.value_type)


def order_column(dialect: sa.Dialect, column: sa.ColumnElement[Any]) -> OrderColumn:
    """How ``column`` is ordered and compared on ``dialect`` (see the module docstring)."""
    if dialect.name == "sqlite":
        return OrderColumn(column, sa.type_coerce(column, STORED_AS_IS), column.type)
    if dialect.name == "oracle" and has_time_zone(column.type):
        utc_type = oracle.TIMESTAMP()
        return OrderColumn(column, sa.func.sys_extract_utc(column, type_=utc_type), utc_type)
    return OrderColumn(column, column, column.type)


def has_time_zone(type_: sa.types.TypeEngine[Any]) -> bool:
    """TIMESTAMP WITH TIME ZONE or WITH LOCAL TIME ZONE."""
    return isinstance(type_, sa.DateTime) and bool(
        type_.timezone or getattr(type_, "local_timezone", False)
    )


def after_key(order: Sequence[OrderColumn], last: Sequence[Any]) -> sa.ColumnElement[bool]:
    """``(a, b, c) > (x, y, z)`` on stored values, for the next keyset page.

    Spelled out, since Oracle has no row-value comparison, and led by ``a >= x``: an OR is no
    index access predicate, the leading conjunct lets an index on ``a`` serve every page.
    """
    expanded = _expanded(order, last)
    if len(order) == 1:
        return expanded
    return sa.and_(order[0].stored >= order[0].stored_value(last[0]), expanded)


def at_most_key(order: Sequence[OrderColumn], upto: Sequence[Any]) -> sa.ColumnElement[bool]:
    """``(a, b, c) <= (x, y, z)`` on stored values: the end of a key range.

    Led by ``a <= x`` for the same reason :func:`after_key` is led by ``a >= x``."""
    head = order[0].stored <= order[0].stored_value(upto[0])
    if len(order) == 1:
        return head
    return sa.and_(head, sa.not_(_expanded(order, upto)))


def _expanded(order: Sequence[OrderColumn], last: Sequence[Any]) -> sa.ColumnElement[bool]:
    head, value = order[0], order[0].stored_value(last[0])
    greater: sa.ColumnElement[bool] = head.stored > value
    if len(order) == 1:
        return greater
    return sa.or_(greater, sa.and_(head.stored == value, _expanded(order[1:], last[1:])))
