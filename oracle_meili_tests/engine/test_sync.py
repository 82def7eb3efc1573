"""Full and incremental syncs against a real Meilisearch (seed TEST-070..084, TEST-130..132)."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
import sqlalchemy as sa

from oracle_meili.adapters.keyset import Batch
from oracle_meili.adapters.meili import MeiliClient
from oracle_meili.adapters.server import free_port
from oracle_meili.adapters.source import TableSource
from oracle_meili.config import MeilisearchConfig
from oracle_meili.demo import create_demo
from oracle_meili.engine.checkpoint import FullSyncCheckpoint
from oracle_meili.engine.full import full_sync
from oracle_meili.engine.watermark import decode_watermark
from oracle_meili.errors import (
    DocumentError,
    MeilisearchError,
    MeilisearchTaskError,
    MeilisearchUnavailableError,
    SnapshotTooOldError,
    SourceError,
    SyncError,
)
from oracle_meili_tests.conftest import MakeIndex
from oracle_meili_tests.harness import SyncHarness


def test_full_sync_loads_every_live_row_TEST_070_to_073(
    sync: SyncHarness, make_index: MakeIndex
) -> None:
    """TEST-070 every live row extracted, TEST-071 rows become documents, TEST-072 sent in
    batches, TEST-073 the document count matches."""
    index = make_index()
    result = sync.full(index)
    expected = sync.live_count()
    assert result.rows_read == result.documents_upserted == result.index_document_count == expected
    assert sync.client.document_count(index.name) == expected
    assert result.watermark is not None and decode_watermark(result.watermark) is not None
    assert result.task_uids
    doc = sync.doc(index.name, 1)
    assert doc["sku"] == "SKU-00000001" and isinstance(doc["price"], float)
    # No build index is left behind.
    assert sync.client.index_uids(prefix=index.name) == [index.name]


def test_korean_and_english_search_finds_synced_products_TEST_130(
    sync: SyncHarness, make_index: MakeIndex
) -> None:
    index = make_index()
    sync.full(index)
    korean = sync.client.search(index.name, "이어폰")
    assert korean["hits"] and all("이어폰" in h["name"] for h in korean["hits"])
    filtered = sync.client.search(index.name, "", filter="price < 10")
    assert all(h["price"] < 10 for h in filtered["hits"])


def test_full_sync_swaps_an_existing_index(sync: SyncHarness, make_index: MakeIndex) -> None:
    index = make_index()
    sync.full(index)
    sync.execute("DELETE FROM PRODUCTS WHERE PRODUCT_ID <= 10")  # a hard delete
    result = sync.full(index)
    assert result.index_document_count == sync.live_count()
    assert sync.client.index_uids(prefix=index.name) == [index.name]
    with pytest.raises(MeilisearchError, match="document_not_found"):
        sync.doc(index.name, 1)


def test_bad_document_id_leaves_live_index_untouched(
    sync: SyncHarness, make_index: MakeIndex
) -> None:
    index = make_index()
    first = sync.full(index)
    query = (
        "SELECT CASE WHEN PRODUCT_ID = 250 THEN 'bad id' ELSE SKU END AS DOC_ID, NAME, "
        "UPDATED_AT, IS_DELETED FROM PRODUCTS"
    )
    bad = make_index(table=None, query=query, primary_key="DOC_ID")
    with pytest.raises(DocumentError, match=rf"index '{index.name}', primary key 'bad id'"):
        sync.full(bad)
    assert sync.client.document_count(index.name) == first.index_document_count
    assert sync.doc(index.name, 1)["product_id"] == 1
    assert sync.client.index_uids(prefix=index.name) == [index.name]


def test_failed_meilisearch_task_leaves_live_index_untouched(
    sync: SyncHarness, make_index: MakeIndex
) -> None:
    index = make_index()
    first = sync.full(index)
    broken = make_index(settings={"rankingRules": ["no_such_rule"]})
    with pytest.raises(MeilisearchError, match="invalid_settings_ranking_rules"):
        sync.full(broken)
    assert sync.client.document_count(index.name) == first.index_document_count
    assert sync.client.index_uids(prefix=index.name) == [index.name]


def test_recreate_strategy_TEST_074(sync: SyncHarness, make_index: MakeIndex) -> None:
    index = make_index(full_strategy="recreate")
    sync.full(index)
    sync.execute("DELETE FROM PRODUCTS WHERE PRODUCT_ID <= 10")
    result = sync.full(index)
    assert result.strategy == "recreate"
    assert sync.client.document_count(index.name) == sync.live_count()


def test_incremental_sync_upserts_changes_and_deletes_soft_deleted_TEST_080_to_084_TEST_131(
    sync: SyncHarness, make_index: MakeIndex
) -> None:
    """TEST-080 the sync point stored and read, TEST-081 only changed rows extracted,
    TEST-082 upserted, TEST-083 soft-deleted rows deleted, TEST-084 the sync point advanced."""
    index = make_index(lookback_seconds=0)
    full = sync.full(index)
    now = dt.datetime(2026, 6, 1, 12, 0)
    sync.execute(
        "UPDATE PRODUCTS SET NAME = '새 이름 무선', UPDATED_AT = :t WHERE PRODUCT_ID = 2",
        t=now,
    )
    sync.execute(
        "UPDATE PRODUCTS SET IS_DELETED = 'Y', UPDATED_AT = :t WHERE PRODUCT_ID = 3",
        t=now,
    )
    sync.execute(
        "INSERT INTO PRODUCTS SELECT 9001, 'SKU-9001', 'Brand new kettle', NULL, 'Kitchen', NULL, "
        "'en', 10.5, 1, :t, :t, 'N'",
        t=now,
    )
    result = sync.incremental(index, full.watermark)
    assert (result.rows_read, result.documents_upserted, result.documents_deleted) == (3, 2, 1)
    assert result.previous_watermark == full.watermark
    assert decode_watermark(result.watermark) == now
    assert sync.doc(index.name, 2)["name"] == "새 이름 무선"
    assert sync.doc(index.name, 9001)["name"] == "Brand new kettle"
    assert sync.client.search(index.name, "Brand new kettle")["hits"][0]["product_id"] == 9001
    with pytest.raises(MeilisearchError, match="document_not_found"):
        sync.doc(index.name, 3)
    assert result.index_document_count == sync.live_count()
    again = sync.incremental(index, result.watermark)
    assert again.rows_read == 0 and again.watermark == result.watermark


def test_late_commit_inside_lookback_is_picked_up(sync: SyncHarness, make_index: MakeIndex) -> None:
    index = make_index(lookback_seconds=60)
    full = sync.full(index)
    watermark = decode_watermark(full.watermark)
    assert isinstance(watermark, dt.datetime)
    # A transaction that stamped its row before the last sync but committed after it.
    late = watermark - dt.timedelta(seconds=30)
    sync.execute(
        "UPDATE PRODUCTS SET NAME = 'late row', UPDATED_AT = :t WHERE PRODUCT_ID = 5",
        t=late,
    )
    without = sync.incremental(make_index(lookback_seconds=0), full.watermark)
    assert without.rows_read == 0
    result = sync.incremental(index, full.watermark)
    assert sync.doc(index.name, 5)["name"] == "late row"
    assert result.watermark == full.watermark  # the upper bound did not move


def test_incremental_creates_missing_index_with_settings(
    sync: SyncHarness, make_index: MakeIndex
) -> None:
    index = make_index()
    result = sync.incremental(index, None)
    assert result.rows_read == 500
    assert result.index_document_count == sync.live_count()
    # Soft-deleted rows were never in the new index: nothing was deleted (issue #10: it used
    # to report the deletes asked for).
    assert sync.scalar("SELECT COUNT(*) FROM PRODUCTS WHERE IS_DELETED = 'Y'") > 0
    assert result.documents_deleted == 0
    assert result.documents_upserted == result.index_document_count
    settings = sync.client.settings(index.name)
    assert settings["filterableAttributes"] == ["category", "price"]


def test_composite_primary_key_end_to_end(sync: SyncHarness, make_index: MakeIndex) -> None:
    query = "SELECT CATEGORY, PRODUCT_ID AS LINE, NAME, UPDATED_AT, IS_DELETED FROM PRODUCTS"
    index = make_index(table=None, query=query, primary_key=["CATEGORY", "LINE"])
    result = sync.full(index)
    assert result.index_document_count == sync.live_count()
    hit = sync.client.search(index.name, "", filter=None, limit=1)["hits"][0]
    assert hit["id"].endswith(f"-{hit['line']}")


def test_unreachable_meilisearch_fails_before_touching_anything(
    demo_engine: sa.Engine, make_index: MakeIndex
) -> None:
    config = MeilisearchConfig(url=f"http://127.0.0.1:{free_port()}", timeout_seconds=2)
    with (
        MeiliClient(config) as client,
        pytest.raises(MeilisearchUnavailableError, match="unreachable"),
    ):
        SyncHarness(demo_engine, client).full(make_index())


def test_full_sync_of_10000_rows_TEST_132(
    tmp_path: Path,
    make_index: MakeIndex,
    meili_client: MeiliClient,
    meili_config: MeilisearchConfig,
) -> None:
    engine = sa.create_engine(f"sqlite:///{create_demo(tmp_path / 'big.db', rows=10_000)}")
    # Small payloads force several tasks in flight and several NDJSON payloads.
    big = SyncHarness(engine, meili_client).with_settings(
        max_payload_bytes=500_000, max_tasks_in_flight=2
    )
    result = big.full(make_index(batch_size=1000))
    assert result.index_document_count == big.live_count() > 9500
    assert len(result.task_uids) > 3
    engine.dispose()


def test_bad_row_in_incremental_sync_changes_nothing_live(
    sync: SyncHarness, make_index: MakeIndex
) -> None:
    query = (
        "SELECT CASE WHEN PRODUCT_ID = 250 THEN 'bad id' ELSE SKU END AS DOC_ID, NAME, "
        "UPDATED_AT, IS_DELETED FROM PRODUCTS"
    )
    index = make_index(table=None, query=query, primary_key="DOC_ID", settings={})
    sync.execute("UPDATE PRODUCTS SET PRODUCT_ID = 100250 WHERE PRODUCT_ID = 250")
    full = sync.full(index)
    sync.execute("UPDATE PRODUCTS SET PRODUCT_ID = 250 WHERE PRODUCT_ID = 100250")
    now = dt.datetime(2026, 6, 1)
    # Row 2 sorts before the bad row, so its document is serialized first: it must still
    # not reach the live index when the run fails.
    sync.execute(
        "UPDATE PRODUCTS SET NAME = 'must not appear', IS_DELETED = 'N', UPDATED_AT = :t "
        "WHERE PRODUCT_ID IN (2, 250)",
        t=now,
    )
    with pytest.raises(DocumentError, match="primary key 'bad id'"):
        sync.incremental(index, full.watermark)
    assert sync.doc(index.name, "SKU-00000002")["name"] != "must not appear"
    assert sync.client.document_count(index.name) == full.index_document_count


class SourceLostAfter(TableSource):
    """The demo table, whose connection is lost after ``batches`` batches of a full read.

    (This and the sources below wrap ``read_all``: the one page loop of a full read.)"""

    batches = 4

    def read_all(self, *, batch_size: int, after: Any = None) -> Iterator[Batch]:
        for number, batch in enumerate(super().read_all(batch_size=batch_size, after=after)):
            if number == self.batches:
                raise SourceError("connection lost (injected)")
            yield batch


def test_interrupted_full_sync_resumes_from_its_checkpoint(
    sync: SyncHarness, make_index: MakeIndex
) -> None:
    index = make_index(batch_size=50)
    # Small payloads, one task in flight: a checkpoint after every few rows.
    small = sync.client_with(max_payload_bytes=6000, max_tasks_in_flight=1)
    live = sync.full(index)  # the live index the failed sync must not disturb
    checkpoints: list[FullSyncCheckpoint] = []
    with pytest.raises(SourceError, match="connection lost"):
        full_sync(
            SourceLostAfter(sync.engine, index),
            small,
            on_checkpoint=checkpoints.append,
        )
    last = FullSyncCheckpoint.from_json(orjson.loads(orjson.dumps(checkpoints[-1].to_json())))
    assert 0 < last.rows_acknowledged <= 200
    assert sync.client.index_exists(last.build_index)  # kept for the resume
    assert sync.client.document_count(index.name) == live.index_document_count

    resumed_from: list[FullSyncCheckpoint] = []
    progress: list[int] = []
    result = full_sync(
        TableSource(sync.engine, index),
        small,
        resume=last,
        on_checkpoint=resumed_from.append,
        on_progress=progress.append,
    )
    # It read on from the checkpoint, not from the start: the payload in flight when the
    # source failed was indexed after all, so the resume starts after it.
    assert last.in_flight_task is not None
    assert progress[0] == last.acknowledge_in_flight().rows_acknowledged + 50
    assert resumed_from[0].build_index == last.build_index  # the same build index
    assert result.watermark == live.watermark
    assert result.index_document_count == sync.live_count()
    assert result.rows_read == sync.live_count()  # counted across both runs
    assert sync.client.index_uids(prefix=index.name) == [index.name]


def test_stale_checkpoint_is_ignored(sync: SyncHarness, make_index: MakeIndex) -> None:
    index = make_index()
    gone = FullSyncCheckpoint(
        index=index.name,
        build_index=f"{index.name}__gone",
        rows_acknowledged=10,
        last_key=("int:10",),
        watermark=None,
    )
    result = full_sync(
        TableSource(sync.engine, index),
        sync.client,
        resume=gone,
        on_checkpoint=lambda checkpoint: None,
    )
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

    def read_all(self, *, batch_size: int, after: Any = None) -> Iterator[Batch]:
        yield from super().read_all(batch_size=batch_size, after=after)
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
    """A read that loses one row at a page boundary, as the old keyset comparison did."""

    def read_all(self, *, batch_size: int, after: Any = None) -> Iterator[Batch]:
        for number, batch in enumerate(super().read_all(batch_size=batch_size, after=after)):
            if number == 2:
                yield Batch(list(batch[1:]), batch.keys[1:])
            else:
                yield batch


def test_a_short_full_read_fails_and_leaves_the_live_index(
    sync: SyncHarness, make_index: MakeIndex
) -> None:
    """Issue #8: a full sync can no longer succeed short; the old index stays live."""
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
        def read_all(self, *, batch_size: int, after: Any = None) -> Iterator[Batch]:
            for number, batch in enumerate(super().read_all(batch_size=batch_size, after=after)):
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
    """Issue #13 item 2: a keyset that cannot move past a tie would re-read one page for ever."""

    class Stuck(TableSource):
        def full_page(self, *, after: Any, batch_size: int, columns: Any = None) -> Any:
            return super().full_page(after=None, batch_size=batch_size, columns=columns)

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

    def read_all(self, *, batch_size: int, after: Any = None) -> Iterator[Batch]:
        if self.scn in self.dead:
            raise SnapshotTooOldError("ORA-01555: snapshot too old (injected)")
        for number, batch in enumerate(super().read_all(batch_size=batch_size, after=after)):
            if number == self.lose_after:
                raise SourceError("connection lost (injected)")
            yield batch


def test_resume_whose_scn_is_gone_starts_afresh_with_a_new_scn(
    sync: SyncHarness, make_index: MakeIndex, caplog: pytest.LogCaptureFixture
) -> None:
    """Issue #13 item 4: ORA-01555 on resume used to fail again and again."""
    index = make_index(batch_size=50, consistent_snapshot=True)
    small = sync.client_with(max_payload_bytes=6000, max_tasks_in_flight=1)
    checkpoints: list[FullSyncCheckpoint] = []

    class Interrupted(FlashbackSource):
        lose_after = 4

    with pytest.raises(SourceError, match="connection lost"):
        full_sync(
            Interrupted(sync.engine, index),
            small,
            on_checkpoint=checkpoints.append,
        )
    dead = checkpoints[-1]
    assert dead.scn == 100 and sync.client.index_exists(dead.build_index)

    class Later(FlashbackSource):
        next_scn = 200
        dead = frozenset({100})

    fresh: list[FullSyncCheckpoint] = []
    result = full_sync(
        Later(sync.engine, index),
        small,
        resume=dead,
        on_checkpoint=fresh.append,
    )
    assert "can no longer be read" in caplog.text and "starting afresh" in caplog.text
    assert {c.scn for c in fresh} == {200}
    assert fresh[0].build_index != dead.build_index
    assert not sync.client.index_exists(dead.build_index)
    assert result.index_document_count == result.rows_read == sync.live_count()
