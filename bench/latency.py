"""Benchmark: how long until a row written to the source is searchable.

    python -m bench.latency --seconds 30 --rate 2

Builds a 10,000-row demo source, starts the pinned Meilisearch and runs a full sync, then,
for each path, writes rows at a steady rate (each with a unique token in its name) and
measures per row the time from its commit until a search finds it:
- ``follow``: ``oracle-meili follow --dagster`` with its shipped default interval;
- ``sensor``: the Dagster daemon with the index's change sensor, the instance settings the
  project ships (``deploy/dagster.yaml``; another with ``--instance``) and the configuration's
  default sensor interval (another with ``--sensor-interval``).
Prints p50, p95 and max per path. Targets (PERF-001): sensor p50 <= 2.5 s and
p95 <= 5 s; follow p95 <= 1 s.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import sqlalchemy as sa
import yaml

from oracle_meili.adapters.meili import MeiliClient
from oracle_meili.adapters.server import meilisearch_server
from oracle_meili.config import load_config
from oracle_meili.demo import create_demo

# The instance settings the project ships (./dev demo copies the same file).
SHIPPED_INSTANCE = Path(__file__).resolve().parent.parent / "deploy" / "dagster.yaml"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30, help="writing time per path")
    parser.add_argument("--rate", type=float, default=2, help="rows written per second")
    parser.add_argument("--paths", default="follow,sensor")
    parser.add_argument(
        "--instance",
        type=Path,
        default=SHIPPED_INSTANCE,
        help="dagster.yaml for the sensor path (default: the shipped one)",
    )
    parser.add_argument(
        "--sensor-interval",
        type=int,
        help="change_sensor.interval_seconds (default: the configuration's default)",
    )
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="oracle-meili-latency-") as scratch:
        work = Path(scratch)
        db = create_demo(work / "demo.db", rows=10_000)
        config_path = work / "config.yaml"
        config = {
            "source": {"url": f"sqlite:///{db}"},
            "indexes": [
                {
                    "name": "products",
                    "table": "PRODUCTS",
                    "primary_key": "PRODUCT_ID",
                    "cursor": "UPDATED_AT",
                    "lookback_seconds": 5,
                    "soft_delete": {"column": "IS_DELETED", "deleted_value": "Y"},
                    "settings": {"searchableAttributes": ["name", "sku"]},
                    "change_sensor": {"running": True}
                    | ({"interval_seconds": args.sensor_interval} if args.sensor_interval else {}),
                }
            ],
        }
        config_path.write_text(yaml.safe_dump(config))
        with meilisearch_server(data_dir=work / "ms") as server:
            env = {
                **os.environ,
                "MEILI_URL": server.url,
                "MEILI_API_KEY": server.master_key,
                "ORACLE_MEILI_CONFIG": str(config_path),
                "LOG_LEVEL": "WARNING",
            }
            cli = [sys.executable, "-m", "oracle_meili.cli"]
            subprocess.run(
                [*cli, "sync", "--config", str(config_path), "--index", "products",
                 "--mode", "full", "--state", str(work / "state.json")],
                env=env, check=True, stdout=subprocess.DEVNULL,
            )  # fmt: skip
            meili = load_config(config_path, environ=env).meilisearch
            for path in args.paths.split(","):
                home = work / f"dagster_{path}"
                home.mkdir()
                (home / "dagster.yaml").write_text(args.instance.read_text())
                run_env = {**env, "DAGSTER_HOME": str(home)}
                if path == "follow":
                    # The shipped default interval (the probe is one MAX(cursor)).
                    command = [*cli, "follow", "--config", str(config_path), "--dagster"]
                else:
                    daemon = Path(sys.executable).parent / "dagster-daemon"
                    command = [str(daemon), "run", "-m", "oracle_meili.definitions"]
                process = subprocess.Popen(
                    command, env=run_env, cwd=work, stdout=(work / f"{path}.log").open("wb"),
                    stderr=subprocess.STDOUT,
                )  # fmt: skip
                try:
                    if path == "sensor":
                        # The sensor's first tick only learns the change markers.
                        wait_for_text(work / f"{path}.log", "Checking for new runs", timeout=120)
                        time.sleep(2)
                    with MeiliClient(meili) as client:
                        # Warm up: the first change is caught up and not counted.
                        probe(db, client, timeout=120)
                        latencies = measure(db, client, seconds=args.seconds, rate=args.rate)
                except BaseException:
                    log = (work / f"{path}.log").read_text(errors="replace")
                    print("\n".join(log.splitlines()[-40:]), file=sys.stderr)
                    raise
                finally:
                    process.terminate()
                    process.wait(timeout=60)
                report(path, latencies)


def wait_for_text(log: Path, text: str, *, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while text not in log.read_text(errors="replace"):
        if time.monotonic() > deadline:
            raise SystemExit(f"{text!r} did not appear in {log}")
        time.sleep(0.2)


def write_row(db_engine: sa.Engine, token: str) -> float:
    """Insert a product named after ``token``; returns the commit time (monotonic)."""
    with db_engine.begin() as c:
        c.execute(
            sa.text(
                "INSERT INTO PRODUCTS (PRODUCT_ID, SKU, NAME, CATEGORY, LANG, PRICE, STOCK, "
                "CREATED_AT, UPDATED_AT, IS_DELETED) SELECT COALESCE(MAX(PRODUCT_ID), 0) + 1, "
                ":sku, :name, 'Probe', 'en', 1, 1, :now, :now, 'N' FROM PRODUCTS"
            ),
            {"sku": token, "name": f"latency probe {token}", "now": utc_now()},
        )
    return time.monotonic()


def utc_now() -> dt.datetime:
    # Naive UTC, like the demo's other timestamps (SQLite compares them as text).
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def searchable(client: MeiliClient, token: str) -> bool:
    hits = client.search("products", token, attributesToSearchOn=["sku"])["hits"]
    return any(hit["sku"] == token for hit in hits)


def probe(db: Path, client: MeiliClient, *, timeout: float) -> float:
    engine = sa.create_engine(f"sqlite:///{db}")
    token = f"probe{uuid.uuid4().hex[:10]}"
    written = write_row(engine, token)
    while not searchable(client, token):
        if time.monotonic() - written > timeout:
            raise SystemExit("the warm-up row never became searchable")
        time.sleep(0.05)
    engine.dispose()
    return time.monotonic() - written


def measure(db: Path, client: MeiliClient, *, seconds: float, rate: float) -> list[float]:
    """Write rows at ``rate`` for ``seconds``; latency of each until searchable."""
    engine = sa.create_engine(f"sqlite:///{db}")
    pending: dict[str, float] = {}
    latencies: list[float] = []
    lock = threading.Lock()
    done = threading.Event()

    def writer() -> None:
        start = time.monotonic()
        count = 0
        while time.monotonic() - start < seconds:
            token = f"lat{uuid.uuid4().hex[:12]}"
            written = write_row(engine, token)
            with lock:
                pending[token] = written
            count += 1
            time.sleep(max(0.0, start + count / rate - time.monotonic()))
        done.set()

    thread = threading.Thread(target=writer)
    thread.start()
    deadline = None
    while True:
        with lock:
            tokens = list(pending.items())
        for token, written in tokens:
            if searchable(client, token):
                latencies.append(time.monotonic() - written)
                with lock:
                    del pending[token]
        if done.is_set():
            deadline = deadline or time.monotonic() + 60
            if not pending or time.monotonic() > deadline:
                break
        time.sleep(0.05)
    thread.join()
    engine.dispose()
    if pending:
        print(f"  {len(pending)} rows never became searchable within 60 s")
    return latencies


def report(path: str, latencies: list[float]) -> None:
    ordered = sorted(latencies)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    print(
        f"{path}: {len(ordered)} rows, p50 {statistics.median(ordered):.2f} s, "
        f"p95 {p95:.2f} s, max {ordered[-1]:.2f} s",
        flush=True,
    )


if __name__ == "__main__":
    main()
