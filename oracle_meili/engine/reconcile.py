"""Hard deletes: documents whose row is gone from the source (or soft-deleted) are removed.

An incremental sync sees only rows that still exist; a row deleted outright leaves its
document behind. Reconciliation streams the index's ids, then the source's live keys (made
into ids exactly as a sync makes them), compares them in bounded memory
(:mod:`oracle_meili.engine.id_diff`), and deletes the documents found only in the index.

It never deletes a document whose row exists: the index is read before the source, so a
row that exists throughout is always found. And it refuses to delete more than
``max_delete_share`` of the index unless forced: an empty or wrongly configured source
would otherwise empty the index.
"""

from __future__ import annotations

import itertools
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from oracle_meili.adapters.backend import SearchBackend, TaskRef
from oracle_meili.adapters.keyset import Row
from oracle_meili.adapters.payloads import TaskWindow
from oracle_meili.adapters.source import TableSource
from oracle_meili.documents import DocumentShape, document_id, encode_document
from oracle_meili.engine.consistency import require_index
from oracle_meili.engine.id_diff import (
    IdPair,
    SideProgress,
    compare_ids,
    paired,
    partitions_for,
)
from oracle_meili.errors import DocumentError, SyncError

log = logging.getLogger(__name__)

ID_CHUNK = 10_000
SAMPLE = 20
_NO_FINGERPRINT = b""


class ReconcileRefusedError(SyncError):
    """Reconciliation would delete more of the index than ``max_delete_share`` allows."""


@dataclass(frozen=True)
class ReconcileResult:
    """What one reconciliation found and did."""

    index: str
    documents_checked: int
    orphans: int
    orphan_sample: tuple[Any, ...]
    deleted: bool
    task_uids: tuple[TaskRef, ...]
    duration_seconds: float


def reconcile(
    source: TableSource,
    client: SearchBackend,
    *,
    dry_run: bool = False,
    force: bool = False,
    chunk: int = ID_CHUNK,
    on_progress: SideProgress | None = None,
) -> ReconcileResult:
    """Delete the documents of ``index`` that have no live row in the source.

    With ``dry_run`` the orphans are only counted. ``on_progress(side, count)`` is called
    after each chunk of the index (``"index"``) and of the source (``"source"``).

    Raises:
        ReconcileRefusedError: more than ``index.max_delete_share`` of the documents would
            be deleted and ``force`` is not set; nothing was deleted.
    """
    started = time.monotonic()
    index = source.index
    client.check_health()
    client.prepare_writes()
    require_index(client, index.name)
    shape = source.document_shape()
    partitions = partitions_for(client.document_count(index.name))
    index_side = index_id_pairs(client, index.name, shape, chunk, on_progress)
    source_side = source_id_pairs(source, shape, chunk, on_progress)
    task_uids: list[TaskRef] = []
    with compare_ids(index_side, source_side, partitions=partitions) as diff:
        share = diff.orphans_count / diff.index_ids if diff.index_ids else 0.0
        if not dry_run and not force and diff.orphans_count and share > index.max_delete_share:
            raise ReconcileRefusedError(
                f"index {index.name!r}: reconcile would delete {diff.orphans_count} of "
                f"{diff.index_ids} documents ({share:.1%}), more than max_delete_share "
                f"({index.max_delete_share:.0%}); nothing was deleted. If the source really "
                "lost those rows, run it again forced (oracle-meili reconcile --force)"
            )
        if diff.orphans_count and not dry_run:
            window = TaskWindow(client, index.name, limit=client.config.max_tasks_in_flight)
            for ids in _chunks(diff.orphans(), ID_CHUNK):
                task_uids.append(client.delete_documents(index.name, ids))
                window.add(task_uids[-1])
            window.wait_all()
    log.info(
        "reconciled %r: %d documents checked, %d orphans %s",
        index.name,
        diff.index_ids,
        diff.orphans_count,
        "found" if dry_run else "deleted",
    )
    return ReconcileResult(
        index=index.name,
        documents_checked=diff.index_ids,
        orphans=diff.orphans_count,
        orphan_sample=tuple(diff.orphan_sample[:SAMPLE]),
        deleted=not dry_run,
        task_uids=tuple(task_uids),
        duration_seconds=time.monotonic() - started,
    )


def index_id_pairs(
    client: SearchBackend,
    uid: str,
    shape: DocumentShape,
    chunk: int,
    on_progress: SideProgress | None,
) -> Iterator[IdPair]:
    return paired(
        client.document_ids(uid, id_field=shape.id_field, chunk=chunk),
        lambda doc_id: (doc_id, _NO_FINGERPRINT),
        side="index",
        on_progress=on_progress,
    )


def source_id_pairs(
    source: TableSource, shape: DocumentShape, chunk: int, on_progress: SideProgress | None
) -> Iterator[IdPair]:
    """The document id of every live row, from its key columns alone; with a transform,
    of every live row the transform keeps (each row read whole and shaped, as a sync
    would: a document of a row it drops is an orphan)."""
    if shape.transform is not None:
        return paired(
            source.read_all(batch_size=chunk),
            lambda whole: _kept_id(shape, whole),
            side="source",
            on_progress=on_progress,
        )
    row: list[Any] = [None] * len(shape.fields)
    positions = source.key_positions

    def pair(key: Row) -> IdPair:
        for position, value in zip(positions, key, strict=True):
            row[position] = value
        return document_id(shape, row), _NO_FINGERPRINT

    return paired(source.read_keys(batch_size=chunk), pair, side="source", on_progress=on_progress)


def _kept_id(shape: DocumentShape, row: Row) -> IdPair | None:
    try:
        if encode_document(shape, row) is None:
            return None  # the transform keeps this row out of the index
    except DocumentError:
        pass  # a bad row is not the transform's to drop: its document, if any, stays
    return document_id(shape, row), _NO_FINGERPRINT


def _chunks(ids: Iterator[Any], size: int) -> Iterator[list[Any]]:
    while part := list(itertools.islice(ids, size)):
        yield part
