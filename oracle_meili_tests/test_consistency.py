"""Consistency between source and index, document by document (PERF-002)."""

from __future__ import annotations

import sqlalchemy as sa

from oracle_meili.adapters.meili import MeiliClient
from oracle_meili.adapters.source import TableSource
from oracle_meili.config import MeilisearchConfig
from oracle_meili.engine.consistency import check_consistency
from oracle_meili.engine.full import full_sync

from .conftest import MakeIndex


def test_report_finds_mismatches_orphans_and_missing_rows(
    demo_engine: sa.Engine,
    make_index: MakeIndex,
    meili_client: MeiliClient,
    meili_config: MeilisearchConfig,
) -> None:
    index = make_index()
    source = TableSource(demo_engine, index)
    full_sync(index, source=source, client=meili_client, meili=meili_config)
    clean = check_consistency(index, source=source, client=meili_client, chunk=64)
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

    report = check_consistency(index, source=source, client=meili_client, chunk=64)
    assert (report.mismatched, report.mismatch_sample) == (1, (live[0],))
    assert (report.orphans, report.orphan_sample) == (1, (live[1],))
    assert report.missing == 1
    assert report.matching == clean.matching - 2
    assert not report.consistent
    assert report.to_json()["consistent_percent"] < 100
