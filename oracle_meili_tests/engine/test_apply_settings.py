"""apply-settings against the real Meilisearch: a new index with the configured settings,
built from the live one's documents (vectors included) without a read of the source,
checked and swapped in; or, for query-time settings, applied in place."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import orjson
import pytest
import sqlalchemy as sa

from oracle_meili.engine.apply_settings import apply_settings
from oracle_meili.engine.settings_drift import settings_drift
from oracle_meili.errors import ConfigError, SyncError
from oracle_meili_tests.conftest import MakeIndex
from oracle_meili_tests.harness import SyncHarness

# Searching "kettle" also finds earbuds (a synonym is one way: the key finds its list).
SYNONYMS = {"kettle": ["earbuds"]}


@contextmanager
def statements_counted(engine: sa.Engine) -> Iterator[list[str]]:
    """Every statement ``engine`` executes meanwhile."""
    seen: list[str] = []

    def record(*args: Any) -> None:
        seen.append(str(args[2]))

    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)


def test_a_new_index_from_the_live_documents_without_a_source_read(
    sync: SyncHarness, make_index: MakeIndex
) -> None:
    """The settings change (a synonym, fewer searchable attributes) is live afterwards;
    every document is there, unchanged; the source saw no statement; no build is left."""
    index = make_index()
    sync.full(index)
    before = {d["product_id"]: d for page in sync.client.documents(index.name, chunk=500)
              for d in page}  # fmt: skip
    assert not sync.client.search(index.name, "kettle", filter="category = 'Electronics'")["hits"]
    changed = make_index(
        settings={**index.settings, "synonyms": SYNONYMS, "searchableAttributes": ["name"]}
    )
    assert {d.key for d in settings_drift(changed, sync.client)} == {
        "synonyms", "searchableAttributes"
    }  # fmt: skip
    pages: list[int] = []
    with statements_counted(sync.engine) as statements:
        result = apply_settings(changed, sync.client, on_progress=pages.append)
    assert statements == []
    assert (result.how, result.changed) == ("copy", ("searchableAttributes", "synonyms"))
    assert result.documents == len(before) and pages[-1] == len(before)
    assert settings_drift(changed, sync.client) == []
    after = {d["product_id"]: d for page in sync.client.documents(index.name, chunk=500)
             for d in page}  # fmt: skip
    assert after == before
    # The synonym works: "kettle" finds earbuds now.
    hits = sync.client.search(index.name, "kettle", filter="category = 'Electronics'")["hits"]
    assert hits and all("Earbuds" in h["name"] for h in hits)
    assert sync.client.index_uids(prefix=f"{index.name}__") == []
    # Nothing left to apply.
    assert apply_settings(changed, sync.client).how == "unchanged"


def test_vectors_come_across(sync: SyncHarness, make_index: MakeIndex) -> None:
    sync.execute("CREATE TABLE DOCS (DOC_ID INTEGER PRIMARY KEY, TITLE TEXT, EMBEDDING TEXT)")
    vectors = {1: [1, 0, 0], 2: [0.9, 0.1, 0], 3: [0, 1, 0]}
    for doc_id, vector in vectors.items():
        sync.execute("INSERT INTO DOCS VALUES (:i, :t, :e)", i=doc_id, t=f"doc {doc_id}",
                     e=orjson.dumps(vector).decode())  # fmt: skip
    shaped: dict[str, Any] = {
        "table": "DOCS", "primary_key": "DOC_ID", "cursor": None, "soft_delete": None,
        "vectors": {"mini": {"column": "EMBEDDING", "dimensions": 3}},
    }  # fmt: skip
    index = make_index(**shaped, settings={"searchableAttributes": ["title"]})
    sync.full(index)
    changed = make_index(
        **shaped, settings={"searchableAttributes": ["title"], "stopWords": ["doc"]}
    )
    assert apply_settings(changed, sync.client).how == "copy"
    hits = sync.client.search(
        index.name, "", vector=[0.8, 0.2, 0], hybrid={"embedder": "mini", "semanticRatio": 1.0},
        limit=3, retrieveVectors=True,
    )["hits"]  # fmt: skip
    assert [h["doc_id"] for h in hits] == [2, 1, 3]
    # Meilisearch keeps vectors as 32-bit floats.
    assert hits[0]["_vectors"]["mini"]["embeddings"] == [pytest.approx([0.9, 0.1, 0.0])]


def test_a_build_failing_a_search_check_leaves_the_live_index_as_it_was(
    sync: SyncHarness, make_index: MakeIndex
) -> None:
    checks = [{"q": "wireless earbuds", "min_hits": 1}]
    index = make_index(search_checks=checks)
    sync.full(index)
    live = sync.client.settings(index.name)
    breaking = make_index(
        settings={**index.settings, "searchableAttributes": ["category"]}, search_checks=checks
    )
    with pytest.raises(SyncError, match=r"search search_1 \('wireless earbuds'\): 0 hits"):
        apply_settings(breaking, sync.client)
    assert sync.client.settings(index.name) == live
    assert sync.client.index_uids(prefix=f"{index.name}__") == []


def test_in_place_applies_query_time_settings_and_refuses_others(
    sync: SyncHarness, make_index: MakeIndex
) -> None:
    index = make_index()
    sync.full(index)
    query_time = make_index(settings={**index.settings, "synonyms": SYNONYMS,
                                      "pagination": {"maxTotalHits": 50}})  # fmt: skip
    result = apply_settings(query_time, sync.client, in_place=True)
    assert (result.how, result.changed) == ("in_place", ("pagination", "synonyms"))
    assert settings_drift(query_time, sync.client) == []
    assert sync.client.index_uids(prefix=f"{index.name}__") == []
    # A setting no longer configured goes back to Meilisearch's default.
    assert apply_settings(index, sync.client, in_place=True).changed == ("pagination", "synonyms")
    assert settings_drift(index, sync.client) == []
    reindexing = make_index(settings={**index.settings, "stopWords": ["the"], "synonyms": SYNONYMS})
    live = sync.client.settings(index.name)
    with pytest.raises(ConfigError, match="--in-place cannot apply stopWords: Meilisearch re-"):
        apply_settings(reindexing, sync.client, in_place=True)
    assert sync.client.settings(index.name) == live
