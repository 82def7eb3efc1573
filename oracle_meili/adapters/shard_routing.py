"""Where a document lives among shards, and how a sharded task is named.

Rendezvous hashing (:func:`shard_of`) picks each document's shard; a payload is split into
its lines (:func:`ndjson_lines`) to route them; a sharded operation's task is each shard's
own task uid (:class:`ShardTasks`).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator, Mapping, Sequence

from oracle_meili.adapters.backend import DocumentKey, TaskRef

_NEWLINE = re.compile(rb"\n")


def shard_of(document_id: DocumentKey, shards: Sequence[str]) -> str:
    """The shard a document belongs to: the one whose hash with the id is highest
    (rendezvous hashing). Stable across processes and machines: BLAKE2b of the shard's
    name and the id's text, never Python's salted ``hash``."""
    key = str(document_id).encode()
    return max(shards, key=lambda name: _weight(name, key))


def _weight(name: str, key: bytes) -> bytes:
    return hashlib.blake2b(key, digest_size=8, key=name.encode()[:64]).digest()


class ShardTasks:
    """The tasks of one sharded operation: each shard's own task uid, written
    ``s0:12,s1:15`` (a :data:`~oracle_meili.adapters.backend.TaskRef` that survives a
    checkpoint, so that another process can wait for the same tasks)."""

    @staticmethod
    def encode(parts: Mapping[str, int]) -> str:
        return ",".join(f"{name}:{uid}" for name, uid in parts.items())

    @staticmethod
    def decode(task: TaskRef) -> dict[str, int] | None:
        """The parts of a sharded task; None for a single server's task uid."""
        if isinstance(task, int):
            return None
        parts = {}
        for part in task.split(","):
            name, _, uid = part.rpartition(":")
            parts[name] = int(uid)
        return parts


def ndjson_lines(view: memoryview) -> Iterator[memoryview]:
    """The non-blank lines of an NDJSON buffer, newline included, as views (no copies)."""
    start = 0
    for newline in _NEWLINE.finditer(view):
        end = newline.end()
        if end - start > 1:
            yield view[start:end]
        start = end
    if len(view) > start and bytes(view[start:]).strip():
        yield view[start:]
