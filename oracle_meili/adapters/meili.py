"""One Meilisearch server: the :class:`~oracle_meili.adapters.backend.SearchBackend` of a
single server (index management, uploads, task status).

The official client for everything but uploads, deletions and whole-index reads, which go
through :class:`~oracle_meili.adapters.meili_http.DocumentsHttp`; every request through one
retry wrapper (:func:`oracle_meili.retry.retrying`, ``meilisearch.retries``). Every task is
awaited and checked: a failed task raises :class:`MeilisearchTaskError` (the client's own
``wait_for_task`` would return it silently).
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from typing import Any, cast

import meilisearch
import orjson
from meilisearch.errors import MeilisearchApiError, MeilisearchCommunicationError
from meilisearch.errors import MeilisearchTimeoutError as ClientTimeoutError

from oracle_meili.adapters.backend import DocumentKey, TaskRef
from oracle_meili.adapters.meili_http import (
    DocumentPages,
    DocumentsHttp,
    transient_status,
    why_unreachable,
)
from oracle_meili.config import MeilisearchConfig
from oracle_meili.errors import (
    MeilisearchError,
    MeilisearchTaskError,
    MeilisearchTransientError,
    MeilisearchUnavailableError,
)
from oracle_meili.retry import retrying

_FINISHED = frozenset({"succeeded", "failed", "canceled"})
_NDJSON = "application/x-ndjson"
_MAX_POLL_INTERVAL = 0.1


class MeiliClient:
    """One Meilisearch server, as the sync engine needs it."""

    def __init__(self, config: MeilisearchConfig) -> None:
        self.config = config
        api_key = config.api_key.get_secret_value() if config.api_key else None
        self.url = config.url.rstrip("/")
        self._client = meilisearch.Client(self.url, api_key, timeout=int(config.timeout_seconds))
        self._http = DocumentsHttp(self.url, api_key, timeout_seconds=config.timeout_seconds)
        self._pages = DocumentPages(self._http, retries=config.retries)

    def close(self) -> None:
        self._pages.close()

    def __enter__(self) -> MeiliClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def check_health(self) -> None:
        """Raise :class:`MeilisearchUnavailableError` unless the server answers healthy
        (after the configured retries)."""
        status = self._call(self._client.health).get("status")
        if status != "available":
            raise MeilisearchUnavailableError(f"Meilisearch at {self.url} reports {status!r}")

    def prepare_writes(self) -> None:
        """What a server needs before a sync writes to it: nothing for one server (shards
        need their network; see :class:`~oracle_meili.adapters.shards.ShardedClient`)."""

    def index_exists(self, uid: str) -> bool:
        try:
            self._call(self._client.get_raw_index, uid)
        except MeilisearchError as e:
            if (
                isinstance(e.__cause__, MeilisearchApiError)
                and e.__cause__.code == "index_not_found"
            ):
                return False
            raise
        return True

    def index_uids(self, *, prefix: str = "") -> list[str]:
        """Uids of every index whose uid starts with ``prefix``."""
        uids: list[str] = []
        offset = 0
        while True:
            page = self._call(self._client.get_raw_indexes, {"offset": offset, "limit": 1000})
            results = page["results"] if isinstance(page, dict) else page
            uids += [r["uid"] for r in results if r["uid"].startswith(prefix)]
            if len(results) < 1000:
                return uids
            offset += 1000

    def create_index(self, uid: str, *, primary_key: str, settings: dict[str, Any]) -> None:
        """Create an index and apply its settings before any document arrives."""
        self.wait(
            self._call(self._client.create_index, uid, {"primaryKey": primary_key}).task_uid, uid
        )
        if settings:
            task = self._call(self._client.index(uid).update_settings, settings)
            self.wait(task.task_uid, uid)

    def delete_index(self, uid: str) -> None:
        task = self._call(self._client.delete_index, uid)
        self.wait(task.task_uid, uid)

    def swap(self, live: str, build: str) -> int:
        """Atomically exchange two indexes (the new data becomes live). Returns the task uid."""
        task = self._call(self._client.swap_indexes, [{"indexes": [live, build]}])
        self.wait(task.task_uid, live)
        return int(task.task_uid)

    def rename(self, build: str, live: str) -> int:
        """Rename ``build`` to ``live`` (which must not exist). Returns the task uid."""
        task = self._call(self._client.swap_indexes, [{"indexes": [build, live], "rename": True}])
        self.wait(task.task_uid, live)
        return int(task.task_uid)

    def primary_key(self, uid: str) -> str:
        """The index's primary key (its documents' id field)."""
        return str(self._call(self._client.get_raw_index, uid)["primaryKey"])

    def document_count(self, uid: str) -> int:
        stats = self._call(self._client.index(uid).get_stats)
        return int(stats.number_of_documents)

    def add_documents(
        self, uid: str, payload: bytes | bytearray | memoryview, *, primary_key: str
    ) -> int:
        """Send one NDJSON payload as one task (add or replace documents). Returns its uid."""
        return retrying(self.config.retries)(
            self._http.post_task,
            uid,
            "documents",
            # Any buffer is sent as it is; bytes(payload) would copy up to 64 MiB.
            cast(bytes, payload),
            content_type=_NDJSON,
            params={"primaryKey": primary_key},
            action="uploading documents to",
        )

    def delete_documents(self, uid: str, ids: Sequence[DocumentKey]) -> int:
        """Delete documents by id as one task. Returns its uid."""
        return retrying(self.config.retries)(
            self._http.post_task,
            uid,
            "documents/delete-batch",
            orjson.dumps(list(ids)),
            content_type="application/json",
            action="deleting documents on",
        )

    def documents(
        self,
        uid: str,
        *,
        chunk: int,
        fields: Sequence[str] | None = None,
        retrieve_vectors: bool = False,
        readers: int = 1,
    ) -> Iterator[list[dict[str, Any]]]:
        """Every document of an index as plain JSON, ``chunk`` at a time (bounded memory);
        with ``retrieve_vectors``, their ``_vectors`` too, in the form Meilisearch takes back.
        ``readers`` pages are read at once (an index no one writes meanwhile: offsets).

        Read through :class:`~oracle_meili.adapters.meili_http.DocumentsHttp`, parsed with
        orjson: the consistency check, ``reconcile`` and ``apply-settings`` read whole
        indexes."""
        parameters: dict[str, Any] = {"limit": chunk}
        if fields is not None:
            parameters["fields"] = list(fields)
        if retrieve_vectors:
            parameters["retrieveVectors"] = True

        yield from self._pages.read(uid, parameters, chunk=chunk, readers=readers)

    def document_ids(self, uid: str, *, id_field: str, chunk: int) -> Iterator[list[Any]]:
        """Every document id of an index, ``chunk`` at a time (bounded memory)."""
        for documents in self.documents(uid, chunk=chunk, fields=[id_field]):
            yield [document[id_field] for document in documents]

    def settings(self, uid: str) -> dict[str, Any]:
        """The index's settings, as Meilisearch answers them (plain JSON: the official
        client's ``get_settings`` turns embedders into its own models)."""
        paths = self._client.config.paths
        applied: dict[str, Any] = self._call(
            self._client.http.get, f"{paths.index}/{uid}/{paths.setting}"
        )
        return applied

    def update_settings(self, uid: str, settings: dict[str, Any]) -> int:
        """Apply ``settings`` to an existing index (one task). Returns its uid."""
        return int(self._call(self._client.index(uid).update_settings, settings).task_uid)

    def settings_by_server(self, uid: str) -> dict[str, dict[str, Any]]:
        """The index's settings on this server, under its URL."""
        return {self.url: self.settings(uid)}

    def existing_ids(
        self, uid: str, ids: Sequence[DocumentKey], *, id_field: str
    ) -> set[DocumentKey]:
        """Which of ``ids`` the index holds (one request: ``POST /documents/fetch``)."""
        if not ids:
            return set()
        parameters = {"ids": list(ids), "fields": [id_field], "limit": len(ids)}
        found = self._call(self._client.index(uid).get_documents, parameters)
        return {dict(document)[id_field] for document in found.results}

    def document(self, uid: str, document_id: DocumentKey) -> dict[str, Any]:
        """One document of an index, by id, as plain JSON."""
        found = self._call(self._client.index(uid).get_document, document_id)
        return dict(found)

    def search(self, uid: str, query: str, **params: Any) -> dict[str, Any]:
        result: dict[str, Any] = self._call(self._client.index(uid).search, query, params)
        return result

    def multi_search(
        self, queries: Sequence[dict[str, Any]], federation: dict[str, Any]
    ) -> dict[str, Any]:
        """A federated search (``POST /multi-search``), over this server's network when the
        queries name remotes."""
        result: dict[str, Any] = self._call(self._client.multi_search, queries, federation)
        return result

    def configure_network(self, *, self_name: str, remotes: dict[str, dict[str, Any]]) -> None:
        """Turn on the ``network`` experimental feature (Community Edition) and name this
        server and its remotes, so that a federated search sent here reaches all of them."""
        self._call(self._client.update_experimental_features, {"network": True})
        self._call(self._client.add_or_update_networks, {"self": self_name, "remotes": remotes})

    def wait(self, task: TaskRef, index: str) -> dict[str, Any]:
        """Wait until a task finishes; raise :class:`MeilisearchTaskError` unless it succeeded.
        Returns the task's ``details`` (e.g. ``deletedDocuments`` of a deletion). A task
        status is a cheap request, and a late poll adds straight to a sync's latency."""
        if not isinstance(task, int):
            # A task of shards (a checkpoint taken with `meilisearch.shards`): not this
            # server's, so it counts as not landed and its rows are sent again.
            raise MeilisearchTaskError(
                index=index,
                task_uid=task,
                status="unknown",
                code="not_a_task_of_this_server",
                message="a sharded task; its payload is sent again",
            )
        found = self._finished(task, index)
        if found.status != "succeeded":
            error = found.error or {}
            raise MeilisearchTaskError(
                index=index,
                task_uid=task,
                status=found.status,
                code=str(error.get("code", found.status)),
                message=str(error.get("message", "no error given")),
            )
        return dict(found.details or {})

    def _finished(self, task: int, index: str) -> Any:
        """The task once finished, polled 10 ms to 100 ms apart up to the task timeout."""
        deadline = time.monotonic() + self.config.task_timeout_seconds
        interval = 0.01
        while (found := self._call(self._client.get_task, task)).status not in _FINISHED:
            if time.monotonic() > deadline:
                raise MeilisearchError(
                    f"index {index!r}: Meilisearch task {task} still {found.status} after "
                    f"{self.config.task_timeout_seconds:.0f} s"
                )
            time.sleep(interval)
            interval = min(interval * 1.5, _MAX_POLL_INTERVAL)
        return found

    def _call(self, method: Any, *args: Any) -> Any:
        """Call the official client, retrying transient failures (see ``oracle_meili.retry``)."""
        return retrying(self.config.retries)(self._call_once, method, *args)

    def _call_once(self, method: Any, *args: Any) -> Any:
        try:
            return method(*args)
        except (MeilisearchCommunicationError, ClientTimeoutError) as e:
            raise MeilisearchUnavailableError(
                f"Meilisearch at {self.url} is not answering ({why_unreachable(e)})"
            ) from e
        except MeilisearchApiError as e:
            kind = (
                MeilisearchTransientError if transient_status(e.status_code) else MeilisearchError
            )
            raise kind(f"Meilisearch at {self.url}: [{e.code}] {e.message}") from e
