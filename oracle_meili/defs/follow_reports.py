"""What a follow run reports, as its op yields it: each sync as a materialization of its
index (partition ``incremental``, the same metadata as a sync run's) with its ``caught_up``
check, each failure once as an observation; and the pools its syncs hold."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, ExitStack, contextmanager
from typing import TYPE_CHECKING

import dagster as dg

from oracle_meili.config import IndexConfig
from oracle_meili.defs.assets import caught_up, synced
from oracle_meili.defs.metadata_sets import OracleMeiliMetadata
from oracle_meili.defs.names import Names, pool_name
from oracle_meili.defs.state import FollowRunState
from oracle_meili.defs.throttle import SourceSlots, slot_if_free
from oracle_meili.engine.session import Session
from oracle_meili.errors import OracleMeiliError

if TYPE_CHECKING:
    from oracle_meili.defs.follow import Handover

FollowEvent = dg.AssetMaterialization | dg.AssetObservation | dg.AssetCheckEvaluation


class SyncFailure(OracleMeiliMetadata):
    """A follow run's sync that failed, observed on the index asset."""

    sync_error: str | None = None


class FollowReports:
    """The events a follow run yields for its syncs and their failures."""

    def __init__(
        self,
        context: dg.OpExecutionContext,
        indexes: Sequence[IndexConfig],
        names: Names,
        *,
        url: str,
        handover: Handover,
    ) -> None:
        self.context = context
        self.by_name = {index.name: index for index in indexes}
        self.names = names
        self.url = url
        self.handover = handover
        # Each index's failure last reported on its asset, until it syncs again.
        self.failing: dict[str, str] = {}

    def syncs(self, state: FollowRunState, session: Session) -> Iterator[FollowEvent]:
        """A materialization and its ``caught_up`` evaluation for each sync finished."""
        while not state.recorded.empty():
            result = state.recorded.get()
            index = self.by_name[result.index]
            fields = session.document_fields(index)
            yield dg.AssetMaterialization(
                asset_key=self.names.index_key(index),
                partition="incremental",
                metadata=synced(
                    self.context, index, result, fields, meilisearch_url=self.url, names=self.names
                ),
            )
            for check in self.names.sync_checks(index):
                yield dg.AssetCheckEvaluation(
                    asset_key=check.asset_key,
                    check_name=check.name,
                    passed=result.caught_up is not False,
                    severity=dg.AssetCheckSeverity.WARN,
                    metadata=caught_up(result).metadata,
                )
            state.reported(result)
            self.handover.events += 1
            self.failing.pop(result.index, None)

    def failures(
        self, failures: list[tuple[IndexConfig, OracleMeiliError]]
    ) -> Iterator[FollowEvent]:
        """An observation of each new failure (the same one again is in the log only)."""
        while failures:
            index, error = failures.pop(0)
            if self.failing.get(index.name) == str(error):
                continue
            self.failing[index.name] = str(error)
            yield dg.AssetObservation(
                asset_key=self.names.index_key(index),
                partition="incremental",
                description=f"An incremental sync of the follow run failed: {error}",
                metadata=dict(SyncFailure(sync_error=str(error))),
            )
            self.handover.events += 1


def run_exclusion(
    context: dg.OpExecutionContext, job_name: str, source_slots: SourceSlots | None
) -> Callable[[IndexConfig], AbstractContextManager[bool]]:
    """Each sync of the follow run holds its index's pool (and a source slot when
    ``source.max_concurrent_syncs`` is set), claimed for this run; one not free is skipped
    until a later poll."""

    @contextmanager
    def exclusive(index: IndexConfig) -> Iterator[bool]:
        with ExitStack() as held:
            pools = [pool_name(index)] + ([source_slots.pool] if source_slots else [])
            for pool in pools:
                holder = f"{job_name}/{index.name}/{pool}"
                if not held.enter_context(
                    slot_if_free(context.instance, pool, run_id=context.run_id, holder=holder)
                ):
                    yield False
                    return
            yield True

    return exclusive
