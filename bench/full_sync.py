"""Benchmark: a full sync against a raw NDJSON ingest of the same documents.

    python -m bench.full_sync --rows 100000

Builds the demo source with N rows, starts the pinned Meilisearch (the same indexing flags
the project uses), runs ``oracle-meili sync --mode full`` in a child process, then ingests
the same documents as one NDJSON payload into a fresh index with the same settings on the
same server. Prints both times, their ratio, and the sync process's CPU time (user + sys)
and peak RSS, with the settings as shipped.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson
import sqlalchemy as sa
import yaml

from oracle_meili.adapters.meili import MeiliClient
from oracle_meili.adapters.server import DEFAULT_FLAGS, meilisearch_server
from oracle_meili.adapters.source import TableSource
from oracle_meili.config import AppConfig, load_config
from oracle_meili.demo import create_demo
from oracle_meili.documents import encode_document

DEMO_CONFIG = Path(__file__).resolve().parent.parent / "demo" / "config.yaml"
# Only so that the raw baseline can send everything as one payload, however large.
BENCH_FLAGS = (*DEFAULT_FLAGS, "--http-payload-size-limit", "4000000000")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--no-raw", action="store_true", help="skip the raw-ingest baseline")
    parser.add_argument("--repeat", type=int, default=2, help="runs of each; the best counts")
    parser.add_argument(
        "--shaping",
        action="store_true",
        help="instead, what shaping costs: the same query synced plain, then with geo, "
        "json_fields and a transform",
    )
    args = parser.parse_args()
    if args.shaping:
        shaping_cost(args.rows, args.repeat)
        return

    with tempfile.TemporaryDirectory(prefix="oracle-meili-bench-") as scratch:
        work = Path(scratch)
        started = time.monotonic()
        db = create_demo(work / "demo.db", rows=args.rows)
        print(f"demo source: {args.rows} rows built in {time.monotonic() - started:.1f} s")
        config_path = work / "config.yaml"
        raw_config = yaml.safe_load(DEMO_CONFIG.read_text())
        raw_config["source"]["url"] = f"sqlite:///{db}"
        config_path.write_text(yaml.safe_dump(raw_config))

        with meilisearch_server(data_dir=work / "ms", flags=BENCH_FLAGS) as server:
            env = {**os.environ, "MEILI_URL": server.url, "MEILI_API_KEY": server.master_key}
            config = load_config(config_path, environ=env)
            payload = None if args.no_raw else write_ndjson(config, work / "docs.ndjson")
            warm_up(config)
            syncs: list[float] = []
            cpus: list[float] = []
            raws: list[float] = []
            for run in range(1, args.repeat + 1):
                sync_seconds, wall, cpu, rss_mb, result = run_sync(config_path, env)
                syncs.append(sync_seconds)
                cpus.append(cpu)
                print(
                    f"run {run}: full sync of {result['index_document_count']} documents "
                    f"{sync_seconds:.2f} s (process wall {wall:.2f} s, CPU {cpu:.2f} s = "
                    f"{cpu / args.rows * 100_000:.2f} s per 100k rows), peak RSS "
                    f"{rss_mb:.0f} MB",
                    flush=True,
                )
                if payload is not None:
                    raws.append(raw_ingest(config, payload))
                    print(
                        f"run {run}: raw ingest of one {len(payload) / 1e6:.1f} MB NDJSON "
                        f"payload {raws[-1]:.2f} s",
                        flush=True,
                    )
            print(f"best full sync {min(syncs):.2f} s, least CPU {min(cpus):.2f} s", end="")
            if raws:
                print(f", best raw ingest {min(raws):.2f} s, ratio {min(syncs) / min(raws):.3f}")
            else:
                print()


# The products with a point and a JSON array made up from their own columns, so that both
# variants read the same query and differ only in the shaping.
SHAPING_QUERY = """
SELECT p.*, 37.0 + (p.PRODUCT_ID % 1000) / 1000.0 AS LATITUDE,
       127.0 + (p.PRODUCT_ID % 997) / 1000.0 AS LONGITUDE,
       json_array(p.CATEGORY, p.BRAND, p.LANG) AS TAGS
  FROM PRODUCTS p
"""
SHAPED = {
    "geo": {"lat": "LATITUDE", "lng": "LONGITUDE"},
    "json_fields": ["TAGS"],
    "transform": "bench.shaping_transform:price_band",
}


def shaping_cost(rows: int, repeat: int) -> None:
    """The same query synced plain and shaped: wall time, CPU and peak RSS of each."""
    with tempfile.TemporaryDirectory(prefix="oracle-meili-bench-") as scratch:
        work = Path(scratch)
        db = create_demo(work / "demo.db", rows=rows)
        raw_config = yaml.safe_load(DEMO_CONFIG.read_text())
        raw_config["source"]["url"] = f"sqlite:///{db}"
        products = raw_config["indexes"][0]
        del products["table"]
        products.update(query=SHAPING_QUERY, upstream=["PRODUCTS"])
        raw_config["indexes"] = [products]
        with meilisearch_server(data_dir=work / "ms", flags=BENCH_FLAGS) as server:
            env = {**os.environ, "MEILI_URL": server.url, "MEILI_API_KEY": server.master_key}
            for variant, extra in (("plain", {}), ("shaped", SHAPED)):
                path = work / f"{variant}.yaml"
                raw_config["indexes"] = [{**products, **extra}]
                path.write_text(yaml.safe_dump(raw_config))
                warm_up(load_config(path, environ=env))
                for run in range(1, repeat + 1):
                    seconds, wall, cpu, rss_mb, result = run_sync(path, env)
                    print(
                        f"{variant} run {run}: {result['index_document_count']} documents in "
                        f"{seconds:.2f} s (process wall {wall:.2f} s, CPU {cpu:.2f} s), "
                        f"peak RSS {rss_mb:.0f} MB",
                        flush=True,
                    )


def run_sync(
    config_path: Path, env: dict[str, str]
) -> tuple[float, float, float, float, dict[str, Any]]:
    """Run the CLI's full sync as a child process: its own duration, the process's wall and
    CPU seconds (user + sys), its peak RSS in MB, and the sync's result."""
    peak_file = config_path.parent / "peak_rss_kb"
    command = [
        sys.executable, "-m", "bench.measured_cli", str(peak_file), "--",
        "--log-level", "WARNING", "sync", "--config", str(config_path), "--index", "products",
        "--mode", "full", "--state", str(config_path.parent / "sync_state.json"),
    ]  # fmt: skip
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    completed = subprocess.run(command, env=env, stdout=subprocess.PIPE, check=False)
    wall = time.monotonic() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if completed.returncode != 0:
        raise SystemExit(f"sync failed (exit {completed.returncode})")
    result: dict[str, Any] = orjson.loads(completed.stdout.strip().splitlines()[-1])
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    peak_mb = int(peak_file.read_text()) / 1024
    return result["duration_seconds"], wall, cpu, peak_mb, result


def write_ndjson(config: AppConfig, path: Path) -> bytes:
    """The documents the sync sends, made once by the engine's own encoder (not timed)."""
    index = config.index("products")
    assert config.source.url is not None
    engine = sa.create_engine(config.source.url)
    source = TableSource(engine, index)
    shape = source.document_shape()
    with path.open("wb") as out:
        for batch in source.read_all(batch_size=index.batch_size):
            for row in batch:
                out.write(encode_document(shape, row) or b"")
    engine.dispose()
    return path.read_bytes()


def warm_up(config: AppConfig) -> None:
    """Index a few documents first, so neither contender pays for a cold server."""
    with MeiliClient(config.meilisearch) as client:
        client.create_index("warm_up", primary_key="id", settings={})
        lines = b"".join(orjson.dumps({"id": i, "text": f"warm {i}"}) + b"\n" for i in range(1000))
        client.wait(client.add_documents("warm_up", lines, primary_key="id"), "warm_up")
        client.delete_index("warm_up")


def raw_ingest(config: AppConfig, payload: bytes) -> float:
    """Seconds to send ``payload`` as one task to a fresh index and see it succeed."""
    index = config.index("products")
    with MeiliClient(config.meilisearch) as client:
        if client.index_exists("raw_baseline"):
            client.delete_index("raw_baseline")
        client.create_index("raw_baseline", primary_key="product_id", settings=index.settings)
        started = time.monotonic()
        task = client.add_documents("raw_baseline", payload, primary_key="product_id")
        client.wait(task, "raw_baseline")
        return time.monotonic() - started


if __name__ == "__main__":
    main()
