"""Searches an index must keep answering (``search_checks:``), checked when they are loaded.

A search check is a query with what its hits must show. Its filter and sort are checked
against the index's settings at load time, so a filter on an attribute that is not
filterable is an error before anything is written, not a failed check after a swap.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Sequence
from typing import Any

from pydantic import Field, model_validator

from oracle_meili.config.base import Record

DocumentId = int | str

# A quoted value ('Seoul Station', "a = b"): removed before attributes are looked for.
_QUOTED = re.compile(r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"")
# An attribute is what stands before a comparison, IN, EXISTS, IS, or a `x TO y` range.
_FILTERED = re.compile(
    r"(?<![\w.])([A-Za-z_][\w.]*)\s*"
    r"(?:!=|>=|<=|=|>|<|\s(?:NOT\s+)?IN\b|\s(?:NOT\s+)?EXISTS\b|\sIS\b|\s+[^\s()]+\s+TO\b)"
)
_GEO_FILTER = re.compile(r"_geo(?:Radius|BoundingBox|Polygon)\s*\(")
_KEYWORDS = frozenset({"AND", "OR", "NOT", "IN", "TO", "IS", "EXISTS", "NULL", "EMPTY"})


class SearchCheck(Record):
    """One search and what it must find (every expectation given must hold)."""

    q: str = Field(description="The query text.")
    name: str | None = Field(
        default=None,
        description="The check's name in Dagster (A-Z a-z 0-9 _; default search_<n>).",
    )
    filter: str | None = Field(default=None, description="A Meilisearch filter expression.")
    sort: tuple[str, ...] = Field(default=(), description="Sort rules, e.g. price:asc.")
    limit: int = Field(default=10, ge=1, le=1000, description="How many hits are read.")
    expect_top: tuple[DocumentId, ...] = Field(
        default=(), description="Ids that must all be among the first `limit` hits."
    )
    expect_first: tuple[DocumentId, ...] = Field(
        default=(), description="Ids the hits must start with, in this order."
    )
    min_hits: int | None = Field(default=None, ge=0, description="At least this many hits.")
    max_hits: int | None = Field(default=None, ge=0, description="At most this many hits.")
    show: str | None = Field(
        default=None, description="A document field shown beside each hit's id."
    )

    @model_validator(mode="before")
    @classmethod
    def _lists(cls, data: Any) -> Any:
        if isinstance(data, dict):
            data = dict(data)
            for key in ("sort", "expect_first"):
                if isinstance(data.get(key), str | int):
                    data[key] = (data[key],)
        return data

    @model_validator(mode="after")
    def _check(self) -> SearchCheck:
        if not (self.expect_top or self.expect_first) and (
            self.min_hits is None and self.max_hits is None
        ):
            raise ValueError(
                "give at least one of expect_top, expect_first, min_hits, max_hits "
                "(a check without an expectation cannot fail)"
            )
        low, high = self.min_hits, self.max_hits
        if low is not None and high is not None and low > high:
            raise ValueError(f"min_hits {low} is above max_hits {high}")
        wanted = len(set(self.expect_top) | set(self.expect_first))
        if wanted > self.limit:
            raise ValueError(f"expects {wanted} ids among the first {self.limit} hits")
        if self.name is not None and not re.fullmatch(r"[A-Za-z0-9_]{1,60}", self.name):
            raise ValueError(f"name: A-Z a-z 0-9 _ only, up to 60 (got {self.name!r})")
        return self


def search_check_names(checks: Sequence[SearchCheck]) -> list[str]:
    """Each check's name: its own, or ``search_<n>`` (1-based)."""
    return [check.name or f"search_{n}" for n, check in enumerate(checks, start=1)]


def check_search_checks(checks: Sequence[SearchCheck], settings: dict[str, Any]) -> None:
    """Refuse checks the index cannot answer: a filter or sort on an attribute its
    settings do not make filterable or sortable, or two checks of one name.

    Raises:
        ValueError: naming the check (``search_checks[<n>]``) and the attribute.
    """
    names = search_check_names(checks)
    if len(set(names)) != len(names):
        raise ValueError(f"search_checks: two checks are named alike ({', '.join(names)})")
    filterable = _patterns(settings.get("filterableAttributes", ()))
    sortable = tuple(settings.get("sortableAttributes", ()))
    for n, check in enumerate(checks, start=1):
        where = f"search_checks[{n}] ({check.q!r})"
        if check.filter is not None:
            for attribute in filtered_attributes(check.filter):
                if not _matches(attribute, filterable):
                    raise ValueError(
                        f"{where}: filter on {attribute!r}, which is not in the index's "
                        f"filterableAttributes ({', '.join(filterable) or 'none'})"
                    )
        for rule in check.sort:
            attribute = "_geo" if rule.startswith("_geoPoint(") else rule.split(":")[0]
            if attribute not in sortable:
                raise ValueError(
                    f"{where}: sort on {attribute!r}, which is not in the index's "
                    f"sortableAttributes ({', '.join(sortable) or 'none'})"
                )


def filtered_attributes(expression: str) -> set[str]:
    """The attributes a Meilisearch filter expression filters on (``_geo`` for a geo
    filter)."""
    text = _QUOTED.sub("''", expression)
    found = {m.group(1) for m in _FILTERED.finditer(text)} - _KEYWORDS
    if _GEO_FILTER.search(text):
        found.add("_geo")
    return found


def _patterns(filterable: Iterable[Any]) -> tuple[str, ...]:
    """The attribute patterns of ``filterableAttributes``: names, or the
    ``attributePatterns`` of its object form."""
    patterns: list[str] = []
    for item in filterable:
        if isinstance(item, str):
            patterns.append(item)
        elif isinstance(item, dict):
            patterns.extend(item.get("attributePatterns", ()))
    return tuple(patterns)


def _matches(attribute: str, patterns: Sequence[str]) -> bool:
    """Whether a filterable pattern covers ``attribute`` (a nested field's parent makes it
    filterable too, as in Meilisearch)."""
    return any(
        fnmatch.fnmatchcase(attribute, pattern) or attribute.startswith(pattern + ".")
        for pattern in patterns
    )
