"""Search checks against the real Meilisearch: judged on what the search returns, and, with
``verify_before_swap``, a gate that keeps a build failing them from going live."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import yaml
from hypothesis import given
from hypothesis import strategies as st

from oracle_meili.adapters.meili import MeiliClient
from oracle_meili.config import SearchCheck, parse_config
from oracle_meili.demo import create_demo
from oracle_meili.engine.search_checks import problems_of, run_search_checks
from oracle_meili.errors import SyncError
from oracle_meili_tests.conftest import MakeIndex
from oracle_meili_tests.harness import SyncHarness
from oracle_meili_tests.test_docs import blocks

EARBUDS = "Wireless Earbuds"


def earbud_ids(sync: SyncHarness) -> list[int]:
    rows = sync.scalar(
        "SELECT GROUP_CONCAT(PRODUCT_ID) FROM PRODUCTS "
        "WHERE NAME LIKE :n AND IS_DELETED = 'N' AND CATEGORY = 'Electronics'",
        n=f"%{EARBUDS}%",
    )
    return sorted(int(i) for i in rows.split(","))


def test_search_checks_report_what_came_back(sync: SyncHarness, make_index: MakeIndex) -> None:
    """Passing and failing checks, each with its hits' count, first ids and shown field."""
    expected = earbud_ids(sync)
    index = make_index(
        search_checks=[
            {"q": "wireless earbuds", "filter": "category = 'Electronics'", "limit": 50,
             "expect_top": expected[:3], "min_hits": len(expected), "show": "name"},
            {"q": "wireless earbuds", "expect_first": [-1], "max_hits": 1},
            {"q": "qxzvwjk", "max_hits": 0},
        ]
    )  # fmt: skip
    sync.full(index)
    passing, failing, nothing = run_search_checks(
        sync.client, index, uid=index.name, id_field="product_id"
    )
    assert passing.passed and passing.total_hits == len(expected)
    assert all(EARBUDS in name for name in passing.shown)
    assert len(passing.top_ids) == 10 and set(passing.top_ids) <= set(expected)
    assert not failing.passed
    assert failing.problems == (
        f"the hits start with [{failing.top_ids[0]}], not [-1]",
        f"{failing.total_hits} hits, more than 1",
    )
    assert "search search_2 ('wireless earbuds')" in failing.describe()
    assert nothing.passed and nothing.total_hits == 0


def test_a_build_failing_its_search_checks_is_not_published(
    sync: SyncHarness, make_index: MakeIndex
) -> None:
    """verify_before_swap: a settings change that breaks a search people rely on (the
    names no longer searchable) is not published; the live index stays as it was, and the
    error names the query and what came back."""
    checks = [{"q": "wireless earbuds", "min_hits": 1, "show": "name"}]
    index = make_index(verify_before_swap=True, search_checks=checks)
    sync.full(index)
    live = sync.client.document_count(index.name)
    gated = make_index(
        verify_before_swap=True,
        settings={"searchableAttributes": ["category"]},
        search_checks=checks,
    )
    with pytest.raises(SyncError, match=r"search search_1 \('wireless earbuds'\): 0 hits") as e:
        sync.full(gated)
    assert "the live index was not changed" in str(e.value)
    hits = sync.client.search(index.name, "wireless earbuds")["hits"]
    assert hits and all(EARBUDS in hit["name"] for hit in hits)
    assert sync.client.document_count(index.name) == live
    assert sync.client.index_uids(prefix=f"{index.name}__") == []


ids = st.one_of(st.integers(-3, 12), st.integers(-3, 12).map(str))


@given(hits=st.lists(st.integers(-3, 12), max_size=12, unique=True), top=st.lists(ids, max_size=4))
def test_expect_top_holds_exactly_when_every_id_is_among_the_hits(
    hits: list[int], top: list[Any]
) -> None:
    """An id written as a number or as text matches the document id either way."""
    if not top:
        return
    check = SearchCheck(q="x", expect_top=tuple(top), limit=12)
    held = {str(i) for i in top} <= {str(h) for h in hits}
    assert (not problems_of(check, hits, len(hits))) == held


@given(hits=st.lists(ids, max_size=8), first=st.lists(ids, min_size=1, max_size=3))
def test_expect_first_holds_exactly_when_the_hits_start_with_it(
    hits: list[Any], first: list[Any]
) -> None:
    check = SearchCheck(q="x", expect_first=tuple(first))
    held = [str(h) for h in hits[: len(first)]] == [str(f) for f in first]
    assert (not problems_of(check, hits, len(hits))) == held


@given(
    total=st.integers(0, 50),
    low=st.none() | st.integers(0, 25),
    high=st.none() | st.integers(25, 50),
)
def test_hit_bounds(total: int, low: int | None, high: int | None) -> None:
    if low is None and high is None:
        return
    check = SearchCheck(q="x", min_hits=low, max_hits=high)
    held = (low is None or total >= low) and (high is None or total <= high)
    assert (not problems_of(check, [], total)) == held


def test_the_docs_search_checks_pass_on_the_demo_catalogue(
    tmp_path: Path, meili_client: MeiliClient
) -> None:
    """docs/configuration.md's example, on the demo's catalogue it names: every check
    passes, so each id and bound it shows is what the demo returns."""
    (shown,) = [b for b in blocks("yaml") if "search_checks:" in b.text and "indexes:" in b.text]
    raw = yaml.safe_load(shown.text)
    raw["source"]["url"] = f"sqlite:///{create_demo(tmp_path / 'demo.db')}"
    raw["indexes"][0]["name"] = f"docs_{uuid.uuid4().hex[:8]}"
    config = parse_config(raw, environ={})
    index = config.indexes[0]
    engine = sa.create_engine(raw["source"]["url"])
    try:
        SyncHarness(engine, meili_client).full(index)
    finally:
        engine.dispose()
    outcomes = run_search_checks(meili_client, index, uid=index.name, id_field="product_id")
    assert [o.describe() for o in outcomes if not o.passed] == []
    assert len(outcomes) == 4
