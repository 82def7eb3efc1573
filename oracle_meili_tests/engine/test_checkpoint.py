"""Full-sync checkpoints: JSON round trip and typed keys."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from decimal import Decimal

import orjson
import pytest

from oracle_meili.engine.checkpoint import CheckpointTracker, FullSyncCheckpoint, encode_key
from oracle_meili.errors import SyncError


def test_round_trip_and_typed_key() -> None:
    key = (Decimal("10.5"), "A-1", dt.datetime(2026, 1, 2, 3, 4, 5))
    checkpoint = FullSyncCheckpoint(
        index="orders",
        build_index="orders__x",
        rows_acknowledged=5,
        last_key=encode_key(key),
        watermark="int:42",
        scn=123456789,
    )
    again = FullSyncCheckpoint.from_json(orjson.loads(orjson.dumps(checkpoint.to_json())))
    assert again == checkpoint
    assert again.key_values() == key
    # A finished key-range slice's checkpoint, as the sliced full sync keeps it.
    finished = replace(checkpoint, slice=2, rows_read=7, rows_skipped=1)
    assert FullSyncCheckpoint.from_json(orjson.loads(orjson.dumps(finished.to_json()))) == (
        finished
    )
    assert finished.finished and not checkpoint.finished


def test_in_flight_payload_acknowledged() -> None:
    checkpoint = FullSyncCheckpoint(
        index="i",
        build_index="i__b",
        rows_acknowledged=10,
        last_key=("int:10",),
        watermark=None,
        in_flight_task=3,
        in_flight_rows=20,
        in_flight_last_key=("int:20",),
    )
    acknowledged = checkpoint.acknowledge_in_flight()
    assert (acknowledged.rows_acknowledged, acknowledged.last_key) == (20, ("int:20",))
    assert acknowledged.in_flight_task is None


def test_bad_checkpoint_and_null_key() -> None:
    with pytest.raises(SyncError, match="not a full-sync checkpoint"):
        FullSyncCheckpoint.from_json({"index": "i"})
    with pytest.raises(SyncError, match="NULL"):
        encode_key([None])


def tracker(*, rows: int = 0) -> CheckpointTracker:
    return CheckpointTracker(
        index="products", build_index="products__b", watermark="int:7", scn=None, rows=rows
    )


def test_tracker_checkpoints_the_last_key_of_each_acknowledged_payload() -> None:
    """The keys come from the payloads themselves (no look-ahead on the reader)."""
    rows = tracker()
    rows.sent(11, documents=3, last_key=(3,))
    in_flight = rows.sent(12, documents=2, last_key=(5,))
    # In flight: the newest payload, not yet acknowledged.
    assert in_flight.rows_acknowledged == 0
    assert (in_flight.in_flight_task, in_flight.in_flight_rows) == (12, 5)
    assert in_flight.in_flight_last_key == ("int:5",)
    first = rows.done(11)
    assert first is not None
    assert (first.rows_acknowledged, first.last_key) == (3, ("int:3",))
    assert first.in_flight_task == 12  # still out
    last = rows.done(12)
    assert last is not None
    assert (last.rows_acknowledged, last.last_key, last.in_flight_task) == (5, ("int:5",), None)
    assert last.key_values() == (5,)
    # A task that carried no payload of this sync (a swap, say) moves nothing.
    assert rows.done(99) is None and rows.checkpoint == last


def test_tracker_counts_rows_a_resumed_sync_started_with() -> None:
    rows = tracker(rows=100)
    rows.sent(1, documents=10, last_key=("b", 2))
    acknowledged = rows.done(1)
    assert acknowledged is not None
    assert acknowledged.rows_acknowledged == 110
    assert acknowledged.last_key == ("str:b", "int:2")
