"""Sync history as the Dagster instance records it."""

from __future__ import annotations

import datetime as dt
from typing import Any

import dagster as dg

from oracle_meili.defs.metadata import recorded_sync

# The figures of a sync that its history lists (the CLI state file's names).
_FIELDS = (
    "rows_read",
    "rows_reread",
    "documents_upserted",
    "documents_deleted",
    "index_document_count",
    "duration_seconds",
    "watermark",
)


def materialization_history(
    instance: dg.DagsterInstance, index: str, key: dg.AssetKey, *, limit: int = 20
) -> list[dict[str, Any]]:
    """The recent successful syncs of ``index`` (its asset ``key``), newest first, in the
    CLI state file's shape."""
    records = instance.fetch_materializations(key, limit=limit).records
    history: list[dict[str, Any]] = []
    for record in records:
        materialization = record.asset_materialization
        if materialization is None:
            continue
        metadata = materialization.metadata
        entry: dict[str, Any] = {
            "index": index,
            "mode": record.partition_key,
            "outcome": "succeeded",
            "run_id": record.run_id or None,
            "finished_at": dt.datetime.fromtimestamp(record.timestamp, dt.UTC).isoformat(),
        }
        recorded = recorded_sync(metadata, *_FIELDS)
        for name in _FIELDS:
            value = getattr(recorded, name)
            if value is not None:
                entry[name] = value
        duration = entry.get("duration_seconds")
        if isinstance(duration, int | float):
            started = record.timestamp - duration
            entry["started_at"] = dt.datetime.fromtimestamp(started, dt.UTC).isoformat()
        history.append(entry)
    return history
