"""The two page statements of a source (:class:`~oracle_meili.adapters.source.TableSource`):
live rows in key order, and changed rows in (cursor, key) order. Each is one keyset page
built with SQLAlchemy Core (:func:`~oracle_meili.adapters.keyset.page_statement`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from oracle_meili.adapters.keyset import StoredKey, page_statement
from oracle_meili.adapters.ordering import OrderColumn, at_most_key
from oracle_meili.config import IndexConfig
from oracle_meili.errors import ConfigError


class SourcePages:
    """The page statements of a source; the source provides what they read."""

    index: IndexConfig
    selectable: sa.FromClause
    key_order: tuple[OrderColumn, ...]
    cursor_order: OrderColumn | None

    def live_conditions(self) -> list[sa.ColumnElement[bool]]:
        raise NotImplementedError

    def full_page(
        self,
        *,
        after: StoredKey | None,
        batch_size: int,
        upto: StoredKey | None = None,
        columns: Sequence[sa.ColumnElement[Any]] | None = None,
    ) -> sa.Select[Any]:
        """One page of live rows in primary-key order, after the stored key ``after`` (and
        up to ``upto``: the end of a key range)."""
        where = self.live_conditions()
        if upto is not None:
            where.append(at_most_key(self.key_order, upto))
        return page_statement(
            self.selectable,
            order=self.key_order,
            where=where,
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
        return page_statement(
            self.selectable,
            order=(cursor, *self.key_order),
            where=where,
            after=after,
            batch_size=batch_size,
        )
