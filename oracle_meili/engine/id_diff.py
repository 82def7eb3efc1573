"""Two streams of document ids, each with a fingerprint, compared in bounded memory.

Each side is spread over temporary partition files by the hash of the id; the partitions are
then compared one at a time, so memory holds one partition, whatever the index's size, and
there is no IN list or expression to outgrow a database limit. The consistency check and
reconciliation both use it, with source ids computed from the source rows exactly as a sync
computes them: an id is never decoded back into key values, whose text (a date/time, a
decimal) need not match how the database stores them.
"""

from __future__ import annotations

import math
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, TypeVar

import orjson

from oracle_meili.documents import DocumentId

# Ids per partition the comparison aims at; a partition's ids and fingerprints are what it
# holds in memory (about 10 MB for 50,000 ids with 16-byte fingerprints).
PARTITION_SIZE = 50_000
# NOTE: each partition is an open file per side while the streams are written.
MAX_PARTITIONS = 256
SAMPLE = 20

IdPair = tuple[DocumentId, bytes]
T = TypeVar("T")
# Called with "index" or "source" and the ids read so far on that side.
SideProgress = Callable[[str, int], None]


@dataclass
class IdDiff:
    """What the comparison found. ``orphans()`` streams every id found only in the index."""

    index_ids: int = 0
    source_ids: int = 0
    same: int = 0
    different: int = 0
    orphans_count: int = 0
    different_sample: list[DocumentId] = field(default_factory=list)
    orphan_sample: list[DocumentId] = field(default_factory=list)
    _orphans_path: Path | None = None

    @property
    def missing(self) -> int:
        """Source ids with no document in the index."""
        return self.source_ids - self.same - self.different

    def orphans(self) -> Iterator[DocumentId]:
        """Every id found in the index only, in no particular order."""
        if self._orphans_path is None:
            return
        with self._orphans_path.open("rb") as lines:
            for line in lines:
                yield orjson.loads(line)


def paired(
    pages: Iterable[Sequence[T]],
    pair: Callable[[T], IdPair | None],
    *,
    side: str,
    on_progress: SideProgress | None,
) -> Iterator[IdPair]:
    """Each item of each page as an (id, fingerprint) pair (an item paired with None is
    left out); ``on_progress(side, count)`` after each page."""
    seen = 0
    for page in pages:
        for item in page:
            if (paired_item := pair(item)) is not None:
                yield paired_item
        seen += len(page)
        if on_progress is not None:
            on_progress(side, seen)


def partitions_for(expected_ids: int) -> int:
    """How many partitions keep each near :data:`PARTITION_SIZE` ids."""
    return max(1, min(MAX_PARTITIONS, math.ceil(expected_ids / PARTITION_SIZE)))


@contextmanager
def compare_ids(
    index_side: Iterable[IdPair], source_side: Iterable[IdPair], *, partitions: int
) -> Iterator[IdDiff]:
    """Compare the index's ids with the source's, reading the index side first.

    Reading the index first is what makes a reconciliation safe under concurrent writes: a
    document seen in the index whose row still exists when the source is read afterwards is
    found there, so only documents whose row was really gone are called orphans.
    """
    with tempfile.TemporaryDirectory(prefix="oracle-meili-diff-") as folder:
        directory = Path(folder)
        index_count = _spill(index_side, directory / "index", partitions)
        source_count = _spill(source_side, directory / "source", partitions)
        diff = IdDiff(index_ids=index_count, source_ids=source_count)
        orphans_path = directory / "orphans"
        with orphans_path.open("wb") as orphans:
            for number in range(partitions):
                _compare_partition(directory, number, diff, orphans)
        diff._orphans_path = orphans_path
        yield diff


def _spill(pairs: Iterable[IdPair], prefix: Path, partitions: int) -> int:
    files: list[IO[bytes]] = [
        (prefix.parent / f"{prefix.name}.{n}").open("wb") for n in range(partitions)
    ]
    count = 0
    try:
        for doc_id, fingerprint in pairs:
            # hash() of an int or a str is stable within the process: both sides agree.
            line = orjson.dumps([doc_id, fingerprint.hex()], option=orjson.OPT_APPEND_NEWLINE)
            files[hash(doc_id) % partitions].write(line)
            count += 1
    finally:
        for handle in files:
            handle.close()
    return count


def _read(directory: Path, side: str, number: int) -> Iterator[tuple[Any, str]]:
    with (directory / f"{side}.{number}").open("rb") as lines:
        for line in lines:
            doc_id, fingerprint = orjson.loads(line)
            yield doc_id, fingerprint


def _compare_partition(directory: Path, number: int, diff: IdDiff, orphans: IO[bytes]) -> None:
    source = dict(_read(directory, "source", number))
    for doc_id, fingerprint in _read(directory, "index", number):
        expected = source.get(doc_id)
        if expected is None:
            diff.orphans_count += 1
            orphans.write(orjson.dumps(doc_id) + b"\n")
            if len(diff.orphan_sample) < SAMPLE:
                diff.orphan_sample.append(doc_id)
        elif expected == fingerprint:
            diff.same += 1
        else:
            diff.different += 1
            if len(diff.different_sample) < SAMPLE:
                diff.different_sample.append(doc_id)
