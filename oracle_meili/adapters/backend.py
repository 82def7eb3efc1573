"""What the sync engine needs of Meilisearch: :class:`SearchBackend`.

Two implementations: :class:`~oracle_meili.adapters.meili.MeiliClient`, one server, and
:class:`~oracle_meili.adapters.shards.ShardedClient`, one index over several servers, made
of one ``MeiliClient`` per shard. The engine is written against this protocol only, so an
operation the sharded backend did not define is a type error, not a silent call to one
shard.

A task is named by a :data:`TaskRef`: Meilisearch's own task uid on one server; on shards,
each shard's own uid, as ``<shard>:<uid>`` pairs joined by ``,`` (shard names are
``[A-Za-z0-9_-]``), so that another process, resuming from a checkpoint, can wait for the
very tasks this one enqueued.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, Protocol

from oracle_meili.config import MeilisearchConfig

TaskRef = int | str
DocumentKey = int | str


class SearchBackend(Protocol):
    """Meilisearch, as the sync engine uses it: one server, or shards."""

    config: MeilisearchConfig

    def close(self) -> None: ...

    def __enter__(self) -> SearchBackend: ...

    def __exit__(self, *exc: object) -> None: ...

    def check_health(self) -> None:
        """Raise unless every server answers healthy. Reads only."""

    def prepare_writes(self) -> None:
        """What the servers need before a sync writes (the shards' network)."""

    def index_exists(self, uid: str) -> bool: ...

    def index_uids(self, *, prefix: str = "") -> list[str]: ...

    def create_index(self, uid: str, *, primary_key: str, settings: dict[str, Any]) -> None: ...

    def delete_index(self, uid: str) -> None: ...

    def swap(self, live: str, build: str) -> TaskRef: ...

    def rename(self, build: str, live: str) -> TaskRef: ...

    def primary_key(self, uid: str) -> str: ...

    def document_count(self, uid: str) -> int: ...

    def add_documents(
        self, uid: str, payload: bytes | bytearray | memoryview, *, primary_key: str
    ) -> TaskRef: ...

    def delete_documents(self, uid: str, ids: Sequence[DocumentKey]) -> TaskRef: ...

    def documents(
        self,
        uid: str,
        *,
        chunk: int,
        fields: Sequence[str] | None = None,
        retrieve_vectors: bool = False,
        readers: int = 1,
    ) -> Iterator[list[dict[str, Any]]]: ...

    def document_ids(self, uid: str, *, id_field: str, chunk: int) -> Iterator[list[Any]]: ...

    def settings(self, uid: str) -> dict[str, Any]: ...

    def update_settings(self, uid: str, settings: dict[str, Any]) -> TaskRef: ...

    def settings_by_server(self, uid: str) -> dict[str, dict[str, Any]]:
        """The index's settings on each server (one, or every shard), by its name."""

    def existing_ids(
        self, uid: str, ids: Sequence[DocumentKey], *, id_field: str
    ) -> set[DocumentKey]: ...

    def document(self, uid: str, document_id: DocumentKey) -> dict[str, Any]: ...

    def search(self, uid: str, query: str, **params: Any) -> dict[str, Any]: ...

    def wait(self, task: TaskRef, index: str) -> dict[str, Any]: ...
