"""Benchmark: a full sync to one Meilisearch server and to three shards.

    python -m bench.shards --rows 1000000

Builds the demo source, starts three pinned Meilisearch servers on this machine (shipped
indexing flags), then runs ``oracle-meili sync --mode full`` of ``products``: to one server,
to the three as ``meilisearch.shards``, and to the three with ``parallel: 2``. Prints, per
run, the sync's wall time, its CPU (workers included), the Meilisearch servers' CPU summed,
and each shard's document count. All three servers share this machine's cores, so this
measures the cost of sharding here, not what separate machines would give (the projection
in docs/benchmarks.md does that from these figures).
"""

from __future__ import annotations

import argparse
import os
import secrets
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import psutil
import yaml
from pydantic import SecretStr

from bench.full_sync import BENCH_FLAGS, DEMO_CONFIG, run_sync, warm_up
from oracle_meili.adapters.meili import MeiliClient
from oracle_meili.adapters.server import MeilisearchProcess, free_port
from oracle_meili.config import MeilisearchConfig, load_config, shard_key_variable
from oracle_meili.demo import create_demo

NAMES = ("s0", "s1", "s2")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="oracle-meili-bench-") as scratch, ExitStack() as stack:
        work = Path(scratch)
        started = time.monotonic()
        db = create_demo(work / "demo.db", rows=args.rows)
        print(f"demo source: {args.rows:,} rows built in {time.monotonic() - started:.1f} s")
        servers = {}
        for name in NAMES:
            server = MeilisearchProcess(
                data_dir=work / name,
                port=free_port(),
                master_key=secrets.token_urlsafe(24),
                flags=BENCH_FLAGS,
                log_path=work / f"{name}.log",
            )
            server.start()
            stack.callback(server.stop)
            servers[name] = server
        env = {
            **os.environ,
            "MEILI_URL": servers["s0"].url,
            "MEILI_API_KEY": servers["s0"].master_key,
            **{shard_key_variable(n): s.master_key for n, s in servers.items()},
        }
        raw = yaml.safe_load(DEMO_CONFIG.read_text())
        raw["source"]["url"] = f"sqlite:///{db}"
        products = next(i for i in raw["indexes"] if i["name"] == "products")
        shards = [{"name": n, "url": s.url} for n, s in servers.items()]
        variants: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
            ("1 server", {}, {}),
            ("3 shards", {"shards": shards}, {}),
            ("3 shards, parallel 2", {"shards": shards}, {"parallel": 2}),
        ]
        processes = [psutil.Process(s.running.pid) for s in servers.values()]
        print(
            "\n| target | wall | CPU (sync) | CPU (Meilisearch, all) | rows/s | "
            "peak RSS (parent) | per shard |"
        )
        print("|---|---|---|---|---|---|---|")
        for label, meilisearch, extra in variants:
            path = work / f"{label.replace(' ', '_').replace(',', '')}.yaml"
            raw["meilisearch"] = meilisearch
            raw["indexes"] = [{**products, **extra}]
            path.write_text(yaml.safe_dump(raw))
            config = load_config(path, environ=env)
            warm_up(config)  # the first server
            before = sum(sum(p.cpu_times()[:2]) for p in processes)
            seconds, _wall, cpu, rss_mb, result = run_sync(path, env)
            served = sum(sum(p.cpu_times()[:2]) for p in processes) - before
            counts = per_shard(config.meilisearch, servers) if meilisearch else "-"
            print(
                f"| {label} | {seconds:.1f} s | {cpu:.1f} s | {served:.1f} s | "
                f"{result['rows_read'] / seconds:,.0f} | {rss_mb:.0f} MB | {counts} |",
                flush=True,
            )
            (path.parent / "sync_state.json").unlink(missing_ok=True)
            drop_products(servers)


def per_shard(config: MeilisearchConfig, servers: dict[str, MeilisearchProcess]) -> str:
    counts = []
    for shard in config.shards:
        with MeiliClient(config.shard_config(shard)) as node:
            counts.append(f"{node.document_count('products'):,}")
    return " / ".join(counts)


def drop_products(servers: dict[str, MeilisearchProcess]) -> None:
    """Each run starts from empty servers."""
    for server in servers.values():
        config = MeilisearchConfig(url=server.url, api_key=SecretStr(server.master_key))
        with MeiliClient(config) as node:
            if node.index_exists("products"):
                node.delete_index("products")


if __name__ == "__main__":
    main()
