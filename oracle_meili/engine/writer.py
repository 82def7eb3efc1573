"""Documents into one Meilisearch index: payloads, deletions and the tasks in flight.

:class:`DocumentWriter` is the last stage of a sync's pipeline: it takes NDJSON lines
tagged with their rows' stored keys, one at a time, and returns what it did as events (a
payload sent, a task succeeded). A failed task raises, naming the payload it carried.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from oracle_meili.adapters.backend import SearchBackend, TaskRef
from oracle_meili.adapters.keyset import StoredKey
from oracle_meili.adapters.payloads import DoneTask, Payload, PayloadBuffer, TaskWindow
from oracle_meili.documents import DocumentId
from oracle_meili.engine.events import DeletionSent, PayloadSent, SyncEvent, TaskSucceeded
from oracle_meili.errors import MeilisearchTaskError

_NOTHING: tuple[SyncEvent, ...] = ()


class DocumentWriter:
    """Sends documents to index ``uid`` with at most ``max_tasks_in_flight`` tasks queued."""

    def __init__(
        self, client: SearchBackend, uid: str, *, id_field: str, first_bytes: int | None = None
    ) -> None:
        self._client = client
        self._uid = uid
        self._id_field = id_field
        settings = client.config
        self._buffer: PayloadBuffer[StoredKey] = PayloadBuffer(
            max_bytes=settings.max_payload_bytes, first_bytes=first_bytes
        )
        self._window = TaskWindow(client, uid, limit=settings.max_tasks_in_flight)
        self._payloads: dict[TaskRef, PayloadSent] = {}

    def add(self, key: StoredKey, line: bytes) -> Sequence[SyncEvent]:
        """Add one document; when a payload fills up it is sent at once.

        Returns what that did (usually nothing)."""
        events: list[SyncEvent] = []
        full = self._buffer.full_before(len(line))
        if full is not None:
            events += self._send(full)
        oversized = self._buffer.append(key, line)
        if oversized is not None:
            events += self._send(oversized)
        return events or _NOTHING

    def delete(self, ids: Sequence[DocumentId]) -> list[SyncEvent]:
        """Delete documents by id (one task)."""
        uid = self._client.delete_documents(self._uid, list(ids))
        return [DeletionSent(uid, len(ids)), *self._finished(lambda: self._window.add(uid))]

    def finish(self) -> list[SyncEvent]:
        """Send what is left and wait for every task."""
        rest = self._buffer.rest()
        events = self._send(rest) if rest is not None else []
        return events + self._finished(self._window.wait_all)

    def _send(self, payload: Payload[StoredKey]) -> list[SyncEvent]:
        uid = self._client.add_documents(self._uid, payload.data, primary_key=self._id_field)
        sent = PayloadSent(
            task_uid=uid,
            number=len(self._payloads) + 1,
            documents=payload.documents,
            first_key=payload.first,
            last_key=payload.last,
        )
        self._payloads[uid] = sent
        return [sent, *self._finished(lambda: self._window.add(uid))]

    def _finished(self, wait: Callable[[], list[DoneTask]]) -> list[SyncEvent]:
        try:
            done = wait()
        except MeilisearchTaskError as e:
            raise self._name_the_batch(e) from e
        return [TaskSucceeded(task.uid, task.deleted) for task in done]

    def _name_the_batch(self, error: MeilisearchTaskError) -> MeilisearchTaskError:
        """A failed document task, naming the payload it carried."""
        sent = self._payloads.get(error.task_uid)
        if sent is None:
            return error
        return MeilisearchTaskError(
            index=error.index,
            task_uid=error.task_uid,
            status=error.status,
            code=error.code,
            message=error.message,
            batch=sent.describe(),
        )
