"""The plan of a sliced full sync: what every slice reads and where it writes.

Fixed before any slice reads, and JSON-ready: it is kept in the state store (a state file,
or an observation of the index asset in Dagster), from which each slice, wherever it runs,
and a resumed sync read it back.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any, Protocol

from oracle_meili.adapters.key_ranges import KeyRange
from oracle_meili.adapters.source import TableSource
from oracle_meili.engine.build import BuildTarget, RecreateTarget
from oracle_meili.engine.checkpoint import FullSyncCheckpoint, decode_key
from oracle_meili.errors import SyncError


@dataclass(frozen=True)
class SlicedPlan:
    """What a sliced full sync reads and where it writes, fixed before any slice reads
    (all fields JSON-ready: it is kept in the state store for the slices and the resume)."""

    index: str
    build_index: str
    parallel: int
    # The stored keys that end each range but the last (watermark codec, like checkpoints).
    bounds: tuple[tuple[str, ...], ...]
    watermark: str | None
    scn: int | None
    count_before: int | None
    started: str
    # Who runs it (a Dagster run id): a new plan does not take over one still running.
    owner: str | None = None

    @property
    def slices(self) -> int:
        return len(self.bounds) + 1

    def key_range(self, number: int) -> KeyRange:
        """Slice ``number``'s keys: after the previous bound, up to its own."""
        if not 0 <= number < self.slices:
            raise SyncError(
                f"index {self.index!r}: no slice {number} in a plan of {self.slices} slices"
            )
        after = decode_key(self.bounds[number - 1]) if number > 0 else None
        upto = decode_key(self.bounds[number]) if number < len(self.bounds) else None
        return KeyRange(after, upto)

    def target(self) -> BuildTarget:
        if self.build_index == self.index:
            return RecreateTarget(self.index, self.index)
        return BuildTarget(self.index, self.build_index)

    def reader(self, source: TableSource) -> TableSource:
        """What the slices read: the source, or the source as of the plan's SCN."""
        return source.as_of(self.scn) if self.scn is not None else source

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["bounds"] = [list(bound) for bound in self.bounds]
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> SlicedPlan:
        try:
            return cls(
                index=str(data["index"]),
                build_index=str(data["build_index"]),
                parallel=int(data["parallel"]),
                bounds=tuple(tuple(str(p) for p in bound) for bound in data["bounds"]),
                watermark=data.get("watermark"),
                scn=data.get("scn"),
                count_before=data.get("count_before"),
                started=str(data["started"]),
                owner=data.get("owner"),
            )
        except (KeyError, TypeError, ValueError) as e:
            raise SyncError(f"not a sliced full-sync plan: {data!r}") from e


def unfinished(plan: SlicedPlan, slices: Mapping[int, FullSyncCheckpoint]) -> list[int]:
    """The slices of ``plan`` still to read (``slices``: each one's latest checkpoint)."""
    return [n for n in range(plan.slices) if n not in slices or not slices[n].finished]


class PlanStore(Protocol):
    """Where a full sync keeps its plan and its slices' checkpoints (a state store)."""

    def plan(self, index: str) -> SlicedPlan | None: ...

    def save_plan(self, plan: SlicedPlan) -> None: ...

    def save_checkpoint(self, checkpoint: FullSyncCheckpoint) -> None: ...

    def slice_checkpoints(self, index: str, build_index: str) -> dict[int, FullSyncCheckpoint]: ...
