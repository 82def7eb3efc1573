"""Low-latency mode: poll the change markers every second or so and sync at once.

Each micro-batch is an incremental sync recorded as a materialization of the index asset
(partition ``incremental``) in the Dagster instance, so the asset's history in the UI stays
complete. NOTE: these syncs run outside Dagster runs, so the per-index pool does not cover
them: do not schedule syncs of an index that ``follow`` is keeping up to date.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence

import dagster as dg

from oracle_meili.config import AppConfig
from oracle_meili.defs.assets import index_asset_key
from oracle_meili.defs.metadata import latest_watermark, result_metadata
from oracle_meili.errors import OracleMeiliError
from oracle_meili.meili import MeiliClient
from oracle_meili.source import ChangeMarkers, TableSource, source_engine
from oracle_meili.sync import SyncResult, incremental_sync

log = logging.getLogger(__name__)


def follow(
    config: AppConfig,
    *,
    index_names: Sequence[str],
    interval_seconds: float,
    stop: threading.Event,
    instance: dg.DagsterInstance | None = None,
    on_sync: Callable[[SyncResult], None] | None = None,
) -> int:
    """Keep the named indexes in sync until ``stop`` is set. Returns the number of syncs.

    Every index is synced once at start (catching up from its last watermark), then again
    whenever its change markers (highest cursor, row count) move. A sync in progress always
    finishes before ``stop`` is honoured, so its watermark is recorded. A failed sync is
    logged and tried again at the next poll (a long-running process must outlive a
    Meilisearch or database restart), and so is a failed change probe. ``instance``
    defaults to the one ``$DAGSTER_HOME`` names.
    """
    if instance is None:
        with dg.DagsterInstance.get() as default_instance:
            return follow(
                config,
                index_names=index_names,
                interval_seconds=interval_seconds,
                stop=stop,
                instance=default_instance,
                on_sync=on_sync,
            )
    indexes = [config.index(name) for name in index_names]
    seen: dict[str, ChangeMarkers] = {}
    syncs = 0
    with source_engine(config.source) as engine, MeiliClient(config.meilisearch) as client:
        sources: dict[str, TableSource] = {}
        while not stop.is_set():
            for index in indexes:
                key = index_asset_key(index)
                try:
                    # Reflected once, on the first poll that reaches the source.
                    if index.name not in sources:
                        sources[index.name] = TableSource(engine, index)
                    source = sources[index.name]
                    markers = source.change_markers()
                    if seen.get(index.name) == markers:
                        continue
                    result = incremental_sync(
                        index,
                        source=source,
                        client=client,
                        meili=config.meilisearch,
                        watermark=latest_watermark(instance, key),
                    )
                except OracleMeiliError as e:
                    # The probe or the sync failed (a database restart, a Meilisearch
                    # outage): nothing was recorded, so the watermark stays, and the markers
                    # are not marked as seen, so the next poll tries again.
                    log.error("%s: sync failed, retrying at the next poll: %s", index.name, e)
                    continue
                instance.report_runless_asset_event(
                    dg.AssetMaterialization(
                        asset_key=key,
                        partition="incremental",
                        metadata=result_metadata(result, meilisearch_url=client.url),
                        description="oracle-meili follow",
                    )
                )
                seen[index.name] = markers
                syncs += 1
                if on_sync is not None:
                    on_sync(result)
            stop.wait(interval_seconds)
    return syncs
