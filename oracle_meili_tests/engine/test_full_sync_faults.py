"""Full syncs that fail, resume or find their read short: the live index stays as it was."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from oracle_meili.adapters.keyset import Batch
from oracle_meili.adapters.source import TableSource
from oracle_meili.engine.checkpoint import FullSyncCheckpoint
from oracle_meili.engine.full import full_sync
from oracle_meili.engine.result import now
from oracle_meili.engine.slice_plan import SlicedPlan
from oracle_meili.engine.state import StateFile
from oracle_meili.errors import (
    DocumentError,
    MeilisearchTaskError,
    SnapshotTooOldError,
    SourceError,
    SyncError,
)
from oracle_meili_tests.conftest import MakeIndex
from oracle_meili_tests.harness import RecordedState, SyncHarness


class SourceLostAfter(TableSource):
    """The demo table, whose connection is lost after ``batches`` batches of a full read.

    (This and the sources below wrap ``read_all``: the one page loop of a full read.)"""

    batches = 4

    def read_all(self, *, batch_size: int, after: Any = None, upto: Any = None) -> Iterator[Batch]:
        for number, batch in enumerate(
            super().read_all(batch_size=batch_size, after=after, upto=upto)
        ):
            if number == self.batches:
                raise SourceError("connection lost (injected)")
            yield batch


def test_interrupted_full_sync_resumes_from_its_checkpoint(
    sync: SyncHarness, make_index: MakeIndex, tmp_path: Path
) -> None:
    index = make_index(batch_size=50)
    # Small payloads, one task in flight: a checkpoint after every few rows.
    small = sync.client_with(max_payload_bytes=6000, max_tasks_in_flight=1)
    live = sync.full(index)  # the live index the failed sync must not disturb
    state = RecordedState(tmp_path / "state.json")
    with pytest.raises(SourceError, match="connection lost"):
        full_sync(SourceLostAfter(sync.engine, index), small, state=state)
    plan = state.plan(index.name)
    assert plan is not None and plan.slices == 1  # a single reader: a plan of one slice
    (last,) = state.slice_checkpoints(index.name, plan.build_index).values()
    assert 0 < last.rows_acknowledged <= 200
    assert sync.client.index_exists(last.build_index)  # kept for the resume
    assert sync.client.document_count(index.name) == live.index_document_count

    saved = len(state.checkpoints)
    progress: list[int] = []
    result = full_sync(
        TableSource(sync.engine, index), small, state=state, on_progress=progress.append
    )
    # It read on from the checkpoint, not from the start: the payload in flight when the
    # source failed was indexed after all, so the resume starts after it.
    assert last.in_flight_task is not None
    assert progress[0] == last.acknowledge_in_flight().rows_acknowledged + 50
    assert state.checkpoints[saved].build_index == last.build_index  # the same build index
    assert result.watermark == live.watermark
    assert result.index_document_count == sync.live_count()
    assert result.rows_read == sync.live_count()  # counted across both runs
    assert sync.client.index_uids(prefix=index.name) == [index.name]


def test_a_plan_whose_build_index_is_gone_is_ignored(
    sync: SyncHarness, make_index: MakeIndex, tmp_path: Path
) -> None:
    index = make_index()
    state = StateFile(tmp_path / "state.json")
    state.save_plan(
        SlicedPlan(index=index.name, build_index=f"{index.name}__gone", parallel=1, bounds=(),
                   watermark=None, scn=None, count_before=None, started=now().isoformat())
    )  # fmt: skip
    state.save_checkpoint(
        FullSyncCheckpoint(index=index.name, build_index=f"{index.name}__gone",
                           rows_acknowledged=10, last_key=("int:10",), watermark=None, slice=0)
    )  # fmt: skip
    result = full_sync(TableSource(sync.engine, index), sync.client, state=state)
    assert result.index_document_count == sync.live_count()


BAD_ID_QUERY = (
    "SELECT CASE WHEN PRODUCT_ID = 250 THEN 'bad id' ELSE SKU END AS DOC_ID, NAME, "
    "UPDATED_AT, IS_DELETED FROM PRODUCTS"
)


def test_bad_rows_skipped_and_listed_when_asked(sync: SyncHarness, make_index: MakeIndex) -> None:
    index = make_index(table=None, query=BAD_ID_QUERY, primary_key="DOC_ID", on_bad_row="skip")
    result = sync.full(index)
    missing = sync.live_count() - result.index_document_count
    assert result.rows_skipped == 1
    assert missing == 1
    (entry,) = result.skipped_sample
    assert (entry["key"], entry["column"]) == ("bad id", "doc_id")
    assert "not a valid Meilisearch document id" in entry["error"]
    assert result.to_json()["skipped_sample"] == [entry]


def test_document_over_the_payload_limit_names_key_and_column(
    sync: SyncHarness, make_index: MakeIndex
) -> None:
    sync.execute("UPDATE PRODUCTS SET DESCRIPTION = :d WHERE PRODUCT_ID = 5", d="긴 설명 " * 2000)
    small = sync.with_settings(max_payload_bytes=5000)
    with pytest.raises(DocumentError, match=r"primary key 5, column 'description'.*payload limit"):
        small.full(make_index())


class ChangedAfterRead(TableSource):
    """The demo table, one of whose rows changes just after the full read ends."""

    def read_all(self, *, batch_size: int, after: Any = None, upto: Any = None) -> Iterator[Batch]:
        yield from super().read_all(batch_size=batch_size, after=after, upto=upto)
        with self.engine.begin() as c:
            c.execute(
                sa.text("UPDATE PRODUCTS SET NAME = 'changed meanwhile' WHERE PRODUCT_ID = 1")
            )


def test_consistency_check_gates_the_swap(sync: SyncHarness, make_index: MakeIndex) -> None:
    index = make_index(verify_before_swap=True)
    live = sync.full(index)  # passes its check
    with pytest.raises(SyncError, match=r"failed its consistency check .* mismatching ids \[1\]"):
        full_sync(
            ChangedAfterRead(sync.engine, index),
            sync.client,
        )
    assert sync.client.document_count(index.name) == live.index_document_count
    assert sync.doc(index.name, 1)["name"] != "changed meanwhile"
    assert sync.client.index_uids(prefix=index.name) == [index.name]


def test_failed_batch_is_named_TEST_092_TEST_093(sync: SyncHarness, make_index: MakeIndex) -> None:
    """Meilisearch rejects a document (a malformed _geo field): the error names the failed
    batch (number, documents, key range), the task uid, and Meilisearch's code and message."""
    query = (
        "SELECT PRODUCT_ID, NAME, UPDATED_AT, IS_DELETED, "
        "CASE WHEN PRODUCT_ID = 250 THEN 'not a place' ELSE NULL END AS _geo FROM PRODUCTS"
    )
    geo = {"filterableAttributes": ["_geo"]}  # Meilisearch checks _geo once it is used
    index = make_index(table=None, query=query, soft_delete=None, settings=geo, batch_size=50)
    small = sync.with_settings(max_payload_bytes=8000)
    with pytest.raises(MeilisearchTaskError) as raised:
        small.full(index)
    error = raised.value
    assert error.code == "invalid_document_geo_field"
    assert error.batch is not None
    first, last = (int(k) for k in re.findall(r"keys (\d+) to (\d+)", error.batch)[0])
    assert first <= last
    # Meilisearch indexes consecutive tasks together and fails them together; its message
    # names the document at fault.
    assert "250" in error.message
    assert f"task {error.task_uid} (batch " in str(error)


class SkipsARow(TableSource):
    """A read that loses one row at a page boundary."""

    def read_all(self, *, batch_size: int, after: Any = None, upto: Any = None) -> Iterator[Batch]:
        for number, batch in enumerate(
            super().read_all(batch_size=batch_size, after=after, upto=upto)
        ):
            if number == 2:
                yield Batch(list(batch[1:]), batch.keys[1:])
            else:
                yield batch


def test_a_short_full_read_fails_and_leaves_the_live_index(
    sync: SyncHarness, make_index: MakeIndex
) -> None:
    """A full sync whose read comes back short fails; the live index stays as it was."""
    index = make_index()
    live = sync.full(index)
    source = SkipsARow(sync.engine, index)
    with pytest.raises(SyncError, match=r"returned \d+ rows but PRODUCTS holds \d+"):
        full_sync(source, sync.client)
    assert sync.client.document_count(index.name) == live.index_document_count
    assert sync.client.index_uids(prefix=index.name + "__") == []  # build index removed


def test_a_short_read_is_caught_without_a_cursor_too(
    sync: SyncHarness, make_index: MakeIndex
) -> None:
    index = make_index(cursor=None)
    with pytest.raises(SyncError, match="the live index was not changed"):
        full_sync(SkipsARow(sync.engine, index), sync.client)


def test_writers_during_the_read_raise_no_false_alarm(
    sync: SyncHarness, make_index: MakeIndex
) -> None:
    """Rows inserted, updated and deleted while the full read runs: no short-read alarm."""

    class Busy(TableSource):
        def read_all(
            self, *, batch_size: int, after: Any = None, upto: Any = None
        ) -> Iterator[Batch]:
            for number, batch in enumerate(
                super().read_all(batch_size=batch_size, after=after, upto=upto)
            ):
                yield batch
                if number == 1:
                    sync.execute("DELETE FROM PRODUCTS WHERE PRODUCT_ID IN (400, 401, 402)")
                    sync.execute(
                        "UPDATE PRODUCTS SET UPDATED_AT = :now WHERE PRODUCT_ID IN (300, 301)",
                        now=dt.datetime.now(),
                    )

    index = make_index(lookback_seconds=60)
    result = full_sync(Busy(sync.engine, index), sync.client)
    assert result.index_document_count >= sync.live_count()


def test_a_page_that_does_not_move_forward_stops_the_read(
    demo_engine: sa.Engine, make_index: MakeIndex
) -> None:
    """A keyset that cannot move past a tie stops the read rather than re-reading a page."""

    class Stuck(TableSource):
        def full_page(
            self, *, after: Any, batch_size: int, upto: Any = None, columns: Any = None
        ) -> Any:
            return super().full_page(after=None, batch_size=batch_size, upto=upto, columns=columns)

    source = Stuck(demo_engine, make_index())
    with pytest.raises(SourceError, match="did not move past the key"):
        list(source.read_all(batch_size=10))


class FlashbackSource(TableSource):
    """The demo table standing in for Oracle flashback reads: ``as_of(scn)`` reads it as it
    is; reads as of a ``dead`` SCN fail as Oracle does once undo is gone (ORA-01555), and
    reads fail after ``lose_after`` batches (a lost connection)."""

    next_scn = 100
    dead: frozenset[int] = frozenset()
    lose_after: int | None = None

    def current_scn(self) -> int:
        return self.next_scn

    def as_of(self, scn: int) -> TableSource:
        return type(self)(self.engine, self.index, selectable=self.selectable, scn=scn)

    def read_all(self, *, batch_size: int, after: Any = None, upto: Any = None) -> Iterator[Batch]:
        if self.scn in self.dead:
            raise SnapshotTooOldError("ORA-01555: snapshot too old (injected)")
        for number, batch in enumerate(
            super().read_all(batch_size=batch_size, after=after, upto=upto)
        ):
            if number == self.lose_after:
                raise SourceError("connection lost (injected)")
            yield batch


def test_resume_whose_scn_is_gone_starts_afresh_with_a_new_scn(
    sync: SyncHarness, make_index: MakeIndex, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    """A resume whose SCN has left the undo (ORA-01555) starts afresh with a new SCN."""
    index = make_index(batch_size=50, consistent_snapshot=True)
    small = sync.client_with(max_payload_bytes=6000, max_tasks_in_flight=1)
    state = RecordedState(tmp_path / "state.json")

    class Interrupted(FlashbackSource):
        lose_after = 4

    with pytest.raises(SourceError, match="connection lost"):
        full_sync(Interrupted(sync.engine, index), small, state=state)
    dead = state.checkpoints[-1]
    assert dead.scn == 100 and sync.client.index_exists(dead.build_index)

    class Later(FlashbackSource):
        next_scn = 200
        dead = frozenset({100})

    saved = len(state.checkpoints)
    result = full_sync(Later(sync.engine, index), small, state=state)
    fresh = state.checkpoints[saved:]
    assert "ORA-01555" in caplog.text and "starting afresh with a new SCN" in caplog.text
    assert {c.scn for c in fresh} == {200}
    assert fresh[0].build_index != dead.build_index
    assert not sync.client.index_exists(dead.build_index)
    assert result.index_document_count == result.rows_read == sync.live_count()
