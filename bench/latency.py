"""Benchmark: how long until a row written to the source is searchable.

    python -m bench.latency --seconds 30 --rate 2
    python -m bench.latency --paths sensor --topology embedded,postgres --rates 1,5,20 --seconds 60
    python -m bench.latency --paths run --topology embedded,postgres --rates 1,5,20 --seconds 60

Builds a 10,000-row demo source, starts the pinned Meilisearch and runs a full sync, then,
for each path, writes rows at a steady rate (each with a unique token in its name) and
measures per row the time from its commit until a search finds it:
- ``follow``: ``oracle-meili follow --dagster`` with its shipped default interval;
- ``run``: the follow run (``follow: {running: true}``, its default interval), started by its
  sensor under the Dagster daemon, on one or both topologies (below);
- ``sensor``: the Dagster daemon with the index's change sensor and the configuration's
  default sensor interval (another with ``--sensor-interval``), on one or both topologies:
  ``embedded`` (the shipped ``deploy/dagster.yaml``, SQLite storage; another with
  ``--instance``, the daemon loading the code itself) and ``postgres`` (the shipped
  ``deploy/production`` files: Postgres storage on a cluster of the benchmark's own, a code
  server and the daemon in processes of their own).
Prints p50, p95 and max per path and rate, and for the sensor how many runs were launched
for how many changes. Targets (PERF-001): follow run p95 <= 1.5 s (goal 1 s); ``follow``
p95 <= 1 s; sensor p95 <= 5 s plus a run (the daemon's 5 s loop bounds it).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import yaml

from bench.latency_measure import measure, probe, report, stop_group, wait_for_text
from oracle_meili.adapters.meili import MeiliClient
from oracle_meili.adapters.server import free_port, meilisearch_server
from oracle_meili.config import load_config
from oracle_meili.demo import create_demo
from oracle_meili_tests.postgres import postgres_cluster

# The instance settings the project ships (./dev demo copies the same file).
SHIPPED_INSTANCE = Path(__file__).resolve().parent.parent / "deploy" / "dagster.yaml"
PRODUCTION = SHIPPED_INSTANCE.parent / "production"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30, help="writing time per path")
    parser.add_argument("--rate", type=float, default=2, help="rows written per second")
    parser.add_argument("--rates", help="several rates, one after the other (e.g. 1,5,20)")
    parser.add_argument("--paths", default="follow,sensor")
    parser.add_argument("--topology", default="embedded", help="embedded, postgres, or both")
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
    rates = [float(r) for r in args.rates.split(",")] if args.rates else [args.rate]

    with tempfile.TemporaryDirectory(prefix="oracle-meili-latency-") as scratch:
        work = Path(scratch)
        db = create_demo(work / "demo.db", rows=10_000)
        config_path = work / "config.yaml"
        config: dict[str, Any] = {
            "source": {"url": f"sqlite:///{db}"},
            "indexes": [
                {
                    "name": "products",
                    "table": "PRODUCTS",
                    "primary_key": "PRODUCT_ID",
                    "cursor": "UPDATED_AT",
                    "lookback_seconds": 5,
                    "soft_delete": {"column": "IS_DELETED", "deleted_value": "Y"},
                    "settings": {
                        "searchableAttributes": ["name", "sku"],
                        # One search finds every pending row, however many are pending.
                        "filterableAttributes": ["sku"],
                    },
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
                if path == "follow":
                    follow_path(work, env, config_path, db, meili, rates, args.seconds)
                    continue
                if path == "run":
                    # The same index, kept fresh by the follow run instead of the sensor.
                    entry = config["indexes"][0]
                    entry["change_sensor"] = None
                    entry["follow"] = {"running": True}
                    run_config = work / "config-follow-run.yaml"
                    run_config.write_text(yaml.safe_dump(config))
                    path_env = {**env, "ORACLE_MEILI_CONFIG": str(run_config)}
                else:
                    path_env = env
                for topology in args.topology.split(","):
                    sensor_path(
                        work, path_env, db, meili, rates, args.seconds, topology, args.instance,
                        path=path,
                    )  # fmt: skip


def follow_path(
    work: Path, env: dict[str, str], config_path: Path, db: Path, meili: Any,
    rates: list[float], seconds: float,
) -> None:  # fmt: skip
    home = work / "dagster_follow"
    home.mkdir()
    (home / "dagster.yaml").write_text(SHIPPED_INSTANCE.read_text())
    # The shipped default interval (the probe is one MAX(cursor)).
    command = [sys.executable, "-m", "oracle_meili.cli", "follow", "--config",
               str(config_path), "--dagster"]  # fmt: skip
    with (
        running([command], {**env, "DAGSTER_HOME": str(home)}, work, "follow"),
        MeiliClient(meili) as client,
    ):
        probe(db, client, timeout=120)  # warm up: caught up, not counted
        for rate in rates:
            report(f"follow at {rate:g}/s", measure(db, client, seconds=seconds, rate=rate))


def sensor_path(
    work: Path, env: dict[str, str], db: Path, meili: Any, rates: list[float],
    seconds: float, topology: str, instance: Path, *, path: str,
) -> None:  # fmt: skip
    """Through the Dagster daemon: the change sensor's runs, or the follow run."""
    home = work / f"dagster_{path}_{topology}"
    home.mkdir()
    with ExitStack() as stack:
        run_env = {**env, "DAGSTER_HOME": str(home)}
        daemon = str(Path(sys.executable).parent / "dagster-daemon")
        if topology == "postgres":
            postgres = stack.enter_context(postgres_cluster())
            run_env.update(postgres.environment())
            os.environ.update(postgres.environment())  # for this process's instance
            (home / "dagster.yaml").write_text((PRODUCTION / "dagster.yaml").read_text())
            port = free_port()
            workspace = yaml.safe_load((PRODUCTION / "workspace.yaml").read_text())
            workspace["load_from"][0]["grpc_server"]["port"] = port
            (work / "workspace.yaml").write_text(yaml.safe_dump(workspace))
            commands = [
                [str(Path(sys.executable).parent / "dagster"), "code-server", "start", "-m",
                 "oracle_meili.definitions", "-h", "127.0.0.1", "-p", str(port)],
                [daemon, "run", "-w", str(work / "workspace.yaml")],
            ]  # fmt: skip
        else:
            (home / "dagster.yaml").write_text(instance.read_text())
            commands = [[daemon, "run", "-m", "oracle_meili.definitions"]]
        log = stack.enter_context(running(commands, run_env, work, f"{path}-{topology}"))
        # The sensor's first tick only learns the change markers.
        wait_for_text(log, "Checking for new runs", timeout=120)
        time.sleep(2)
        with MeiliClient(meili) as client:
            probe(db, client, timeout=120)  # warm up: caught up, not counted
            for rate in rates:
                before = runs_launched(home)
                latencies = measure(db, client, seconds=seconds, rate=rate)
                runs = runs_launched(home) - before
                label = "follow run" if path == "run" else "sensor"
                report(f"{label} ({topology}) at {rate:g}/s", latencies, runs=runs)


@contextmanager
def running(
    commands: list[list[str]], env: dict[str, str], work: Path, name: str
) -> Iterator[Path]:
    """The commands as processes (output to one log), stopped afterwards; yields the log."""
    log = work / f"{name}.log"
    out = log.open("wb")
    # Each in a session of its own: stopping one stops what it started (a run's worker too).
    processes = [
        subprocess.Popen(command, env=env, cwd=work, stdout=out, stderr=subprocess.STDOUT,
                         start_new_session=True)
        for command in commands
    ]  # fmt: skip
    try:
        yield log
    except BaseException:
        print("\n".join(log.read_text(errors="replace").splitlines()[-40:]), file=sys.stderr)
        raise
    finally:
        for process in reversed(processes):
            stop_group(process)
        out.close()


def runs_launched(home: Path) -> int:
    import dagster as dg  # only here: the follow path never needs Dagster in this process

    with dg.DagsterInstance.from_config(str(home)) as instance:
        return instance.get_runs_count(dg.RunsFilter(job_name="sync_indexes"))


if __name__ == "__main__":
    main()
