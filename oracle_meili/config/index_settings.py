"""An index's ``settings:``, checked against the Meilisearch settings of the pinned version
when the configuration loads, so that a misspelt key or a bad value is an error naming the
index and the key before anything is written (not a failed task after a build index was
made)."""

from __future__ import annotations

import difflib
import re
from typing import Any

# An index's settings as Meilisearch 1.21.0 (the pinned version) creates it: every setting
# there is, with its default. A test asks the pinned server for them
# (engine/test_settings_drift.py).
MEILISEARCH_DEFAULTS: dict[str, Any] = {
    "displayedAttributes": ["*"],
    "searchableAttributes": ["*"],
    "filterableAttributes": [],
    "sortableAttributes": [],
    "rankingRules": ["words", "typo", "proximity", "attribute", "sort", "exactness"],
    "stopWords": [],
    "nonSeparatorTokens": [],
    "separatorTokens": [],
    "dictionary": [],
    "synonyms": {},
    "distinctAttribute": None,
    "proximityPrecision": "byWord",
    "typoTolerance": {
        "enabled": True,
        "minWordSizeForTypos": {"oneTypo": 5, "twoTypos": 9},
        "disableOnWords": [],
        "disableOnAttributes": [],
        "disableOnNumbers": False,
    },
    "faceting": {"maxValuesPerFacet": 100, "sortFacetValuesBy": {"*": "alpha"}},
    "pagination": {"maxTotalHits": 1000},
    "embedders": {},
    "searchCutoffMs": None,
    "localizedAttributes": None,
    "facetSearch": True,
    "prefixSearch": "indexingTime",
}
# The built-in ranking rules of 1.21 (any other rule is ``<attribute>:asc|desc``).
RANKING_RULES = frozenset({"words", "typo", "proximity", "attribute", "sort", "exactness"})
_CUSTOM_RULE = re.compile(r"^[^:\s]+:(asc|desc)$")
_CHOICES = {
    "proximityPrecision": ("byWord", "byAttribute"),
    "prefixSearch": ("indexingTime", "disabled"),
}


def check_index_settings(settings: dict[str, Any]) -> None:
    """Refuse a setting Meilisearch does not have, or a value of the wrong kind.

    Raises:
        ValueError: naming ``settings.<key>`` and what is wrong.
    """
    for key, value in settings.items():
        if key not in MEILISEARCH_DEFAULTS:
            close = difflib.get_close_matches(key, MEILISEARCH_DEFAULTS, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ValueError(f"settings.{key}: not a Meilisearch index setting{hint}")
        default = MEILISEARCH_DEFAULTS[key]
        if value is None or default is None:
            continue  # null resets a setting; a setting with no default takes any value
        if not isinstance(value, type(default)) or isinstance(value, bool) != isinstance(
            default, bool
        ):
            raise ValueError(
                f"settings.{key}: a {type(default).__name__} is expected (got {value!r})"
            )
        if key in _CHOICES and value not in _CHOICES[key]:
            raise ValueError(f"settings.{key}: one of {', '.join(_CHOICES[key])} (got {value!r})")
    for rule in settings.get("rankingRules") or ():
        if rule not in RANKING_RULES and not (isinstance(rule, str) and _CUSTOM_RULE.match(rule)):
            builtin = ", ".join(sorted(RANKING_RULES))
            raise ValueError(
                f"settings.rankingRules: {rule!r} is not a ranking rule ({builtin}, or "
                "<attribute>:asc / <attribute>:desc)"
            )
