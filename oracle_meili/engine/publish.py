"""Making a build index live: the completeness and consistency gates, swap or rename, and
clean-up."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from oracle_meili.adapters.backend import SearchBackend, TaskRef
from oracle_meili.adapters.source import TableSource
from oracle_meili.engine.completeness import check_read_complete
from oracle_meili.engine.consistency import check_consistency
from oracle_meili.engine.events import Tally
from oracle_meili.engine.search_checks import require_search_checks
from oracle_meili.errors import SyncError

if TYPE_CHECKING:
    from oracle_meili.engine.slice_plan import SlicedPlan

log = logging.getLogger(__name__)
BUILD_SEPARATOR = "__"


def verify_build(source: TableSource, *, client: SearchBackend, build: str) -> None:
    """The consistency checks, then the search checks, as a gate: a failing one leaves the
    old index live.

    NOTE: rows changed while the full sync ran count as mismatches; on a busy table use it
    with ``consistent_snapshot`` (Oracle), which compares against the same SCN.
    """
    index = source.index
    report = check_consistency(source, client, uid=build)
    if not report.consistent:
        raise SyncError(
            f"index {index.name!r}: the new index failed its consistency check "
            f"({report.consistent_percent:.2f} % consistent, {report.mismatched} mismatched, "
            f"{report.orphans} orphans, {report.missing} missing; mismatching ids "
            f"{list(report.mismatch_sample)}); the live index was not changed"
        )
    log.info("index %r: the new index passed its consistency check", index.name)
    if index.search_checks:
        id_field = source.document_shape().id_field
        require_search_checks(client, index, uid=build, id_field=id_field)
        log.info("index %r: the new index passed its search checks", index.name)


def publish(client: SearchBackend, *, live: str, build: str) -> list[TaskRef]:
    """Make ``build`` the live index: swap and drop the old one, or rename if none is live.

    Returns the swap's or rename's task uid."""
    if client.index_exists(live):
        task = client.swap(live, build)
        # After the swap, ``build`` holds the previous live documents.
        try_delete(client, build)
        return [task]
    return [client.rename(build, live)]


def delete_stale_builds(client: SearchBackend, name: str) -> None:
    """Delete build indexes of ``name`` left by an interrupted full sync."""
    for uid in client.index_uids(prefix=name + BUILD_SEPARATOR):
        log.warning("deleting build index %r left by an interrupted full sync", uid)
        client.delete_index(uid)


def try_delete(client: SearchBackend, uid: str) -> None:
    try:
        client.delete_index(uid)
    except Exception as e:  # the original error matters more; this one is only reported
        log.warning("could not delete build index %r: %s", uid, e)


def complete_build(
    source: TableSource, client: SearchBackend, plan: SlicedPlan, tally: Tally
) -> int:
    """Check a loaded build (every row read, every document held, and the consistency gate
    when asked) and publish it; the documents it holds.

    Raises:
        ShortReadError: the read missed rows.
        SyncError: the build holds other than the documents sent, or failed its check.
    """
    index, target, reader = source.index, plan.target(), plan.reader(source)
    check_read_complete(reader, plan, rows_read=tally.rows_read)
    count = client.document_count(target.uid)
    if count != tally.documents_sent:
        raise SyncError(
            f"index {index.name!r}: {tally.documents_sent} documents were sent but the new "
            f"index holds {count} (duplicate ids?); the live index was not changed"
        )
    if index.verify_before_swap and target.uid != index.name:
        verify_build(reader, client=client, build=target.uid)
    tally.task_uids.extend(target.publish(client))
    return count
