"""Checkpoints of a full sync in progress, so that a failed one resumes where it stopped.

:class:`CheckpointTracker` follows the payloads of a running full sync and gives a
:class:`FullSyncCheckpoint` after each one Meilisearch acknowledged.

After every payload that Meilisearch has acknowledged (its task succeeded), the sync reports
a checkpoint: the build index, the key of the last row acknowledged, the rows in the build
index so far, and the watermark (and SCN) captured when the sync started. The caller keeps
the latest one (``sync_state.json``, or an observation in Dagster); the next full sync
resumes from it into the same build index, if that index still holds exactly those rows.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any

from oracle_meili.adapters.backend import TaskRef
from oracle_meili.engine.watermark import Watermark, decode_watermark, encode_watermark
from oracle_meili.errors import SyncError


@dataclass(frozen=True)
class FullSyncCheckpoint:
    """Where an interrupted full sync can resume (all fields JSON-ready)."""

    index: str
    build_index: str
    rows_acknowledged: int
    last_key: tuple[str, ...] | None
    watermark: str | None
    scn: int | None = None
    # The newest payload sent but not yet acknowledged when this checkpoint was taken: if its
    # task succeeds after all (the process was killed while Meilisearch went on), the resume
    # starts after it rather than loading it again.
    in_flight_task: TaskRef | None = None
    in_flight_rows: int | None = None
    in_flight_last_key: tuple[str, ...] | None = None
    # The key-range slice of the full sync's plan (0 for a single reader; None in a
    # checkpoint older than plans); its rows read once it has finished (None while it
    # runs), and then the first rows it skipped (``on_bad_row: skip``).
    slice: int | None = None
    rows_read: int | None = None
    rows_skipped: int = 0
    skipped_sample: tuple[dict[str, Any], ...] = ()

    @property
    def finished(self) -> bool:
        """A slice that has read and written all its rows."""
        return self.rows_read is not None

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        for name in ("last_key", "in_flight_last_key"):
            data[name] = list(data[name]) if data[name] is not None else None
        data["skipped_sample"] = list(self.skipped_sample)
        return data

    def acknowledge_in_flight(self) -> FullSyncCheckpoint:
        """The checkpoint once its in-flight payload is known to have succeeded."""
        if self.in_flight_task is None or self.in_flight_rows is None:
            return self
        return replace(
            self,
            rows_acknowledged=self.in_flight_rows,
            last_key=self.in_flight_last_key,
            in_flight_task=None,
            in_flight_rows=None,
            in_flight_last_key=None,
        )

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FullSyncCheckpoint:
        try:
            last_key = data.get("last_key")
            in_flight_key = data.get("in_flight_last_key")
            return cls(
                index=str(data["index"]),
                build_index=str(data["build_index"]),
                rows_acknowledged=int(data["rows_acknowledged"]),
                last_key=tuple(last_key) if last_key is not None else None,
                watermark=data.get("watermark"),
                scn=data.get("scn"),
                in_flight_task=data.get("in_flight_task"),
                in_flight_rows=data.get("in_flight_rows"),
                in_flight_last_key=tuple(in_flight_key) if in_flight_key is not None else None,
                slice=data.get("slice"),
                rows_read=data.get("rows_read"),
                rows_skipped=int(data.get("rows_skipped") or 0),
                skipped_sample=tuple(data.get("skipped_sample") or ()),
            )
        except (KeyError, TypeError, ValueError) as e:
            raise SyncError(f"not a full-sync checkpoint: {data!r}") from e

    def key_values(self) -> tuple[Watermark, ...] | None:
        """The last key's column values, typed again (the keyset position to resume after)."""
        if self.last_key is None:
            return None
        return decode_key(self.last_key)


def encode_key(values: Sequence[Any]) -> tuple[str, ...]:
    """A row's key values as tagged strings (the watermark codec keeps their types)."""
    encoded = []
    for value in values:
        text = encode_watermark(value)
        if text is None:
            raise SyncError("a primary-key value is NULL")
        encoded.append(text)
    return tuple(encoded)


def decode_key(parts: Sequence[str]) -> tuple[Watermark, ...]:
    """Key values encoded by :func:`encode_key`, typed again."""
    return tuple(_decode(part) for part in parts)


def _decode(part: str) -> Watermark:
    value = decode_watermark(part)
    assert value is not None
    return value


CheckpointCallback = Callable[[FullSyncCheckpoint], None]


class CheckpointTracker:
    """Which rows each payload carried, and the checkpoint as their tasks succeed.

    The writer reports the stored key of each payload's last row, so a checkpoint names
    exactly the last row of the newest acknowledged payload.
    """

    def __init__(
        self,
        *,
        index: str,
        build_index: str,
        watermark: str | None,
        scn: int | None,
        rows: int,
        slice: int | None = None,
    ) -> None:
        """``rows``: rows already in the build index when this sync (or its resume) began
        (of its own key range, for a ``slice``)."""
        self.checkpoint = FullSyncCheckpoint(
            index=index,
            build_index=build_index,
            rows_acknowledged=rows,
            last_key=None,
            watermark=watermark,
            scn=scn,
            slice=slice,
        )
        self._sent = rows
        self._ends: dict[TaskRef, tuple[int, tuple[Any, ...]]] = {}

    def sent(
        self, task_uid: TaskRef, *, documents: int, last_key: tuple[Any, ...]
    ) -> FullSyncCheckpoint:
        """A payload of ``documents`` rows ending at ``last_key`` is enqueued: it is in flight."""
        self._sent += documents
        self._ends[task_uid] = (self._sent, last_key)
        self.checkpoint = replace(
            self.checkpoint,
            in_flight_task=task_uid,
            in_flight_rows=self._sent,
            in_flight_last_key=encode_key(last_key),
        )
        return self.checkpoint

    def done(self, task_uid: TaskRef) -> FullSyncCheckpoint | None:
        """The task succeeded: every row up to its payload's last key is in the index.

        None for a task that carried no payload of this sync."""
        if task_uid not in self._ends:
            return None
        rows, key = self._ends.pop(task_uid)
        acknowledged = replace(self.checkpoint, rows_acknowledged=rows, last_key=encode_key(key))
        if acknowledged.in_flight_task == task_uid:
            acknowledged = acknowledged.acknowledge_in_flight()
        self.checkpoint = acknowledged
        return acknowledged
