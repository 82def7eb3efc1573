"""Hard deletes found by reconciliation, against a real Meilisearch."""

from __future__ import annotations

import sqlalchemy as sa

from oracle_meili.adapters.meili import MeiliClient
from oracle_meili.adapters.source import TableSource
from oracle_meili.config import MeilisearchConfig
from oracle_meili.engine.full import full_sync
from oracle_meili.engine.reconcile import reconcile
from oracle_meili_tests.conftest import MakeIndex


def live_count(engine: sa.Engine) -> int:
    with engine.connect() as c:
        sql = "SELECT COUNT(*) FROM PRODUCTS WHERE IS_DELETED = 'N'"
        return int(c.execute(sa.text(sql)).scalar_one())


def test_hard_and_soft_deleted_rows_are_removed(
    demo_engine: sa.Engine,
    make_index: MakeIndex,
    meili_client: MeiliClient,
    meili_config: MeilisearchConfig,
) -> None:
    index = make_index()
    source = TableSource(demo_engine, index)
    full_sync(source, meili_client)
    with demo_engine.connect() as c:
        expected = {
            r[0]
            for r in c.execute(
                sa.text(
                    "SELECT PRODUCT_ID FROM PRODUCTS WHERE IS_DELETED = 'N' "
                    "AND PRODUCT_ID IN (11, 12, 13, 14, 15, 21, 22)"
                )
            )
        }
    assert len(expected) >= 5
    with demo_engine.begin() as c:
        c.execute(sa.text("DELETE FROM PRODUCTS WHERE PRODUCT_ID IN (11, 12, 13, 14, 15)"))
        # Soft-deleted without touching the cursor: an incremental sync would not see it.
        c.execute(sa.text("UPDATE PRODUCTS SET IS_DELETED = 'Y' WHERE PRODUCT_ID IN (21, 22)"))
    before = meili_client.document_count(index.name)

    dry = reconcile(source, meili_client, dry_run=True, chunk=100)
    assert dry.documents_checked == before
    assert dry.orphans == len(expected)
    assert set(dry.orphan_sample) == expected
    assert meili_client.document_count(index.name) == before  # nothing deleted

    progress: list[tuple[str, int]] = []
    result = reconcile(
        source,
        meili_client,
        chunk=100,
        on_progress=lambda side, count: progress.append((side, count)),
    )
    # Both sides streamed, index first, a chunk at a time.
    assert progress[0] == ("index", 100) and progress[-1][0] == "source"
    assert max(c for s, c in progress if s == "index") == before
    assert result.orphans == dry.orphans
    assert set(result.orphan_sample) == expected
    assert meili_client.document_count(index.name) == live_count(demo_engine)
    again = reconcile(source, meili_client)
    assert again.orphans == 0


def test_composite_keys(
    demo_engine: sa.Engine,
    make_index: MakeIndex,
    meili_client: MeiliClient,
    meili_config: MeilisearchConfig,
) -> None:
    query = "SELECT CATEGORY, PRODUCT_ID AS LINE, NAME, UPDATED_AT, IS_DELETED FROM PRODUCTS"
    index = make_index(table=None, query=query, primary_key=["CATEGORY", "LINE"])
    source = TableSource(demo_engine, index)
    full_sync(source, meili_client)
    with demo_engine.begin() as c:
        c.execute(sa.text("DELETE FROM PRODUCTS WHERE PRODUCT_ID IN (31, 32, 33)"))
    result = reconcile(source, meili_client, chunk=64)
    assert 0 < result.orphans <= 3
    assert all(str(i).endswith(("-31", "-32", "-33")) for i in result.orphan_sample)
    assert meili_client.document_count(index.name) == live_count(demo_engine)
