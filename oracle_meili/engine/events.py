"""What a sync's pipeline reports as it runs, and the one place those reports are counted.

The page loop, the encoder, the writer and the checkpoint tracker each yield typed events;
:func:`drain` runs the pipeline and folds every event into a :class:`Tally`, from which the
:class:`~oracle_meili.engine.result.SyncResult` is made. Nothing else keeps a count.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from oracle_meili.adapters.backend import TaskRef
from oracle_meili.engine.checkpoint import FullSyncCheckpoint
from oracle_meili.engine.result import ProgressCallback
from oracle_meili.errors import DocumentError

log = logging.getLogger(__name__)
# How many skipped rows a result lists in detail (all of them are counted).
SKIPPED_SAMPLE = 100


@dataclass(frozen=True)
class PageRead:
    """One keyset page came back from the source."""

    rows: int


@dataclass(frozen=True)
class RowSkipped:
    """A row that cannot become a document, left out under ``on_bad_row: skip``."""

    error: DocumentError

    def describe(self) -> dict[str, Any]:
        key = self.error.key
        return {
            "key": key if isinstance(key, int | str) else repr(key),
            "column": self.error.column,
            "error": str(self.error),
        }


@dataclass(frozen=True)
class PayloadSent:
    """A payload of documents was enqueued as one task: its rows, first key to last key."""

    task_uid: TaskRef
    number: int
    documents: int
    first_key: tuple[Any, ...]
    last_key: tuple[Any, ...]

    def describe(self) -> str:
        first = self.first_key[0] if len(self.first_key) == 1 else self.first_key
        last = self.last_key[0] if len(self.last_key) == 1 else self.last_key
        return f"batch {self.number} ({self.documents} documents, keys {first!r} to {last!r})"


@dataclass(frozen=True)
class DeletionSent:
    """Ids to delete were enqueued as one task."""

    task_uid: TaskRef
    ids: int


@dataclass(frozen=True)
class TaskSucceeded:
    """Meilisearch finished a task; ``deleted`` documents it really deleted."""

    task_uid: TaskRef
    deleted: int = 0


@dataclass(frozen=True)
class Checkpointed:
    """A full sync's resumable progress, after an acknowledged payload."""

    checkpoint: FullSyncCheckpoint


SyncEvent = PageRead | RowSkipped | PayloadSent | DeletionSent | TaskSucceeded | Checkpointed


@dataclass
class Tally:
    """Everything a sync did, counted from its events."""

    rows_read: int = 0
    documents_sent: int = 0
    documents_deleted: int = 0
    rows_skipped: int = 0
    skipped_sample: list[dict[str, Any]] = field(default_factory=list)
    task_uids: list[TaskRef] = field(default_factory=list)

    def add(self, event: SyncEvent) -> None:
        match event:
            case PageRead(rows=rows):
                self.rows_read += rows
            case RowSkipped():
                self.rows_skipped += 1
                if len(self.skipped_sample) < SKIPPED_SAMPLE:
                    self.skipped_sample.append(event.describe())
                log.warning("skipping a row (on_bad_row: skip): %s", event.error)
            case PayloadSent(task_uid=uid, documents=documents):
                self.task_uids.append(uid)
                self.documents_sent += documents
            case DeletionSent(task_uid=uid):
                self.task_uids.append(uid)
            case TaskSucceeded(deleted=deleted):
                self.documents_deleted += deleted
            case Checkpointed():
                pass


def drain(
    events: Iterable[SyncEvent],
    tally: Tally,
    *,
    on_progress: ProgressCallback | None = None,
    on_checkpoint: Callable[[FullSyncCheckpoint], None] | None = None,
) -> Tally:
    """Run the pipeline to its end, folding each event into ``tally``.

    ``on_progress`` hears the rows read so far after each page; ``on_checkpoint`` each
    checkpoint, as soon as its payload is acknowledged.
    """
    for event in events:
        tally.add(event)
        if isinstance(event, PageRead) and on_progress is not None:
            on_progress(tally.rows_read)
        elif isinstance(event, Checkpointed) and on_checkpoint is not None:
            on_checkpoint(event.checkpoint)
    return tally
