"""Consistency between source and index, document by document (PERF-002)."""

from __future__ import annotations

import sqlalchemy as sa

from oracle_meili.engine.consistency import ConsistencyReport
from oracle_meili_tests.conftest import MakeIndex
from oracle_meili_tests.harness import SyncHarness


def test_report_finds_mismatches_orphans_and_missing_rows(
    sync: SyncHarness, make_index: MakeIndex
) -> None:
    index = make_index()
    sync.full(index)
    demo_engine = sync.engine
    clean = sync.check(index, chunk=64)
    assert clean.consistent
    assert clean.consistent_percent == 100.0
    assert clean.matching == clean.source_rows == clean.index_documents

    with demo_engine.begin() as c:
        live = [r[0] for r in c.execute(sa.text(
            "SELECT PRODUCT_ID FROM PRODUCTS WHERE IS_DELETED = 'N' ORDER BY PRODUCT_ID LIMIT 2"
        ))]  # fmt: skip
        # A change the index has not seen (no sync since), a hard delete, a new row.
        c.execute(sa.text("UPDATE PRODUCTS SET STOCK = STOCK + 1 WHERE PRODUCT_ID = :i"),
                  {"i": live[0]})  # fmt: skip
        c.execute(sa.text("DELETE FROM PRODUCTS WHERE PRODUCT_ID = :i"), {"i": live[1]})
        c.execute(sa.text(
            "INSERT INTO PRODUCTS SELECT 9999, 'SKU-9999', 'new', NULL, 'c', NULL, 'en', 1, 1, "
            "UPDATED_AT, UPDATED_AT, 'N' FROM PRODUCTS WHERE PRODUCT_ID = :i"
        ), {"i": live[0]})  # fmt: skip

    report = sync.check(index, chunk=64)
    assert (report.mismatched, report.mismatch_sample) == (1, (live[0],))
    assert (report.orphans, report.orphan_sample) == (1, (live[1],))
    assert report.missing == 1
    assert report.matching == clean.matching - 2
    assert not report.consistent
    assert report.to_json()["consistent_percent"] < 100


def test_report_summary_reads_as_a_sentence() -> None:
    """The check's log line is a sentence, not a Python dict."""
    report = ConsistencyReport(
        index="products",
        source_rows=10_000,
        index_documents=9_999,
        matching=9_998,
        mismatched=1,
        mismatch_sample=(7,),
        orphans=0,
        orphan_sample=(),
        duration_seconds=1.25,
    )
    assert report.summary() == (
        "products: 10,000 live rows, 9,999 documents; 9,998 match, 1 differ, 1 missing, "
        "0 orphans (99.98 % consistent) in 1.2 s"
    )
