"""Hard deletes: documents whose row is gone from the source (or soft-deleted) are removed.

An incremental sync sees only rows that still exist; a row deleted outright leaves its
document behind. Reconciliation walks the index's ids a chunk at a time, asks the source
which of them are still live rows, and deletes the rest, in bounded memory.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from oracle_meili.config import IndexConfig, MeilisearchConfig
from oracle_meili.documents import decode_composite_id, document_id
from oracle_meili.meili import MeiliClient, TaskLog, TaskWindow
from oracle_meili.source import TableSource

log = logging.getLogger(__name__)

ID_CHUNK = 10_000
# NOTE: Oracle allows at most 1000 expressions in an IN list.
IN_LIST_LIMIT = 1000
SAMPLE = 20


@dataclass(frozen=True)
class ReconcileResult:
    """What one reconciliation found and did."""

    index: str
    documents_checked: int
    orphans: int
    orphan_sample: tuple[Any, ...]
    deleted: bool
    task_uids: tuple[int, ...]
    duration_seconds: float


def reconcile(
    index: IndexConfig,
    *,
    source: TableSource,
    client: MeiliClient,
    meili: MeilisearchConfig,
    dry_run: bool = False,
    chunk: int = ID_CHUNK,
) -> ReconcileResult:
    """Delete the documents of ``index`` that have no live row in the source.

    Orphans are collected first and deleted after the walk (deleting while paging by
    offset would skip ids); with ``dry_run`` they are only counted.
    """
    started = time.monotonic()
    client.check_health()
    shape = source.document_shape()
    checked = 0
    orphans: list[Any] = []
    for ids in client.document_ids(index.name, id_field=shape.id_field, chunk=chunk):
        checked += len(ids)
        live = _live_ids(source, ids)
        orphans += [i for i in ids if i not in live]
    tasks = TaskLog()
    if orphans and not dry_run:
        window = TaskWindow(client, index.name, limit=meili.max_tasks_in_flight, log=tasks)
        for start in range(0, len(orphans), ID_CHUNK):
            window.add(client.delete_documents(index.name, orphans[start : start + ID_CHUNK]))
        window.wait_all()
    log.info(
        "reconciled %r: %d documents checked, %d orphans %s",
        index.name,
        checked,
        len(orphans),
        "found" if dry_run else "deleted",
    )
    return ReconcileResult(
        index=index.name,
        documents_checked=checked,
        orphans=len(orphans),
        orphan_sample=tuple(orphans[:SAMPLE]),
        deleted=not dry_run,
        task_uids=tuple(tasks.uids),
        duration_seconds=time.monotonic() - started,
    )


def _live_ids(source: TableSource, ids: Sequence[Any]) -> set[Any]:
    """Which of these document ids belong to live rows of the source."""
    shape = source.document_shape()
    live_only = source.live_condition()
    live: set[Any] = set()
    row_template: list[Any] = [None] * len(source.columns)
    for condition in key_condition(source, ids):
        statement = sa.select(*source.key_columns).where(
            condition, *([live_only] if live_only is not None else [])
        )
        for key_row in source.fetch(statement):
            row = list(row_template)
            for position, value in zip(source.key_positions, key_row, strict=True):
                row[position] = value
            live.add(document_id(shape, row))
    return live


def key_condition(source: TableSource, ids: Sequence[Any]) -> Iterator[sa.ColumnElement[bool]]:
    """Conditions selecting the rows with these document ids, at most 1000 ids each."""
    keys = source.key_columns
    for start in range(0, len(ids), IN_LIST_LIMIT):
        part = ids[start : start + IN_LIST_LIMIT]
        if len(keys) == 1:
            yield keys[0].in_([_coerce(keys[0], i) for i in part])
            continue
        yield sa.or_(
            *(
                sa.and_(
                    *(
                        column == _coerce(column, text)
                        for column, text in zip(keys, decode_composite_id(i), strict=True)
                    )
                )
                for i in part
            )
        )


def _coerce(column: sa.ColumnElement[Any], value: Any) -> Any:
    """A document id (or a decoded part of one) as a value of the key column's type."""
    if not isinstance(value, str):
        return value
    try:
        python_type = column.type.python_type
    except NotImplementedError:
        return value
    if python_type is int:
        return int(value)
    if python_type is Decimal:
        return Decimal(value)
    if python_type is dt.datetime:
        return dt.datetime.fromisoformat(value)
    if python_type is dt.date:
        return dt.date.fromisoformat(value)
    return value
