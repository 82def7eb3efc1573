"""Settings drift: the live index's settings against the configured ones, on the real
Meilisearch."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from oracle_meili.adapters.meili import MeiliClient
from oracle_meili.config.index_settings import MEILISEARCH_DEFAULTS
from oracle_meili.engine.settings_drift import normalise, settings_drift
from oracle_meili_tests.conftest import MakeIndex
from oracle_meili_tests.harness import SyncHarness

# Settings of every kind a configuration may give, some partly (Meilisearch fills in the
# rest), set-like lists in an order Meilisearch does not keep.
RICH_SETTINGS: dict[str, Any] = {
    "searchableAttributes": ["name", "description", "category"],
    "filterableAttributes": ["price", "category", {"attributePatterns": ["bra*"]}],
    "sortableAttributes": ["price", "name"],
    "rankingRules": ["words", "sort", "typo", "proximity", "attribute", "exactness"],
    "stopWords": ["the", "a", "of"],
    "synonyms": {"phone": ["mobile", "cell"], "이어폰": ["earbuds"]},
    "typoTolerance": {"minWordSizeForTypos": {"oneTypo": 4}, "disableOnWords": ["z", "a"]},
    "faceting": {"maxValuesPerFacet": 50},
    "pagination": {"maxTotalHits": 5000},
    "localizedAttributes": [{"attributePatterns": ["*"], "locales": ["kor", "eng"]}],
    "separatorTokens": ["|", "&"],
    "dictionary": ["C++", "J.R.R."],
    "distinctAttribute": "sku",
    "proximityPrecision": "byAttribute",
}


def test_the_defaults_are_the_pinned_meilisearch_s(
    meili_client: MeiliClient, index_name: str
) -> None:
    """What a new index is created with, as the pinned server answers."""
    meili_client.create_index(index_name, primary_key="id", settings={})
    assert normalise(meili_client.settings(index_name), filled=False) == normalise({})
    assert meili_client.settings(index_name) == MEILISEARCH_DEFAULTS


def test_an_index_created_from_the_configuration_has_no_drift(
    sync: SyncHarness, make_index: MakeIndex
) -> None:
    index = make_index(
        settings=RICH_SETTINGS,
        geo={"lat": "PRICE", "lng": "STOCK"},
        vectors={"mini": {"column": "NAME", "dimensions": 3}},
    )
    sync.client.create_index(
        index.name, primary_key="product_id", settings=index.meilisearch_settings
    )
    assert settings_drift(index, sync.client) == []


def test_each_changed_key_is_named_with_both_values(
    sync: SyncHarness, make_index: MakeIndex
) -> None:
    index = make_index(settings=RICH_SETTINGS)
    sync.client.create_index(
        index.name, primary_key="product_id", settings=index.meilisearch_settings
    )
    changed = make_index(
        settings={
            **RICH_SETTINGS,
            "synonyms": {"phone": ["mobile"]},
            "typoTolerance": {"enabled": False},
            "sortableAttributes": ["name", "price"],  # the same set: no drift
        }
    )
    drift = {d.key: d for d in settings_drift(changed, sync.client)}
    assert set(drift) == {"synonyms", "typoTolerance"}
    assert drift["synonyms"].configured == {"phone": ["mobile"]}
    assert drift["synonyms"].live["phone"] == ["mobile", "cell"]
    assert drift["typoTolerance"].configured["enabled"] is False
    assert drift["typoTolerance"].live["enabled"] is True
    assert drift["synonyms"].server == sync.client.url


SET_LIKE = ("filterableAttributes", "sortableAttributes", "stopWords", "dictionary")
words = st.lists(st.text("abcxyz", min_size=1, max_size=3), min_size=2, max_size=6, unique=True)


@given(values=words, key=st.sampled_from(SET_LIKE), data=st.data())
def test_set_like_lists_compare_as_sets(values: list[str], key: str, data: st.DataObject) -> None:
    shuffled = data.draw(st.permutations(values))
    assert normalise({key: values}) == normalise({key: shuffled}, filled=True)


@given(values=words, data=st.data())
def test_ordered_lists_compare_in_order(values: list[str], data: st.DataObject) -> None:
    shuffled = data.draw(st.permutations(values))
    same = normalise({"searchableAttributes": values}) == normalise(
        {"searchableAttributes": shuffled}
    )
    assert same == (list(shuffled) == values)
