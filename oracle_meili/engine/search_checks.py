"""Running an index's search checks (``search_checks:``) against a live or a build index.

Each check sends its search and compares the hits with its expectations: ids among the
first hits, ids the hits start with, and bounds on the number of hits (Meilisearch's
estimate, which is exact up to ``pagination.maxTotalHits``). The outcome keeps the first
hits' ids, and the field the check shows, so that a failure says what came back.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from oracle_meili.adapters.backend import DocumentKey, SearchBackend
from oracle_meili.config import IndexConfig, SearchCheck, search_check_names
from oracle_meili.errors import SyncError

# The first hits an outcome keeps (and a failure message quotes).
SHOWN_HITS = 10


@dataclass(frozen=True)
class SearchCheckOutcome:
    """One search check's result."""

    name: str
    check: SearchCheck
    total_hits: int
    top_ids: tuple[DocumentKey, ...]
    # The ``show`` field of each of the first hits (empty without ``show``).
    shown: tuple[Any, ...]
    # What did not hold; empty when the check passed.
    problems: tuple[str, ...]
    duration_seconds: float

    @property
    def passed(self) -> bool:
        return not self.problems

    def describe(self) -> str:
        """One line: the query, what came back, and what did not hold."""
        verdict = "passed" if self.passed else "failed: " + "; ".join(self.problems)
        return (
            f"search {self.name} ({self.check.q!r}): {self.total_hits} hits, "
            f"first {list(self.top_ids)}: {verdict}"
        )


def run_search_checks(
    client: SearchBackend, index: IndexConfig, *, uid: str, id_field: str
) -> list[SearchCheckOutcome]:
    """Every search check of ``index``, sent to ``uid`` (the live index or a build)."""
    names = search_check_names(index.search_checks)
    return [
        run_search_check(client, uid, check, name=name, id_field=id_field)
        for name, check in zip(names, index.search_checks, strict=True)
    ]


def run_search_check(
    client: SearchBackend, uid: str, check: SearchCheck, *, name: str, id_field: str
) -> SearchCheckOutcome:
    """Send one check's search and judge its hits."""
    started = time.monotonic()
    params: dict[str, Any] = {
        "limit": check.limit,
        "attributesToRetrieve": [id_field, *([check.show] if check.show else [])],
    }
    if check.filter is not None:
        params["filter"] = check.filter
    if check.sort:
        params["sort"] = list(check.sort)
    found = client.search(uid, check.q, **params)
    hits = found.get("hits", [])
    ids = [hit.get(id_field) for hit in hits]
    total = int(found.get("estimatedTotalHits", found.get("totalHits", len(hits))))
    return SearchCheckOutcome(
        name=name,
        check=check,
        total_hits=total,
        top_ids=tuple(ids[:SHOWN_HITS]),
        shown=tuple(hit.get(check.show) for hit in hits[:SHOWN_HITS]) if check.show else (),
        problems=tuple(problems_of(check, ids, total)),
        duration_seconds=time.monotonic() - started,
    )


def problems_of(check: SearchCheck, ids: Sequence[Any], total: int) -> list[str]:
    """What of ``check``'s expectations the hits (``ids``, ``total``) do not meet."""
    problems = []
    found = {_same_type(i) for i in ids}
    missing = [i for i in check.expect_top if _same_type(i) not in found]
    if missing:
        problems.append(f"{missing} not among the first {check.limit} hits")
    first = list(ids[: len(check.expect_first)])
    if check.expect_first and [_same_type(i) for i in first] != [
        _same_type(i) for i in check.expect_first
    ]:
        problems.append(f"the hits start with {first}, not {list(check.expect_first)}")
    if check.min_hits is not None and total < check.min_hits:
        problems.append(f"{total} hits, fewer than {check.min_hits}")
    if check.max_hits is not None and total > check.max_hits:
        problems.append(f"{total} hits, more than {check.max_hits}")
    return problems


def _same_type(document_id: Any) -> str:
    # An id written 1042 in YAML matches the document id 1042 or "1042".
    return str(document_id)


def require_search_checks(
    client: SearchBackend, index: IndexConfig, *, uid: str, id_field: str
) -> list[SearchCheckOutcome]:
    """The search checks as a gate before a swap.

    Raises:
        SyncError: a check failed, naming its query and what came back; the live index is
            not changed.
    """
    outcomes = run_search_checks(client, index, uid=uid, id_field=id_field)
    failed = [o for o in outcomes if not o.passed]
    if failed:
        raise SyncError(
            f"index {index.name!r}: the new index failed its search checks: "
            + " | ".join(o.describe() for o in failed)
            + "; the live index was not changed"
        )
    return outcomes
