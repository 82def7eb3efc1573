"""Sync state: watermarks, full-sync checkpoints and history, behind one protocol.

:class:`StateStore` is what the runner reads and writes. :class:`StateFile` keeps it in one
JSON file (``sync_state.json``), written atomically (temporary file, fsync, rename), so a
crash never leaves a torn file. The Dagster layer keeps the same facts in the instance's
event log (``oracle_meili.defs.state``); the CLI picks one with ``--state FILE`` or
``--dagster``, so a sync from the CLI and ``follow`` continue from the same watermark.
"""

from __future__ import annotations

import datetime as dt
import os
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

import orjson

from oracle_meili.engine.checkpoint import FullSyncCheckpoint
from oracle_meili.engine.freshness import LastSync
from oracle_meili.engine.result import SyncResult
from oracle_meili.engine.slice_plan import SlicedPlan
from oracle_meili.errors import OracleMeiliError

HISTORY_LIMIT = 200


class StateStore(Protocol):
    """Where an index's sync state lives."""

    def watermark(self, index: str) -> str | None:
        """The watermark of the last successful sync of ``index`` (None if never synced)."""
        ...

    def last_syncs(self, indexes: Sequence[str]) -> dict[str, LastSync | None]:
        """The last successful sync of each of ``indexes`` (None if never synced), read at
        once: the change rule asks for every watched index at every probe."""
        ...

    def save_checkpoint(self, checkpoint: FullSyncCheckpoint) -> None:
        """Keep a full sync slice's progress (called after every acknowledged payload)."""
        ...

    def plan(self, index: str) -> SlicedPlan | None:
        """The plan of the sliced full sync of ``index`` not yet completed, if any."""
        ...

    def save_plan(self, plan: SlicedPlan) -> None:
        """Keep a sliced full sync's plan, for its slices and for a resume."""
        ...

    def slice_checkpoints(self, index: str, build_index: str) -> dict[int, FullSyncCheckpoint]:
        """The latest checkpoint of each slice writing into ``build_index``, by slice."""
        ...

    def record_success(self, result: SyncResult) -> None:
        """Record a finished sync; its watermark becomes the one the next sync reads."""
        ...

    def record_failure(
        self, *, index: str, mode: str, started_at: str, finished_at: str, error: str
    ) -> None:
        """Record a failed sync (the watermark stays where it was)."""
        ...

    def history(self, index: str, limit: int = HISTORY_LIMIT) -> list[dict[str, Any]]:
        """Recent syncs of ``index``, newest first."""
        ...


class StateFile:
    """``sync_state.json``: per index, the last successful sync and a bounded history."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def load(self) -> dict[str, Any]:
        try:
            data: dict[str, Any] = orjson.loads(self.path.read_bytes())
        except FileNotFoundError:
            return {"indexes": {}}
        except orjson.JSONDecodeError as e:
            raise OracleMeiliError(f"state file {str(self.path)!r} is not valid JSON: {e}") from e
        data.setdefault("indexes", {})
        return data

    def watermark(self, index: str) -> str | None:
        """The watermark of the last successful sync of ``index`` (None if never synced)."""
        last = self.last_success(index)
        return None if last is None else last.get("watermark")

    def last_syncs(self, indexes: Sequence[str]) -> dict[str, LastSync | None]:
        saved = self.load()["indexes"]
        found = {name: saved.get(name, {}).get("last_success") for name in indexes}
        return {name: last_sync_of(entry) if entry else None for name, entry in found.items()}

    def last_success(self, index: str) -> dict[str, Any] | None:
        entry: dict[str, Any] | None = self.load()["indexes"].get(index, {}).get("last_success")
        return entry

    def history(self, index: str, limit: int = HISTORY_LIMIT) -> list[dict[str, Any]]:
        """Recent syncs of ``index``, newest first."""
        entries: list[dict[str, Any]] = self.load()["indexes"].get(index, {}).get("history", [])
        return list(reversed(entries))[:limit]

    def save_checkpoint(self, checkpoint: FullSyncCheckpoint) -> None:
        data = self.load()
        slot = data["indexes"].setdefault(checkpoint.index, {"history": []})
        slot.setdefault("slice_checkpoints", {})[str(checkpoint.slice)] = checkpoint.to_json()
        self._write(data)

    def plan(self, index: str) -> SlicedPlan | None:
        data = self.load()["indexes"].get(index, {}).get("full_sync_plan")
        return SlicedPlan.from_json(data) if data else None

    def save_plan(self, plan: SlicedPlan) -> None:
        data = self.load()
        slot = data["indexes"].setdefault(plan.index, {"history": []})
        previous = slot.get("full_sync_plan")
        if previous is None or previous.get("build_index") != plan.build_index:
            slot.pop("slice_checkpoints", None)  # they belong to another build
        slot["full_sync_plan"] = plan.to_json()
        self._write(data)

    def slice_checkpoints(self, index: str, build_index: str) -> dict[int, FullSyncCheckpoint]:
        saved = self.load()["indexes"].get(index, {}).get("slice_checkpoints", {})
        checkpoints = (FullSyncCheckpoint.from_json(data) for data in saved.values())
        return {
            c.slice: c for c in checkpoints if c.slice is not None and c.build_index == build_index
        }

    def record_success(self, result: SyncResult) -> None:
        entry = {**result.to_json(), "outcome": "succeeded"}
        self._update(result.index, entry, success=True)

    def record_failure(
        self, *, index: str, mode: str, started_at: str, finished_at: str, error: str
    ) -> None:
        entry = {
            "index": index,
            "mode": mode,
            "started_at": started_at,
            "finished_at": finished_at,
            "outcome": "failed",
            "error": error,
        }
        self._update(index, entry, success=False)

    def _update(self, index: str, entry: dict[str, Any], *, success: bool) -> None:
        data = self.load()
        slot = data["indexes"].setdefault(index, {"history": []})
        slot["history"] = [*slot.get("history", []), entry][-HISTORY_LIMIT:]
        if success:
            slot["last_success"] = entry
            if entry.get("mode") == "full":
                # Nothing left to resume.
                for key in ("full_sync_checkpoint", "full_sync_plan", "slice_checkpoints"):
                    slot.pop(key, None)
        self._write(data)

    def _write(self, data: dict[str, Any]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".sync_state.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(orjson.dumps(data, option=orjson.OPT_INDENT_2))
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


def last_sync_of(entry: Mapping[str, Any]) -> LastSync:
    """The change rule's view of a recorded sync (``SyncResult.to_json()``). A record that
    predates the late-commits deadline takes its end as the deadline: one re-read, once."""
    if "late_commits_until" in entry:
        late = entry["late_commits_until"]
    else:
        late = entry.get("finished_at")
    return LastSync(
        watermark=entry.get("watermark"),
        late_commits_until=dt.datetime.fromisoformat(late) if late else None,
    )
