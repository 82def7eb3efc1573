"""Moving documents to their shard after ``meilisearch.shards`` changed.

A document belongs to the shard rendezvous hashing picks among the configured shards
(:func:`~oracle_meili.adapters.shards.shard_of`). After a shard is added, about 1/N of the
documents belong to it; after one is removed, its documents belong elsewhere. ``reshard``
reads every reachable shard's documents, copies each misplaced one to its shard (with its
vectors) unless that shard holds it already (a sync since the change wrote that copy, which
is newer), waits for those tasks, and only then deletes it where it was: a document is never
absent, though for a moment it is on two shards. Until reshard has run after a shard was
added, other syncs refuse to write (the index exists on some shards only). A shard being
removed is reached through ``--from NAME=URL`` until its documents are moved; syncs go on
meanwhile without it, so a row deleted in the source since then is deleted on the
configured shards only: its old document on the leaving server is not copied (its id is
compared with the source's live ids first, as ``reconcile`` compares them), so nothing a
sync deleted comes back.

Memory: one page of documents, one payload per target shard, and the ids moved off the
shard being read (deleted once that shard has been read through, so that deleting does not
shift the pages still to read); for a leaving server, the ids of its documents whose row is
gone (the comparison with the source spills to disk, as ``reconcile``'s does).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import orjson

from oracle_meili.adapters.backend import DocumentKey, SearchBackend
from oracle_meili.adapters.meili import MeiliClient
from oracle_meili.adapters.shard_routing import shard_of
from oracle_meili.adapters.shards import ShardedClient
from oracle_meili.adapters.source import TableSource
from oracle_meili.engine.id_diff import compare_ids, partitions_for
from oracle_meili.engine.reconcile import index_id_pairs, source_id_pairs
from oracle_meili.errors import ConfigError

log = logging.getLogger(__name__)
PAGE = 1000


@dataclass(frozen=True)
class ReshardResult:
    """What a reshard moved, and where every document is now."""

    index: str
    moved: int
    # Documents moved off each shard read.
    moved_from: dict[str, int] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    duration_seconds: float = 0.0


def reshard(
    source: TableSource,
    client: SearchBackend,
    *,
    leaving: dict[str, MeiliClient] | None = None,
    on_progress: Callable[[str, int], None] | None = None,
) -> ReshardResult:
    """Put every document of ``source.index`` on its shard.

    ``leaving``: servers no longer in ``meilisearch.shards`` whose documents are moved to
    the configured shards (their index is deleted once empty).

    Raises:
        ConfigError: Meilisearch is not sharded.
        MeilisearchError: a shard failed; a document is on its old shard until its copy has
            landed, so running reshard again finishes the move.
    """
    if not isinstance(client, ShardedClient):
        raise ConfigError(
            f"index {source.index.name!r}: reshard needs `meilisearch.shards` (two or more)"
        )
    started = time.monotonic()
    index = source.index
    uid = index.name
    id_field = source.document_shape().id_field
    client.check_health()
    client.prepare_writes()
    # A new shard gets the index, with its settings, before any document arrives.
    client.create_missing(uid, primary_key=id_field, settings=index.meilisearch_settings)
    readers = {**client.nodes, **(leaving or {})}
    moved_from: dict[str, int] = {}
    for name, node in readers.items():
        if not node.index_exists(uid):
            continue
        # A leaving server's documents whose row is gone: a sync deleted them on the
        # configured shards, which the leaving server no longer is.
        gone = set() if name in client.nodes else deleted_since(source, node, uid=uid)
        moved_from[name] = move_misplaced(
            client, node, name, uid=uid, id_field=id_field, gone=gone, on_progress=on_progress
        )
        if name not in client.nodes:
            node.delete_index(uid)
    moved = sum(moved_from.values())
    log.info("reshard of %r moved %d documents: %s", uid, moved, moved_from)
    return ReshardResult(
        index=uid,
        moved=moved,
        moved_from=moved_from,
        counts=client.counts(uid),
        duration_seconds=time.monotonic() - started,
    )


def deleted_since(source: TableSource, node: MeiliClient, *, uid: str) -> set[DocumentKey]:
    """The ids of ``node``'s documents with no live row in the source (its index read
    first, then the source, in bounded memory as ``reconcile`` does)."""
    shape = source.document_shape()
    with compare_ids(
        index_id_pairs(node, uid, shape, PAGE * 10, None),
        source_id_pairs(source, shape, PAGE * 10, None),
        partitions=partitions_for(node.document_count(uid)),
    ) as diff:
        return set(diff.orphans())


def move_misplaced(
    client: ShardedClient,
    node: MeiliClient,
    name: str,
    *,
    uid: str,
    id_field: str,
    gone: set[DocumentKey],
    on_progress: Callable[[str, int], None] | None,
) -> int:
    """Copy the documents of ``node`` that belong elsewhere to their shards, then delete
    them from ``node``; how many moved. Those in ``gone`` are not copied (they go with the
    leaving server's index)."""
    misplaced: list[DocumentKey] = []
    outgoing = Outgoing(client, uid=uid, id_field=id_field)
    for page in node.documents(uid, chunk=PAGE, retrieve_vectors=True):
        for document in page:
            target = shard_of(document[id_field], client.names)
            if target != name and document[id_field] not in gone:
                outgoing.add(target, document)
                misplaced.append(document[id_field])
        if on_progress is not None:
            on_progress(name, len(misplaced))
    outgoing.flush()
    for start in range(0, len(misplaced), 10_000):
        node.wait(node.delete_documents(uid, misplaced[start : start + 10_000]), uid)
    return len(misplaced)


class Outgoing:
    """Documents on their way to their shards, a payload per shard, each task awaited."""

    def __init__(self, client: ShardedClient, *, uid: str, id_field: str) -> None:
        self.client = client
        self.uid = uid
        self.id_field = id_field
        self.limit = client.config.max_payload_bytes
        self.buffers: dict[str, bytearray] = {}

    def add(self, shard: str, document: dict[str, object]) -> None:
        line = orjson.dumps(document) + b"\n"
        buffer = self.buffers.setdefault(shard, bytearray())
        if buffer and len(buffer) + len(line) > self.limit:
            self.send(shard)
            buffer = self.buffers.setdefault(shard, bytearray())
        buffer.extend(line)

    def flush(self) -> None:
        for shard in list(self.buffers):
            self.send(shard)

    def send(self, shard: str) -> None:
        """Send the shard's documents, but none it holds already: a sync that ran after
        the shards changed wrote that copy, and it is newer than the one moving."""
        lines = self.buffers.pop(shard, None)
        if not lines:
            return
        documents = [orjson.loads(line) for line in lines.splitlines()]
        node = self.client.nodes[shard]
        ids = [d[self.id_field] for d in documents]
        held: set[int | str] = set()
        for start in range(0, len(ids), PAGE):
            held |= node.existing_ids(self.uid, ids[start : start + PAGE], id_field=self.id_field)
        payload = b"".join(
            orjson.dumps(d) + b"\n" for d in documents if d[self.id_field] not in held
        )
        if payload:
            node.wait(node.add_documents(self.uid, payload, primary_key=self.id_field), self.uid)
