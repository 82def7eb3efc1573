"""Search checks in the configuration: each mistake is an error naming the index, the
check and the key, before anything is written."""

from __future__ import annotations

from typing import Any

import pytest

from oracle_meili.config import parse_config, search_check_names
from oracle_meili.config.search_checks import filtered_attributes
from oracle_meili.errors import ConfigError


def config_with(*checks: dict[str, Any]) -> dict[str, Any]:
    return {
        "source": {"url": "sqlite:///:memory:"},
        "indexes": [
            {
                "name": "products",
                "table": "PRODUCTS",
                "primary_key": "PRODUCT_ID",
                "settings": {
                    "filterableAttributes": ["category", {"attributePatterns": ["attr.*"]}],
                    "sortableAttributes": ["price"],
                },
                "geo": {"lat": "LAT", "lng": "LNG"},
                "search_checks": list(checks),
            }
        ],
    }


def test_the_issue_s_examples_load() -> None:
    config = parse_config(
        config_with(
            {"q": "무선 이어폰", "expect_top": [1042, 877]},
            {"q": "earbuds", "filter": "category = 'audio'", "min_hits": 5},
            {"q": "zzzz", "max_hits": 0},
            {
                "q": "",
                "filter": "_geoRadius(37.5, 126.9, 5000) AND attr.colour = red",
                "sort": ["_geoPoint(37.5, 126.9):asc", "price:desc"],
                "expect_first": 1,
            },
        ),
        environ={},
    )
    checks = config.indexes[0].search_checks
    assert search_check_names(checks) == ["search_1", "search_2", "search_3", "search_4"]
    assert checks[0].limit == 10 and checks[3].expect_first == (1,)


@pytest.mark.parametrize(
    ("check", "message"),
    [
        ({"q": "x", "min_hits": 1, "limt": 5}, r"search_checks\.0\.limt"),
        ({"q": "x"}, "at least one of expect_top"),
        ({"q": "x", "filter": "brand = 'a'", "min_hits": 1}, r"search_checks\[1\].*'brand'"),
        (
            {"q": "x", "filter": "category = 'a' OR price 1 TO 9", "min_hits": 1},
            r"filter on 'price', which is not in the index's filterableAttributes",
        ),
        ({"q": "x", "sort": ["stock:asc"], "min_hits": 1}, "sort on 'stock'"),
        ({"q": "x", "min_hits": 5, "max_hits": 1}, "min_hits 5 is above max_hits 1"),
        ({"q": "x", "expect_top": [1, 2, 3], "limit": 2}, "expects 3 ids among the first 2"),
        ({"q": "x", "name": "bad name", "min_hits": 1}, "name: A-Z"),
    ],
)
def test_a_bad_search_check_is_an_error_naming_it(check: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message) as raised:
        parse_config(config_with(check), environ={})
    assert "index 'products'" in str(raised.value)


def test_two_checks_of_one_name_are_an_error() -> None:
    with pytest.raises(ConfigError, match="two checks are named alike"):
        parse_config(
            config_with({"q": "a", "min_hits": 1, "name": "search_2"}, {"q": "b", "min_hits": 1}),
            environ={},
        )


@pytest.mark.parametrize(
    ("expression", "attributes"),
    [
        ("category = 'a = b AND brand = c'", {"category"}),
        ("price 10 TO 20 AND NOT stock EXISTS", {"price", "stock"}),
        ("brand IN [a, b] OR lang != ko", {"brand", "lang"}),
        ("(a.b IS NULL) AND c >= 1", {"a.b", "c"}),
        ("_geoBoundingBox([1, 2], [3, 4])", {"_geo"}),
    ],
)
def test_the_attributes_a_filter_filters_on(expression: str, attributes: set[str]) -> None:
    assert filtered_attributes(expression) == attributes
