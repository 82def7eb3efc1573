"""Document tasks in flight, and NDJSON payloads built in one reused buffer."""

from __future__ import annotations

import mmap
from dataclasses import dataclass
from typing import TYPE_CHECKING, Generic, TypeVar, cast

if TYPE_CHECKING:
    from oracle_meili.adapters.backend import SearchBackend, TaskRef

Tag = TypeVar("Tag")


@dataclass(frozen=True)
class DoneTask:
    """A task Meilisearch finished successfully, and the documents it really deleted
    (``deletedDocuments``: an id that was never indexed deletes nothing)."""

    uid: TaskRef
    deleted: int


class TaskWindow:
    """Keeps at most ``limit`` tasks in flight: enqueueing more first waits for the oldest."""

    def __init__(self, client: SearchBackend, index: str, *, limit: int) -> None:
        self._client = client
        self._index = index
        self._limit = limit
        self._pending: list[TaskRef] = []

    @property
    def in_flight(self) -> int:
        return len(self._pending)

    def add(self, task_uid: TaskRef) -> list[DoneTask]:
        """Enqueue ``task_uid``; returns the tasks that had to finish to make room.

        Raises:
            MeilisearchTaskError: a task failed.
        """
        self._pending.append(task_uid)
        done = []
        while len(self._pending) > self._limit:
            done.append(self._wait_oldest())
        return done

    def wait_all(self) -> list[DoneTask]:
        """Wait for every task in flight, oldest first."""
        done = []
        while self._pending:
            done.append(self._wait_oldest())
        return done

    def _wait_oldest(self) -> DoneTask:
        # Tasks of one index succeed in the order they were enqueued, so "done" here means
        # every earlier task is done too.
        task_uid = self._pending.pop(0)
        details = self._client.wait(task_uid, self._index)
        return DoneTask(task_uid, int(details.get("deletedDocuments") or 0))


@dataclass(frozen=True)
class Payload(Generic[Tag]):
    """One NDJSON payload (a view of the shared buffer), how many documents it holds, and
    the tags of its first and last lines (a full sync's stored keys)."""

    data: memoryview
    documents: int
    first: Tag
    last: Tag


class PayloadBuffer(Generic[Tag]):
    """Groups tagged NDJSON lines (one document each) into payloads of at most ``max_bytes``.

    For each line the caller asks :meth:`full_before` first, sends the payload it returns
    (if any), then :meth:`append`\\ s the line; :meth:`rest` is the last payload. Each payload
    names the tags it starts and ends with, so the caller knows exactly which rows a task
    carried.

    With ``first_bytes``, payload sizes ramp up from it, doubling up to ``max_bytes``: the
    first task reaches Meilisearch, which starts indexing, a moment after the read starts,
    while the larger payloads that follow queue up and are indexed together.

    Every payload is a view of one buffer, allocated once and reused, so the caller must
    send each payload before adding the next line. Memory is bounded by ``max_bytes`` (the
    buffer's pages are only touched as far as payloads reach), and reuse avoids the heap
    fragmentation that a new buffer per payload causes (the RSS of a million-row sync more
    than doubles). A line larger than ``max_bytes`` is a payload alone; Meilisearch then
    rejects it with a clear error.

    NOTE: payloads are complete in memory before they are sent. A streamed (chunked) upload
    is not an option: when the producer fails half way, the HTTP client still ends the body
    cleanly and Meilisearch enqueues the partial payload, so a failed sync would have
    changed the live index.
    """

    def __init__(self, *, max_bytes: int, first_bytes: int | None = None) -> None:
        # An anonymous mapping: the kernel hands out zeroed pages only as they are written,
        # so a small sync never touches most of it (bytearray(max_bytes) would zero it all).
        self._view = memoryview(mmap.mmap(-1, max_bytes))
        self._max = max_bytes
        self._limit = min(first_bytes or max_bytes, max_bytes)
        self._size = self._documents = 0
        self._first: Tag | None = None
        self._last: Tag | None = None

    def full_before(self, length: int) -> Payload[Tag] | None:
        """The payload so far, when a line of ``length`` bytes would not fit in it."""
        if self._size and self._size + length > self._limit:
            payload = self.rest()
            self._limit = min(self._limit * 2, self._max)
            return payload
        return None

    def append(self, tag: Tag, line: bytes) -> Payload[Tag] | None:
        """Add one line; a line over ``max_bytes`` is returned as a payload of its own."""
        if len(line) > self._max:
            return Payload(memoryview(line), 1, tag, tag)
        self._view[self._size : self._size + len(line)] = line
        if self._documents == 0:
            self._first = tag
        self._last = tag
        self._size += len(line)
        self._documents += 1
        return None

    def rest(self) -> Payload[Tag] | None:
        """The lines added since the last payload, as one (None when there are none)."""
        if not self._size:
            return None
        first, last = cast(Tag, self._first), cast(Tag, self._last)
        payload = Payload(self._view[: self._size], self._documents, first, last)
        self._size = self._documents = 0
        self._first = self._last = None
        return payload
