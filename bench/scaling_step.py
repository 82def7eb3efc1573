"""One measured step of ``bench/scaling.py``, in a process of its own.

    python -m bench.scaling_step sync full|incremental
    python -m bench.scaling_step probe

``sync`` runs the job ``sync_indexes`` for the demo index ``products`` and one partition, in
process, against the Dagster instance ``$DAGSTER_HOME`` names (what a schedule or the sensor
launches); ``probe`` times what a change sensor's tick decides with: its query (one
statement for every index the demo's shared sensor watches), the indexes' last syncs read
from the instance, and the change rule (``median_ms``); and the query alone
(``sql_median_ms``). Prints one JSON line: wall and CPU seconds of the step itself, and the
process's peak RSS.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path

import dagster as dg
import orjson

from oracle_meili.config import environment, load_config
from oracle_meili.definitions import build_definitions
from oracle_meili.defs.metadata import last_syncs
from oracle_meili.defs.names import CAUGHT_UP, index_asset_key
from oracle_meili.engine.freshness import sync_due
from oracle_meili.engine.result import now
from oracle_meili.engine.runner import Runner

PROBES = 25
PRODUCTS = dg.AssetKey(["meilisearch", "products"])


def peak_rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def main(argv: list[str]) -> None:
    environ = environment()
    config = load_config(os.environ["ORACLE_MEILI_CONFIG"], environ=environ)
    wall, cpu = time.perf_counter(), time.process_time()
    extra: dict[str, float] = {}
    if argv[0] == "sync":
        job = build_definitions(config, environ).resolve_job_def("sync_indexes")
        # The index with its sync's own check, without the consistency checks (as the
        # schedules and sensors request it).
        job = job.get_subset(
            asset_selection={PRODUCTS},
            asset_check_selection={dg.AssetCheckKey(PRODUCTS, CAUGHT_UP)},
        )
        with dg.DagsterInstance.get() as instance:
            result = job.execute_in_process(instance=instance, partition_key=argv[1])
        if not result.success:
            raise SystemExit("the sync job failed")
    else:
        watched = [i for i in config.indexes if i.cursor is not None]
        keys = [index_asset_key(index) for index in watched]
        runner = Runner(config.source, config.meilisearch)
        with runner.session() as session, dg.DagsterInstance.get() as instance:
            session.change_markers_of(watched)  # reflected once, as the sensor's cache does
            timings, statements = [], []
            for _ in range(PROBES):
                started = time.perf_counter()
                markers = session.change_markers_of(watched)
                probed = time.perf_counter()
                synced = last_syncs(instance, keys)
                for index, key in zip(watched, keys, strict=True):
                    sync_due(markers[index.name].max_cursor, synced[key], at=now())
                timings.append(time.perf_counter() - started)
                statements.append(probed - started)
        extra["median_ms"] = statistics.median(timings) * 1000
        extra["sql_median_ms"] = statistics.median(statements) * 1000
    report = {
        "seconds": time.perf_counter() - wall,
        "cpu_seconds": time.process_time() - cpu,
        "peak_mb": peak_rss_mb(),
        **extra,
    }
    print(orjson.dumps(report).decode())


if __name__ == "__main__":
    main(sys.argv[1:])
