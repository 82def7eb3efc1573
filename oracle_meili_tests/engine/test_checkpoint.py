"""Full-sync checkpoints: JSON round trip and typed keys."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import orjson
import pytest

from oracle_meili.engine.checkpoint import AcknowledgedRows, FullSyncCheckpoint, encode_key
from oracle_meili.errors import MeilisearchTaskError, SyncError


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


def tracker(reported: list[FullSyncCheckpoint], *, rows: int = 0) -> AcknowledgedRows:
    return AcknowledgedRows(
        index="products",
        build_index="products__b",
        watermark="int:7",
        scn=None,
        rows=rows,
        report=reported.append,
    )


def test_tracker_checkpoints_the_last_key_of_each_acknowledged_payload() -> None:
    """Issue #9: the keys come from the payloads themselves (no look-ahead on the reader)."""
    reported: list[FullSyncCheckpoint] = []
    rows = tracker(reported)
    rows.sent(11, documents=3, first_key=(1,), last_key=(3,))
    rows.sent(12, documents=2, first_key=(4,), last_key=(5,))
    assert rows.documents_sent == 5
    # In flight: the newest payload, not yet acknowledged.
    assert reported[-1].rows_acknowledged == 0
    assert (reported[-1].in_flight_task, reported[-1].in_flight_rows) == (12, 5)
    assert reported[-1].in_flight_last_key == ("int:5",)
    rows.done(11)
    assert (reported[-1].rows_acknowledged, reported[-1].last_key) == (3, ("int:3",))
    assert reported[-1].in_flight_task == 12  # still out
    rows.done(12)
    last = reported[-1]
    assert (last.rows_acknowledged, last.last_key, last.in_flight_task) == (5, ("int:5",), None)
    assert last.key_values() == (5,)


def test_tracker_counts_rows_a_resumed_sync_started_with() -> None:
    reported: list[FullSyncCheckpoint] = []
    rows = tracker(reported, rows=100)
    rows.sent(1, documents=10, first_key=("a", 1), last_key=("b", 2))
    rows.done(1)
    assert reported[-1].rows_acknowledged == 110
    assert reported[-1].last_key == ("str:b", "int:2")


def test_tracker_names_the_payload_of_a_failed_task_TEST_093() -> None:
    rows = tracker([])
    rows.sent(21, documents=4, first_key=(1,), last_key=(4,))
    rows.sent(22, documents=4, first_key=(5,), last_key=(8,))
    failure = MeilisearchTaskError(
        index="products__b", task_uid=22, status="failed", code="invalid_document_id", message="x"
    )
    named = rows.name_the_batch(failure)
    assert named.batch == "batch 2 (4 documents, keys 5 to 8)"
    assert "batch 2 (4 documents, keys 5 to 8)" in str(named)
    unknown = MeilisearchTaskError(
        index="products__b", task_uid=99, status="failed", code="x", message="y"
    )
    assert rows.name_the_batch(unknown) is unknown
