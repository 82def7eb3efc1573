"""Whether a live index's settings are the configured ones (settings drift).

Index settings are applied when a full sync creates its index, so a changed ``settings:``
reaches the live index only at the next full sync (or ``apply-settings``); until then the
two differ. Both sides are compared normalised: the configured settings (with what the
shaping adds, as a new index gets them) laid over Meilisearch's defaults, and the live ones
as Meilisearch answers them, with the lists Meilisearch treats as sets compared as sets.
So an index created from the configuration compares equal, and every key that differs is
named with both values.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from oracle_meili.adapters.backend import SearchBackend
from oracle_meili.config import IndexConfig
from oracle_meili.config.index_settings import MEILISEARCH_DEFAULTS

# What Meilisearch fills in for a filterableAttributes entry given as an object.
_FILTERABLE_OBJECT_DEFAULTS = {
    "features": {"facetSearch": False, "filter": {"equality": True, "comparison": False}}
}
# Lists whose order Meilisearch does not keep or use: compared as sets.
_UNORDERED = frozenset(
    {
        "filterableAttributes",
        "sortableAttributes",
        "stopWords",
        "nonSeparatorTokens",
        "separatorTokens",
        "dictionary",
        "typoTolerance.disableOnWords",
        "typoTolerance.disableOnAttributes",
    }
)


@dataclass(frozen=True)
class SettingDifference:
    """One setting that differs: the configured value and the live one (normalised)."""

    key: str
    configured: Any
    live: Any
    # The server it differs on: a shard's name, or the one server's URL.
    server: str


def settings_drift(index: IndexConfig, client: SearchBackend) -> list[SettingDifference]:
    """Every setting of ``index``'s live index that is not the configured one, on every
    server (each shard)."""
    expected = normalise(index.meilisearch_settings)
    return [
        difference
        for server, live in client.settings_by_server(index.name).items()
        for difference in differences(expected, normalise(live, filled=False), server=server)
    ]


def normalise(settings: Mapping[str, Any], *, filled: bool = True) -> dict[str, Any]:
    """``settings`` comparable with another's: laid over Meilisearch's defaults (``filled``:
    a configuration names only what it changes), nested objects merged the same way, and
    set-like lists sorted."""
    merged = _merge(MEILISEARCH_DEFAULTS, settings) if filled else dict(settings)
    filterable = merged.get("filterableAttributes")
    if isinstance(filterable, list):
        merged["filterableAttributes"] = [
            _merge(_FILTERABLE_OBJECT_DEFAULTS, item) if isinstance(item, dict) else item
            for item in filterable
        ]
    normalised: dict[str, Any] = _sorted_sets(merged, prefix="")
    return normalised


def differences(
    expected: Mapping[str, Any], live: Mapping[str, Any], *, server: str
) -> list[SettingDifference]:
    """The keys whose values differ; a key the live index has and no one configured (a
    setting newer than :data:`MEILISEARCH_DEFAULTS`) is left out."""
    return [
        SettingDifference(key, expected[key], live.get(key), server)
        for key in sorted(expected)
        if expected[key] != live.get(key)
    ]


def _merge(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in over.items():
        below = merged.get(key)
        is_nested = isinstance(below, dict) and isinstance(value, dict) and below
        merged[key] = _merge(below, value) if is_nested else value  # type: ignore[arg-type]
    return merged


def _sorted_sets(value: Any, *, prefix: str) -> Any:
    if isinstance(value, dict):
        return {k: _sorted_sets(v, prefix=f"{prefix}{k}.") for k, v in value.items()}
    if isinstance(value, list) and prefix.rstrip(".") in _UNORDERED:
        return sorted(value, key=lambda item: orjson.dumps(item, option=orjson.OPT_SORT_KEYS))
    return value
