"""Full-sync checkpoints: JSON round trip and typed keys."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import orjson
import pytest

from oracle_meili.checkpoint import FullSyncCheckpoint, encode_key
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
