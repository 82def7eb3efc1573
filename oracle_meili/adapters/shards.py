"""One index over several Meilisearch servers (``meilisearch.shards``), as one backend.

:class:`ShardedClient` is a :class:`~oracle_meili.adapters.backend.SearchBackend` made of
one :class:`~oracle_meili.adapters.meili.MeiliClient` per shard: the full sync, the
incremental sync, ``check`` and ``reconcile`` run on it unchanged. Underneath, every
document goes to exactly one shard, chosen by rendezvous hashing of its id
(:func:`shard_of`): adding a shard to N moves about 1/(N+1) of the documents, and removing
one moves only its own. Index operations (create, settings, swap, delete) run on every
shard; a payload is split by shard and sent as one task per shard, and it counts as
acknowledged once every part has succeeded. Its task is named by each shard's own task
uid (:class:`ShardTasks`). A deletion goes to every shard: a document is wherever a sync
or a change of shards left it, and deleting an id a shard does not hold changes nothing
there. Searches are federated over Meilisearch's ``network`` (Community Edition): each
node knows the others, and a multi-search sent to any of them with
``federationOptions.remote`` per shard merges the hits of all.

Not atomic across nodes: a full sync swaps shard after shard, each swap atomic on its own
node; between the first and the last swap, a federated search can mix old and new.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

import orjson

from oracle_meili.adapters.backend import DocumentKey, SearchBackend, TaskRef
from oracle_meili.adapters.meili import MeiliClient
from oracle_meili.adapters.shard_routing import ShardTasks, ndjson_lines, shard_of
from oracle_meili.config import MeilisearchConfig, ShardSettings
from oracle_meili.errors import MeilisearchError, MeilisearchTaskError

_NEWLINE = re.compile(rb"\n")

T = TypeVar("T")


class ShardedClient:
    """Several Meilisearch servers holding one index between them (see module docstring)."""

    def __init__(self, config: MeilisearchConfig) -> None:
        self.config = config
        self.shards: tuple[ShardSettings, ...] = config.shards
        self.nodes = {s.name: MeiliClient(config.shard_config(s)) for s in self.shards}
        self.names = tuple(self.nodes)
        self._network_ready = False

    def close(self) -> None:
        for node in self.nodes.values():
            node.close()

    def __enter__(self) -> ShardedClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def check_health(self) -> None:
        """Every shard answers healthy (the first that does not is named). Reads only."""
        for name, node in self.nodes.items():
            try:
                node.check_health()
            except MeilisearchError as e:
                raise type(e)(f"shard {name!r}: {e}") from e

    def prepare_writes(self) -> None:
        """The nodes know each other (their ``network``), set once per client: before a
        sync writes, so that a search sent to any node reaches every shard. A check does not
        call it: it reads only."""
        if not self._network_ready:
            self.configure_shard_network()
            self._network_ready = True

    def configure_shard_network(self) -> None:
        """Name each node and its remotes (with the key they search each other with)."""
        remotes = {
            shard.name: {"url": shard.url, "searchApiKey": self.config.search_key(shard)}
            for shard in self.shards
        }
        for name, node in self.nodes.items():
            node.configure_network(self_name=name, remotes=remotes)

    def index_exists(self, uid: str) -> bool:
        """On every shard (a shard added since the last full sync lacks it)."""
        return all(node.index_exists(uid) for node in self.nodes.values())

    def index_uids(self, *, prefix: str = "") -> list[str]:
        found = {uid for node in self.nodes.values() for uid in node.index_uids(prefix=prefix)}
        return sorted(found)

    def create_index(self, uid: str, *, primary_key: str, settings: dict[str, Any]) -> None:
        """Create the index, with its settings, on every shard.

        Raises:
            MeilisearchError: it exists on some shards only: a shard was added and its
                documents are still on the others. Syncing into it now would leave two
                copies of those documents; ``reshard`` (or a full sync) must come first.
        """
        having = [name for name, node in self.nodes.items() if node.index_exists(uid)]
        if having:
            lacking = [name for name in self.names if name not in having]
            raise MeilisearchError(
                f"index {uid!r} is on shard(s) {', '.join(having)} but not on "
                f"{', '.join(lacking)}: after adding a shard, run `oracle-meili reshard "
                f"--index {uid}` (or a full sync) before other syncs"
            )
        self.create_missing(uid, primary_key=primary_key, settings=settings)

    def create_missing(self, uid: str, *, primary_key: str, settings: dict[str, Any]) -> None:
        """Create the index, with its settings, on every shard that lacks it (reshard)."""
        for node in self.nodes.values():
            if not node.index_exists(uid):
                node.create_index(uid, primary_key=primary_key, settings=settings)

    def delete_index(self, uid: str) -> None:
        for node in self.nodes.values():
            if node.index_exists(uid):
                node.delete_index(uid)

    def swap(self, live: str, build: str) -> TaskRef:
        """On each shard: swap, or rename where the live index is not there yet."""
        parts = {}
        for name, node in self.nodes.items():
            if node.index_exists(live):
                parts[name] = node.swap(live, build)
            else:
                parts[name] = node.rename(build, live)
        return ShardTasks.encode(parts)

    def rename(self, build: str, live: str) -> TaskRef:
        return self.swap(live, build)

    def primary_key(self, uid: str) -> str:
        """The primary key of the index on the first shard (every shard's is the same)."""
        return self.nodes[self.names[0]].primary_key(uid)

    def document_count(self, uid: str) -> int:
        return sum(self.counts(uid).values())

    def counts(self, uid: str) -> dict[str, int]:
        """The documents of ``uid`` on each shard (0 where the index is missing)."""
        return {
            name: node.document_count(uid) if node.index_exists(uid) else 0
            for name, node in self.nodes.items()
        }

    def settings(self, uid: str) -> dict[str, Any]:
        """The settings of the first shard (every shard gets the same ones)."""
        return self.nodes[self.names[0]].settings(uid)

    def update_settings(self, uid: str, settings: dict[str, Any]) -> TaskRef:
        """Apply ``settings`` on every shard."""
        return ShardTasks.encode(
            {
                name: self._on(name, functools.partial(node.update_settings, uid, settings))
                for name, node in self.nodes.items()
            }
        )

    def settings_by_server(self, uid: str) -> dict[str, dict[str, Any]]:
        """The index's settings on each shard, under its name."""
        return {
            name: self._on(name, functools.partial(node.settings, uid))
            for name, node in self.nodes.items()
        }

    def add_documents(
        self, uid: str, payload: bytes | bytearray | memoryview, *, primary_key: str
    ) -> TaskRef:
        """Split an NDJSON payload by shard: one task per shard that gets documents. Each
        line is read in place (a view of the payload), so the split costs one copy."""
        parts: dict[str, bytearray] = {}
        for line in ndjson_lines(memoryview(payload)):
            document_id = orjson.loads(line)[primary_key]
            parts.setdefault(shard_of(document_id, self.names), bytearray()).extend(line)
        return ShardTasks.encode(
            {
                name: self._on(
                    name,
                    lambda: self.nodes[name].add_documents(uid, part, primary_key=primary_key),  # noqa: B023  (called at once)
                )
                for name, part in parts.items()
            }
        )

    def delete_documents(self, uid: str, ids: Sequence[DocumentKey]) -> TaskRef:
        """Delete on every shard: a document may be on another shard than its hash picks
        (moved there by a sync after a change of shards, before ``reshard``), and an id a
        shard does not hold is a no-op there."""
        return ShardTasks.encode(
            {
                name: self._on(name, lambda: node.delete_documents(uid, ids))  # noqa: B023
                for name, node in self.nodes.items()
            }
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
        """Every shard's documents, one shard after another."""
        for node in self.nodes.values():
            if node.index_exists(uid):
                yield from node.documents(
                    uid,
                    chunk=chunk,
                    fields=fields,
                    retrieve_vectors=retrieve_vectors,
                    readers=readers,
                )

    def document_ids(self, uid: str, *, id_field: str, chunk: int) -> Iterator[list[Any]]:
        """Every shard's document ids, one shard after another."""
        for documents in self.documents(uid, chunk=chunk, fields=[id_field]):
            yield [document[id_field] for document in documents]

    def existing_ids(
        self, uid: str, ids: Sequence[DocumentKey], *, id_field: str
    ) -> set[DocumentKey]:
        """Which of ``ids`` any shard holds."""
        found: set[DocumentKey] = set()
        for name, node in self.nodes.items():
            if node.index_exists(uid):
                found |= self._on(name, lambda: node.existing_ids(uid, ids, id_field=id_field))  # noqa: B023
        return found

    def document(self, uid: str, document_id: DocumentKey) -> dict[str, Any]:
        """The document on its shard."""
        return self.nodes[shard_of(document_id, self.names)].document(uid, document_id)

    def search(self, uid: str, query: str, **params: Any) -> dict[str, Any]:
        """A federated search over every shard, sent to the first node."""
        queries, federation = self.federated_query(uid, query, **params)
        return self.nodes[self.names[0]].multi_search(queries, federation)

    def federated_query(
        self, uid: str, query: str, **params: Any
    ) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        """The multi-search that asks every shard, through the network: the search
        parameters per query, the paging once for the merged hits."""
        federation: dict[str, Any] = {k: params.pop(k) for k in ("limit", "offset") if k in params}
        queries = [
            {"indexUid": uid, "q": query, **params, "federationOptions": {"remote": name}}
            for name in self.names
        ]
        return queries, federation

    def wait(self, task: TaskRef, index: str) -> dict[str, Any]:
        """Wait for every shard's part of a task; the parts' details, summed."""
        parts = ShardTasks.decode(task)
        if parts is None or not set(parts) <= set(self.nodes):
            # A task of one server, or of shards since removed (a checkpoint taken before
            # the shards changed): it counts as not landed and its rows are sent again.
            raise MeilisearchTaskError(
                index=index,
                task_uid=task,
                status="unknown",
                code="not_a_task_of_these_shards",
                message="not a task of the configured shards; its payload is sent again",
            )
        details: dict[str, Any] = {}
        for name, node_task in parts.items():
            try:
                done = self._on(name, lambda: self.nodes[name].wait(node_task, index))  # noqa: B023
            except MeilisearchTaskError as e:
                raise MeilisearchTaskError(
                    index=index,
                    task_uid=task,
                    status=e.status,
                    code=e.code,
                    message=f"shard {name!r}, task {node_task}: {e.message}",
                ) from e
            for key, value in done.items():
                if isinstance(value, int) and not isinstance(value, bool):
                    details[key] = details.get(key, 0) + value
        return details

    @staticmethod
    def _on(name: str, call: Callable[[], T]) -> T:
        """``call()`` on shard ``name``, at once; an error names the shard (a task's error
        is named where it is waited for)."""
        try:
            return call()
        except MeilisearchTaskError:
            raise
        except MeilisearchError as e:
            raise type(e)(f"shard {name!r}: {e}") from e


def meili_client(config: MeilisearchConfig) -> SearchBackend:
    """The backend for the configuration: one server, or its shards."""
    return ShardedClient(config) if config.shards else MeiliClient(config)
