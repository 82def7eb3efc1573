"""An index's settings, checked against the pinned Meilisearch's when they load."""

from __future__ import annotations

from typing import Any

import pytest

from oracle_meili.config import parse_config
from oracle_meili.config.index_settings import MEILISEARCH_DEFAULTS, RANKING_RULES
from oracle_meili.errors import ConfigError
from oracle_meili_tests.test_search_checks_config import config_with


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        (
            {"searchableAttribute": ["name"]},
            "settings.searchableAttribute: not a Meilisearch "
            "index setting \\(did you mean 'searchableAttributes'\\?\\)",
        ),
        ({"rankingRules": ["words", "nope"]}, "settings.rankingRules: 'nope' is not a ranking"),
        ({"filterableAttributes": "category"}, "settings.filterableAttributes: a list"),
        ({"proximityPrecision": "byLetter"}, "settings.proximityPrecision: one of byWord"),
        ({"facetSearch": "yes"}, "settings.facetSearch: a bool"),
    ],
)
def test_invalid_settings_are_an_error_before_anything_is_written(
    settings: dict[str, Any], message: str
) -> None:
    raw = config_with()
    raw["indexes"][0]["settings"] = settings
    with pytest.raises(ConfigError, match=message) as raised:
        parse_config(raw, environ={})
    assert "index 'products'" in str(raised.value)


def test_every_setting_and_ranking_rule_of_the_pinned_version_loads() -> None:
    raw = config_with()
    raw["indexes"][0]["settings"] = {
        **MEILISEARCH_DEFAULTS,
        "rankingRules": [*sorted(RANKING_RULES), "price:desc"],
        "distinctAttribute": "sku",
        "searchCutoffMs": 150,
    }
    assert parse_config(raw, environ={}).indexes[0].settings["searchCutoffMs"] == 150
