"""The one resume check of a full sync: whether a kept plan can be continued, and where each
of its slices continues from."""

from __future__ import annotations

from oracle_meili.adapters.backend import SearchBackend
from oracle_meili.adapters.source import TableSource
from oracle_meili.engine.checkpoint import FullSyncCheckpoint
from oracle_meili.engine.slice_plan import SlicedPlan
from oracle_meili.errors import MeilisearchTaskError, SyncError


def resumable(plan: SlicedPlan, source: TableSource, client: SearchBackend) -> bool:
    """A kept plan this sync can continue: same index and slicing, build index still there
    (``recreate`` loads the live index itself, so it always starts again)."""
    index = source.index
    return (
        plan.index == index.name
        and plan.parallel == index.parallel
        and plan.build_index != index.name
        and index.full_strategy == "swap"
        and client.index_exists(plan.build_index)
    )


def slice_checkpoint(
    client: SearchBackend, plan: SlicedPlan, number: int, resume: FullSyncCheckpoint | None
) -> FullSyncCheckpoint | None:
    """``resume`` if it belongs to this slice of this plan, with its in-flight payload
    settled (None: start the slice from its beginning).

    Documents are upserts by id, so a resume that sends a row again costs time, never
    correctness; the completeness checks count the build index at the end.

    Raises:
        SyncError: the plan's build index is gone.
    """
    if not client.index_exists(plan.build_index):
        raise SyncError(
            f"index {plan.index!r}: the build index {plan.build_index!r} of this full sync is "
            "gone; the live index was not changed; run the full sync again"
        )
    if resume is None or resume.build_index != plan.build_index or resume.slice != number:
        return None
    if resume.in_flight_task is not None:
        try:
            client.wait(resume.in_flight_task, resume.build_index)
            resume = resume.acknowledge_in_flight()
        except MeilisearchTaskError:
            pass  # that payload did not land: resume after the last acknowledged one
    if resume.last_key is None and not resume.finished:
        return None
    return resume
