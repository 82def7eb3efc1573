"""How consistent an index is with its source (PERF-002 asks for 99.99 %).

Streams every document of the index and every live row of the source (read and encoded
exactly as a sync reads and encodes them), and compares them document by document in
bounded memory (:mod:`oracle_meili.engine.id_diff`). Reports the document-count parity, the share
of live source rows whose document in the index is identical, a sample of mismatching ids,
orphans (documents without a live row) and missing documents.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from typing import Any

import orjson

from oracle_meili.adapters.backend import SearchBackend
from oracle_meili.adapters.keyset import Row
from oracle_meili.adapters.source import TableSource
from oracle_meili.documents import DocumentShape, document_id, encode_document
from oracle_meili.engine.id_diff import (
    IdPair,
    SideProgress,
    compare_ids,
    paired,
    partitions_for,
)
from oracle_meili.errors import SyncError

CHUNK = 5_000
# PERF-002: at least 99.99 % of the live rows match their document.
REQUIRED_PERCENT = 99.99


@dataclass(frozen=True)
class ConsistencyReport:
    """Source and index compared."""

    index: str
    source_rows: int
    index_documents: int
    matching: int
    mismatched: int
    mismatch_sample: tuple[Any, ...]
    orphans: int
    orphan_sample: tuple[Any, ...]
    duration_seconds: float

    @property
    def missing(self) -> int:
        """Live source rows with no document in the index."""
        return self.source_rows - (self.index_documents - self.orphans)

    @property
    def consistent_percent(self) -> float:
        """Share of live source rows whose document is in the index and identical."""
        return 100.0 if self.source_rows == 0 else 100.0 * self.matching / self.source_rows

    def summary(self) -> str:
        """One readable line for logs (the UI's run log, the CLI)."""
        return (
            f"{self.index}: {self.source_rows:,} live rows, {self.index_documents:,} documents; "
            f"{self.matching:,} match, {self.mismatched:,} differ, {self.missing:,} missing, "
            f"{self.orphans:,} orphans ({self.consistent_percent:.2f} % consistent) "
            f"in {self.duration_seconds:.1f} s"
        )

    @property
    def consistent(self) -> bool:
        return (
            self.index_documents == self.source_rows
            and self.orphans == 0
            and self.consistent_percent >= REQUIRED_PERCENT
        )

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data.update(
            missing=self.missing,
            consistent_percent=round(self.consistent_percent, 4),
            consistent=self.consistent,
        )
        return data


def check_consistency(
    source: TableSource,
    client: SearchBackend,
    *,
    chunk: int = CHUNK,
    uid: str | None = None,
    on_progress: SideProgress | None = None,
) -> ConsistencyReport:
    """Compare every document of ``index`` (or of the index ``uid``, e.g. a build index)
    with its source row (reads only).

    ``on_progress(side, count)`` is called after each chunk of each side.
    """
    started = time.monotonic()
    client.check_health()
    shape = source.document_shape()
    index = source.index
    target = uid or index.name
    require_index(client, target)
    partitions = partitions_for(client.document_count(target))
    index_side = _index_fingerprints(client, target, shape, chunk, on_progress)
    source_side = _source_fingerprints(source, shape, chunk, on_progress)
    with compare_ids(index_side, source_side, partitions=partitions) as diff:
        return ConsistencyReport(
            index=index.name,
            source_rows=diff.source_ids,
            index_documents=diff.index_ids,
            matching=diff.same,
            mismatched=diff.different,
            mismatch_sample=tuple(diff.different_sample),
            orphans=diff.orphans_count,
            orphan_sample=tuple(diff.orphan_sample),
            duration_seconds=time.monotonic() - started,
        )


def require_index(client: SearchBackend, uid: str) -> None:
    """Fail with a clear message when the index was never built (rather than the client's
    own 404 hint, which speaks of Meilisearch versions)."""
    if not client.index_exists(uid):
        raise SyncError(
            f"index {uid!r} does not exist in Meilisearch yet: run a full sync first "
            "(oracle-meili sync --mode full, or materialize the partition `full`)"
        )


def fingerprint(document: dict[str, Any]) -> bytes:
    """A document's content, whatever its key order, in 16 bytes.

    ``_vectors`` is left out: Meilisearch keeps a vector as float32, in its own shape, and
    returns it only when asked; what the index holds is compared field by field otherwise."""
    if "_vectors" in document:
        document = {k: v for k, v in document.items() if k != "_vectors"}
    canonical = orjson.dumps(document, option=orjson.OPT_SORT_KEYS)
    return hashlib.blake2b(canonical, digest_size=16).digest()


def _index_fingerprints(
    client: SearchBackend,
    uid: str,
    shape: DocumentShape,
    chunk: int,
    on_progress: SideProgress | None,
) -> Iterator[IdPair]:
    return paired(
        client.documents(uid, chunk=chunk),
        lambda document: (document[shape.id_field], fingerprint(document)),
        side="index",
        on_progress=on_progress,
    )


def _source_fingerprints(
    source: TableSource, shape: DocumentShape, chunk: int, on_progress: SideProgress | None
) -> Iterator[IdPair]:
    def pair(row: Row) -> IdPair | None:
        line = encode_document(shape, row)
        if line is None:
            return None  # the transform keeps this row out of the index
        return document_id(shape, row), fingerprint(orjson.loads(line))

    return paired(source.read_all(batch_size=chunk), pair, side="source", on_progress=on_progress)
