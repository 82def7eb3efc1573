"""Sync history as the Dagster instance records it (seed TEST-110..112)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import dagster as dg

from oracle_meili.defs import names
from oracle_meili.defs import names as keys

_FIELDS = {
    keys.ROWS_READ: "rows_read",
    keys.DOCUMENTS_UPSERTED: "documents_upserted",
    keys.DOCUMENTS_DELETED: "documents_deleted",
    keys.INDEX_DOCUMENT_COUNT: "index_document_count",
    keys.DURATION_SECONDS: "duration_seconds",
    keys.WATERMARK: "watermark",
}


def materialization_history(
    instance: dg.DagsterInstance, index: str, *, limit: int = 20
) -> list[dict[str, Any]]:
    """The index's recent successful syncs, newest first, in the CLI state file's shape."""
    records = instance.fetch_materializations(names.index_asset_key(index), limit=limit).records
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
        for key, name in _FIELDS.items():
            if key in metadata:
                entry[name] = metadata[key].value
        duration = entry.get("duration_seconds")
        if isinstance(duration, int | float):
            started = record.timestamp - duration
            entry["started_at"] = dt.datetime.fromtimestamp(started, dt.UTC).isoformat()
        history.append(entry)
    return history
