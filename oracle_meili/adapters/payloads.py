"""Document tasks in flight, and NDJSON payloads built in one reused buffer."""

from __future__ import annotations

import mmap
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Generic, TypeVar, cast

if TYPE_CHECKING:
    from oracle_meili.adapters.meili import MeiliClient

Tag = TypeVar("Tag")


@dataclass
class TaskLog:
    """The uids of every task a sync enqueued, in order (reported in metadata)."""

    uids: list[int] = field(default_factory=list)
    # Documents Meilisearch really deleted (its tasks' ``deletedDocuments``), which is not
    # the number of ids asked for: an id that was never indexed deletes nothing.
    deleted: int = 0


class TaskWindow:
    """Keeps at most ``limit`` tasks in flight: enqueueing more first waits for the oldest."""

    def __init__(
        self,
        client: MeiliClient,
        index: str,
        *,
        limit: int,
        log: TaskLog,
        on_done: Callable[[int], None] | None = None,
    ) -> None:
        self._client = client
        self._index = index
        self._limit = limit
        self._pending: list[int] = []
        self._log = log
        self._on_done = on_done

    def add(self, task_uid: int) -> None:
        self._log.uids.append(task_uid)
        self._pending.append(task_uid)
        while len(self._pending) > self._limit:
            self._wait_oldest()

    def wait_all(self) -> None:
        while self._pending:
            self._wait_oldest()

    def _wait_oldest(self) -> None:
        # Tasks of one index succeed in the order they were enqueued, so "done" here means
        # every earlier task is done too.
        task_uid = self._pending.pop(0)
        details = self._client.wait(task_uid, self._index)
        self._log.deleted += int(details.get("deletedDocuments") or 0)
        if self._on_done is not None:
            self._on_done(task_uid)


@dataclass(frozen=True)
class Payload(Generic[Tag]):
    """One NDJSON payload (a view of the shared buffer), how many documents it holds, and
    the tags of its first and last lines (a full sync's stored keys)."""

    data: memoryview
    documents: int
    first: Tag
    last: Tag


def ndjson_payloads(
    lines: Iterable[tuple[Tag, bytes]], *, max_bytes: int, first_bytes: int | None = None
) -> Iterator[Payload[Tag]]:
    """Group tagged NDJSON lines (one document each) into payloads of at most ``max_bytes``.

    Each payload says which tags it starts and ends with, so the caller knows exactly which
    rows a task carried.

    With ``first_bytes``, payload sizes ramp up from it, doubling up to ``max_bytes``: the
    first task reaches Meilisearch, which starts indexing, a moment after the read starts,
    while the larger payloads that follow queue up and are indexed together.

    Every payload is a view of one buffer, allocated once and reused, so the caller must
    send each payload before asking for the next. Memory is bounded by ``max_bytes`` (the
    buffer's pages are only touched as far as payloads reach), and reuse avoids the heap
    fragmentation that growing and freeing a new buffer per payload caused (the RSS of a
    million-row sync more than doubled). A line larger than ``max_bytes`` is sent alone;
    Meilisearch then rejects it with a clear error.

    NOTE: payloads are complete in memory before they are sent. A streamed (chunked) upload
    is not an option: when the producer fails half way, the HTTP client still ends the body
    cleanly and Meilisearch enqueues the partial payload, so a failed sync would have
    changed the live index.
    """
    # An anonymous mapping: the kernel hands out zeroed pages only as they are written, so a
    # small sync never touches most of it (bytearray(max_bytes) would zero-fill it all).
    buffer = mmap.mmap(-1, max_bytes)
    view = memoryview(buffer)
    limit = min(first_bytes or max_bytes, max_bytes)
    size = documents = 0
    first: Tag | None = None
    last: Tag | None = None
    for tag, line in lines:
        length = len(line)
        if size and size + length > limit:
            yield Payload(view[:size], documents, cast(Tag, first), cast(Tag, last))
            size = documents = 0
            limit = min(limit * 2, max_bytes)
        if length > max_bytes:
            yield Payload(memoryview(line), 1, tag, tag)
            continue
        view[size : size + length] = line
        if documents == 0:
            first = tag
        last = tag
        size += length
        documents += 1
    if size:
        yield Payload(view[:size], documents, cast(Tag, first), cast(Tag, last))
    # The mapping is unmapped when the last view of it is dropped (the caller may still hold
    # the final payload here, so it is not closed explicitly).
