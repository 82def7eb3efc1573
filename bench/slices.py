"""Benchmark: key-range slices (``parallel: N``), reading alone and syncing whole.

    python -m bench.slices --rows 1000000 --slices 1,2,4

1. **Read and encode into a null sink.** The demo table cut into N key ranges (the plan's own
   boundaries), each read in keyset pages and encoded to NDJSON by a worker process of its
   own, the lines dropped: how reading scales with processes, without Meilisearch.
2. **Full sync.** ``oracle-meili sync --mode full`` with ``parallel: N`` against the pinned
   Meilisearch, settings as shipped: wall time, CPU of the sync (its workers included) and
   CPU of Meilisearch.

Every figure is wall time next to CPU seconds; rows/s is rows over wall time.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import resource
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import psutil
import sqlalchemy as sa
import yaml

from bench.full_sync import BENCH_FLAGS, DEMO_CONFIG, run_sync, warm_up
from oracle_meili.adapters.key_ranges import KeyRange, key_ranges
from oracle_meili.adapters.server import meilisearch_server
from oracle_meili.adapters.source import TableSource
from oracle_meili.config import IndexConfig, load_config, parse_index
from oracle_meili.demo import create_demo
from oracle_meili.engine.pipeline import encode_line

MAX_BYTES = 64 * 1024 * 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--slices", default="1,2,4", help="comma-separated slice counts")
    parser.add_argument("--skip-sync", action="store_true", help="only the null-sink reads")
    args = parser.parse_args()
    counts = [int(n) for n in args.slices.split(",")]
    with tempfile.TemporaryDirectory(prefix="oracle-meili-bench-") as scratch:
        work = Path(scratch)
        started = time.monotonic()
        db = create_demo(work / "demo.db", rows=args.rows)
        print(f"demo source: {args.rows:,} rows built in {time.monotonic() - started:.1f} s")
        raw = yaml.safe_load(DEMO_CONFIG.read_text())
        raw["source"]["url"] = f"sqlite:///{db}"
        products = next(i for i in raw["indexes"] if i["name"] == "products")
        raw["indexes"] = [products]
        print("\n| slices | boundaries | wall | CPU (workers) | rows/s | rows/s per process |")
        print("|---|---|---|---|---|---|")
        for n in counts:
            index, _ = parse_index(products, label="products")
            read_null_sink(raw["source"]["url"], index, n)
        if args.skip_sync:
            return
        with meilisearch_server(data_dir=work / "ms", flags=BENCH_FLAGS) as server:
            env = {**os.environ, "MEILI_URL": server.url, "MEILI_API_KEY": server.master_key}
            meilisearch = psutil.Process(server.pid)
            print(
                "\n| parallel | wall | CPU (sync) | CPU (Meilisearch) | rows/s | peak RSS (CLI) |"
            )
            print("|---|---|---|---|---|---|")
            for n in counts:
                path = work / f"parallel_{n}.yaml"
                raw["indexes"] = [{**products, "parallel": n}]
                path.write_text(yaml.safe_dump(raw))
                warm_up(load_config(path, environ=env))
                before = sum(meilisearch.cpu_times()[:2])
                seconds, _wall, cpu, rss_mb, result = run_sync(path, env)
                served = sum(meilisearch.cpu_times()[:2]) - before
                rows = result["rows_read"]
                print(
                    f"| {n} | {seconds:.1f} s | {cpu:.1f} s | {served:.1f} s | "
                    f"{rows / seconds:,.0f} | {rss_mb:.0f} MB |",
                    flush=True,
                )
                (path.parent / "sync_state.json").unlink(missing_ok=True)


def read_null_sink(url: str, index: IndexConfig, slices: int) -> None:
    """One table row: the slices read and encoded in ``slices`` processes, lines dropped."""
    engine = sa.create_engine(url)
    started = time.monotonic()
    ranges = key_ranges(TableSource(engine, index), slices)
    planned = time.monotonic() - started
    engine.dispose()
    context = multiprocessing.get_context("spawn")
    started = time.monotonic()
    with ProcessPoolExecutor(max_workers=len(ranges), mp_context=context) as pool:
        outcomes = list(pool.map(read_range, [(url, index, r) for r in ranges]))
    wall = time.monotonic() - started
    rows = sum(o[0] for o in outcomes)
    cpu = sum(o[1] for o in outcomes)
    print(
        f"| {slices} | {planned:.2f} s | {wall:.1f} s | {cpu:.1f} s | {rows / wall:,.0f} | "
        f"{rows / wall / len(ranges):,.0f} |",
        flush=True,
    )


def read_range(work: tuple[str, IndexConfig, KeyRange]) -> tuple[int, float]:
    """In a worker: read one key range, encode every row; its rows and CPU seconds."""
    url, index, key_range = work
    before = resource.getrusage(resource.RUSAGE_SELF)
    engine = sa.create_engine(url)
    source = TableSource(engine, index)
    shape = source.document_shape()
    rows = 0
    for batch in source.read_all(
        batch_size=index.batch_size, after=key_range.after, upto=key_range.upto
    ):
        for row in batch:
            encode_line(shape, row, max_bytes=MAX_BYTES)
        rows += len(batch)
    engine.dispose()
    after = resource.getrusage(resource.RUSAGE_SELF)
    return rows, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


if __name__ == "__main__":
    main()
