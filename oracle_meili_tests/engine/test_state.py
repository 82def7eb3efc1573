"""sync_state.json: watermarks, last success and history."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from oracle_meili.engine.checkpoint import FullSyncCheckpoint
from oracle_meili.engine.result import SyncResult
from oracle_meili.engine.state import HISTORY_LIMIT, StateFile
from oracle_meili.errors import OracleMeiliError

START = dt.datetime(2026, 11, 29, 18, 0, tzinfo=dt.UTC)


def result(n: int, *, index: str = "products") -> SyncResult:
    return SyncResult(
        index=index,
        mode="incremental",
        started_at=START + dt.timedelta(minutes=n),
        finished_at=START + dt.timedelta(minutes=n, seconds=2),
        rows_read=n,
        documents_upserted=n,
        documents_deleted=0,
        index_document_count=100 + n,
        watermark=f"int:{n}",
        previous_watermark=None,
        task_uids=(n,),
    )


def test_store_and_read_the_watermark_TEST_080_TEST_140(tmp_path: Path) -> None:
    state = StateFile(tmp_path / "sync_state.json")
    assert state.watermark("products") is None
    state.record_success(result(1))
    state.record_success(result(2))
    assert StateFile(tmp_path / "sync_state.json").watermark("products") == "int:2"


def test_status_and_history_TEST_110_TEST_111_TEST_112(tmp_path: Path) -> None:
    state = StateFile(tmp_path / "s.json")
    state.record_success(result(1))
    state.record_failure(
        index="products", mode="full", started_at="a", finished_at="b", error="boom"
    )
    last = state.last_success("products")
    assert last is not None
    assert (last["rows_read"], last["duration_seconds"], last["outcome"]) == (1, 2.0, "succeeded")
    history = state.history("products")
    assert [h["outcome"] for h in history] == ["failed", "succeeded"]
    assert history[0]["error"] == "boom"
    assert state.watermark("products") == "int:1"  # a failure never moves the watermark


def test_history_is_bounded(tmp_path: Path) -> None:
    state = StateFile(tmp_path / "s.json")
    for n in range(HISTORY_LIMIT + 5):
        state.record_success(result(n))
    assert len(state.history("products")) == HISTORY_LIMIT


def test_write_is_atomic(tmp_path: Path) -> None:
    state = StateFile(tmp_path / "s.json")
    state.record_success(result(1))
    assert [p.name for p in tmp_path.iterdir()] == ["s.json"]  # no temporary file left


def test_corrupt_file_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "s.json").write_text("{not json")
    with pytest.raises(OracleMeiliError, match="not valid JSON"):
        StateFile(tmp_path / "s.json").watermark("products")


def test_full_sync_checkpoint_is_kept_until_a_full_sync_succeeds(tmp_path: Path) -> None:
    state = StateFile(tmp_path / "s.json")
    checkpoint = FullSyncCheckpoint(
        index="products",
        build_index="products__20261129T180000_abcdef",
        rows_acknowledged=120,
        last_key=("int:130",),
        watermark="datetime:2026-01-01T00:00:00",
        in_flight_task=7,
        in_flight_rows=150,
        in_flight_last_key=("int:160",),
        slice=0,
    )
    build = checkpoint.build_index
    state.save_checkpoint(checkpoint)
    assert StateFile(tmp_path / "s.json").slice_checkpoints("products", build) == {0: checkpoint}
    state.record_success(result(1))  # an incremental sync leaves it
    assert state.slice_checkpoints("products", build) == {0: checkpoint}
    full = SyncResult(**{**result(2).__dict__, "mode": "full"})
    state.record_success(full)
    assert state.slice_checkpoints("products", build) == {}
