"""Benchmark: apply-settings against a raw ingest of the same documents and against a full
sync from the source, with searches probing the live index meanwhile.

    python -m bench.apply_settings --rows 100000

Builds the demo source, starts the pinned Meilisearch (shipped indexing flags) and runs the
CLI's full sync of ``products`` (its time is the "full sync from the source" figure). Then
it changes the index's settings in the configuration (a synonym and one more searchable
attribute: a change Meilisearch re-indexes for) and runs ``oracle-meili apply-settings`` in
a child process, while a thread searches the live index every 100 ms and counts searches
that failed or found nothing. Last, the raw baseline: the same documents as one NDJSON
payload into a fresh index with the new settings. Prints the times, their ratio, the
apply-settings process's CPU, peak RSS and the SQL statements it sent to the source.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import orjson
import yaml

from bench.full_sync import BENCH_FLAGS, DEMO_CONFIG, raw_ingest, run_sync, warm_up, write_ndjson
from oracle_meili.adapters.meili import MeiliClient
from oracle_meili.adapters.server import meilisearch_server
from oracle_meili.config import AppConfig, MeilisearchConfig, load_config
from oracle_meili.demo import create_demo
from oracle_meili.engine.search_checks import run_search_checks

PROBE_QUERY = "이어폰"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="oracle-meili-bench-") as scratch:
        work = Path(scratch)
        db = create_demo(work / "demo.db", rows=args.rows)
        config_path = work / "config.yaml"
        raw = yaml.safe_load(DEMO_CONFIG.read_text())
        raw["source"]["url"] = f"sqlite:///{db}"
        config_path.write_text(yaml.safe_dump(raw))
        with meilisearch_server(data_dir=work / "ms", flags=BENCH_FLAGS) as server:
            env = {**os.environ, "MEILI_URL": server.url, "MEILI_API_KEY": server.master_key}
            config = load_config(config_path, environ=env)
            warm_up(config)
            full_seconds, _, full_cpu, _, _ = run_sync(config_path, env)
            print(f"full sync from the source: {full_seconds:.2f} s (CPU {full_cpu:.2f} s)")
            products = next(i for i in raw["indexes"] if i["name"] == "products")
            products["settings"]["searchableAttributes"].append("lang")
            products["settings"]["synonyms"] = {"earphones": ["이어폰", "earbuds"]}
            config_path.write_text(yaml.safe_dump(raw))
            applied = apply_with_probes(config_path, env, config.meilisearch)
            print(
                f"apply-settings: {applied['seconds']:.2f} s (process wall "
                f"{applied['wall']:.2f} s, CPU {applied['cpu']:.2f} s), peak RSS "
                f"{applied['rss_mb']:.0f} MB, {applied['statements']} source statements; "
                f"{applied['probes']} probe searches, {applied['failed']} failed, "
                f"{applied['empty']} found nothing"
            )
            changed = load_config(config_path, environ=env)
            payload = write_ndjson(changed, work / "docs.ndjson")
            raw_seconds = raw_ingest(changed, payload)
            print(
                f"raw ingest of the same documents with the new settings: {raw_seconds:.2f} s; "
                f"apply-settings / raw = {applied['seconds'] / raw_seconds:.3f}, "
                f"/ full sync = {applied['seconds'] / full_seconds:.3f}"
            )
            print(search_checks_cost(changed))


def search_checks_cost(config: AppConfig, queries: int = 10) -> str:
    """The shipped search checks of ``products``, sent until ``queries`` searches ran."""
    index = config.index("products")
    with MeiliClient(config.meilisearch) as client:
        started, sent = time.monotonic(), 0
        while sent < queries:
            outcomes = run_search_checks(client, index, uid="products", id_field="product_id")
            assert all(o.passed for o in outcomes), [o.describe() for o in outcomes]
            sent += len(outcomes)
        seconds = time.monotonic() - started
    return f"search checks: {sent} queries in {seconds:.3f} s ({seconds / sent * 10:.3f} s per 10)"


def apply_with_probes(
    config_path: Path, env: dict[str, str], meilisearch: MeilisearchConfig
) -> dict[str, Any]:
    """Run apply-settings as a child process while a thread searches every 100 ms."""
    stop = threading.Event()
    probes = {"probes": 0, "failed": 0, "empty": 0}

    def probe() -> None:
        with MeiliClient(meilisearch.model_copy(update={"retries": 0})) as client:
            while not stop.wait(0.1):
                probes["probes"] += 1
                try:
                    if not client.search("products", PROBE_QUERY, limit=1)["hits"]:
                        probes["empty"] += 1
                except Exception:
                    probes["failed"] += 1

    peak_file = config_path.parent / "apply_peak_rss_kb"
    command = [
        sys.executable, "-m", "bench.measured_cli", str(peak_file), "--",
        "--log-level", "WARNING", "apply-settings", "--config", str(config_path),
        "--index", "products", "--state", str(config_path.parent / "sync_state.json"),
    ]  # fmt: skip
    prober = threading.Thread(target=probe)
    prober.start()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    try:
        completed = subprocess.run(command, env=env, stdout=subprocess.PIPE, check=False)
    finally:
        wall = time.monotonic() - started
        stop.set()
        prober.join()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if completed.returncode != 0:
        raise SystemExit(f"apply-settings failed (exit {completed.returncode})")
    result = orjson.loads(completed.stdout.strip().splitlines()[-1])
    assert result["how"] == "copy", result
    return {
        **probes,
        "seconds": result["duration_seconds"],
        "wall": wall,
        "cpu": (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime),
        "rss_mb": int(peak_file.read_text()) / 1024,
        "statements": int(Path(f"{peak_file}.statements").read_text()),
    }


if __name__ == "__main__":
    main()
