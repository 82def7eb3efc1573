"""Low-latency mode: poll the change markers every second or so and sync at once.

Each micro-batch is an incremental sync run through the :class:`~oracle_meili.engine.runner.Runner`,
so it is recorded in whichever state store the caller chose: ``sync_state.json``, or the
Dagster instance (a materialization of the index asset, partition ``incremental``), where a
sync from the CLI or a Dagster run continues from the same watermark. NOTE: these syncs run
outside Dagster runs, so the per-index pool does not cover them: do not schedule syncs of an
index that ``follow`` is keeping up to date.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence

from oracle_meili.adapters.markers import ChangeMarkers
from oracle_meili.config import IndexConfig
from oracle_meili.engine.result import SyncResult
from oracle_meili.engine.runner import Runner
from oracle_meili.errors import OracleMeiliError

log = logging.getLogger(__name__)


def follow(
    runner: Runner,
    indexes: Sequence[IndexConfig],
    *,
    interval_seconds: float,
    stop: threading.Event,
    on_sync: Callable[[SyncResult], None] | None = None,
) -> int:
    """Keep ``indexes`` in sync until ``stop`` is set. Returns the number of syncs.

    Every index is synced once at start (catching up from its last watermark), then again
    whenever its change markers (highest cursor, row count) move. A sync in progress always
    finishes before ``stop`` is honoured, so its watermark is recorded. A failed change
    probe or sync is logged and tried again at the next poll: a long-running process must
    outlive a Meilisearch or database restart.
    """
    seen: dict[str, ChangeMarkers] = {}
    syncs = 0
    with runner.session() as session:
        while not stop.is_set():
            for index in indexes:
                try:
                    markers = session.change_markers(index)
                    if seen.get(index.name) == markers:
                        continue
                    result = session.sync(index, "incremental")
                except OracleMeiliError as e:
                    # Nothing moved the watermark, and the markers are not marked as seen,
                    # so the next poll tries again.
                    log.error("%s: sync failed, retrying at the next poll: %s", index.name, e)
                    continue
                seen[index.name] = markers
                syncs += 1
                if on_sync is not None:
                    on_sync(result)
            stop.wait(interval_seconds)
    return syncs
