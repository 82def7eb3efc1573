"""Benchmark: many indexes on one source, kept fresh by the follow run or the change sensor.

    python -m bench.many_indexes --indexes 1 50 200
    python -m bench.many_indexes --indexes 50 200 --automation sensor
    python -m bench.many_indexes --indexes 50 200 --topology postgres

For each count N: N small tables (50 rows each) on one SQLite source, one index each, all
followed by one follow run (``follow: {running: true}``), or with every change sensor running
(``--automation sensor``), with the shipped settings (``deploy/dagster.yaml``), or with
``--topology postgres`` the production ones (``deploy/production/dagster.yaml``: Postgres
storage on a cluster of the benchmark's own, a code server and a daemon). Measures:
- the time to load the definitions (a process that builds and validates them);
- the CPU per minute while nothing changes, after the first syncs: the Dagster daemon with
  the code server and run workers it starts, and the follow run's worker alone;
- the latency from commit to searchable while 10 of the indexes (or all, when fewer) each
  change once a second, and how many runs that took.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil
import sqlalchemy as sa
import yaml

from bench.latency import PRODUCTION, SHIPPED_INSTANCE
from bench.latency_measure import report, stop_group, wait_for_text
from oracle_meili.adapters.meili import MeiliClient
from oracle_meili.adapters.server import free_port, meilisearch_server
from oracle_meili.config import load_config
from oracle_meili_tests.postgres import postgres_cluster

ROWS = 50
CHANGING = 10
# A full sync of every index, recorded in the Dagster instance as the CLI's --dagster does.
SYNC_ALL = """
from oracle_meili.config import load_config
from oracle_meili_tests.postgres import postgres_cluster
from oracle_meili.defs.state import instance_state
from oracle_meili.engine.runner import Runner
config = load_config()
with instance_state(None, meilisearch_url=config.meilisearch.url) as state:
    with Runner(config.source, config.meilisearch, state=state).session() as session:
        for index in config.indexes:
            session.sync(index, "full")
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--indexes", type=int, nargs="+", default=[1, 50, 200])
    parser.add_argument("--idle-seconds", type=float, default=60)
    parser.add_argument("--seconds", type=float, default=60, help="time the changes go on")
    parser.add_argument("--automation", choices=["follow", "sensor"], default="follow")
    parser.add_argument("--topology", choices=["embedded", "postgres"], default="embedded")
    args = parser.parse_args()
    for count in args.indexes:
        # (A run worker may still be writing its logs when the daemon stops.)
        with (
            tempfile.TemporaryDirectory(
                prefix="oracle-meili-many-", ignore_cleanup_errors=True
            ) as scratch,
            ExitStack() as stack,
        ):
            work = Path(scratch)
            topology = Topology.start(stack, work, args.topology)
            measure_count(work, count, args.idle_seconds, args.seconds, args.automation, topology)


@dataclass
class Topology:
    """Where the instance keeps its state, and how the daemon reaches the code."""

    name: str
    # The instance's variables (Postgres), and the code server the daemon loads it from.
    env: dict[str, str]
    code_server: list[str] | None = None
    workspace: Path | None = None

    @classmethod
    def start(cls, stack: ExitStack, work: Path, name: str) -> Topology:
        if name == "embedded":
            return cls(name, {})
        postgres = stack.enter_context(postgres_cluster())
        os.environ.update(postgres.environment())  # for this process's instance
        port = free_port()
        workspace = yaml.safe_load((PRODUCTION / "workspace.yaml").read_text())
        workspace["load_from"][0]["grpc_server"]["port"] = port
        (work / "workspace.yaml").write_text(yaml.safe_dump(workspace))
        server = [str(Path(sys.executable).parent / "dagster"), "code-server", "start", "-m",
                  "oracle_meili.definitions", "-h", "127.0.0.1", "-p", str(port)]  # fmt: skip
        return cls(name, postgres.environment(), server, work / "workspace.yaml")

    @property
    def instance_file(self) -> Path:
        return SHIPPED_INSTANCE if self.name == "embedded" else PRODUCTION / "dagster.yaml"

    def daemon(self) -> list[str]:
        load = ["-w", str(self.workspace)] if self.workspace else ["-m", "oracle_meili.definitions"]
        return [str(Path(sys.executable).parent / "dagster-daemon"), "run", *load]


def measure_count(
    work: Path,
    count: int,
    idle_seconds: float,
    seconds: float,
    automation: str,
    topology: Topology,
) -> None:
    db = work / "source.db"
    engine = sa.create_engine(f"sqlite:///{db}")
    make_tables(engine, count)
    config_path = work / "config.yaml"
    config_path.write_text(yaml.safe_dump(configuration(db, count, automation)))
    home = work / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text(topology.instance_file.read_text())
    with meilisearch_server(data_dir=work / "ms") as server:
        env = {
            **os.environ,
            **topology.env,
            "MEILI_URL": server.url,
            "MEILI_API_KEY": server.master_key,
            "ORACLE_MEILI_CONFIG": str(config_path),
            "DAGSTER_HOME": str(home),
        }
        load = definitions_load_seconds(env, work)
        # Every index synced once (into the instance), so the sensors have nothing to do.
        subprocess.run([sys.executable, "-c", SYNC_ALL], env=env, cwd=work, check=True)
        log = work / "daemon.log"
        code_server = (
            subprocess.Popen(
                topology.code_server,
                env=env,
                cwd=work,
                stdout=(work / "code.log").open("wb"),
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            if topology.code_server
            else None
        )
        daemon = subprocess.Popen(
            topology.daemon(), env=env, cwd=work, stdout=log.open("wb"),
            stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        worker: int | None = None
        try:
            wait_for_text(log, "Checking for new runs", timeout=300)
            if automation == "follow":
                worker = follow_run_worker(home)
            time.sleep(10)  # the first ticks and polls, after which nothing is due
            cpu, worker_cpu = idle_cpu_per_minute(daemon.pid, worker, idle_seconds)
            meili = load_config(config_path, environ=env).meilisearch
            with MeiliClient(meili) as client:
                latencies, runs = changing(engine, client, home, min(CHANGING, count), seconds)
            rss = psutil.Process(worker).memory_info().rss / 2**20 if worker else None
        finally:
            stop_group(daemon)
            if code_server is not None:
                stop_group(code_server)
    engine.dispose()
    follow_run = (
        f"; the follow run alone {worker_cpu:.1f} CPU-s a minute idle, {rss:.0f} MB RSS"
        if worker
        else ""
    )
    print(
        f"{count} indexes ({automation}, {topology.name}): definitions load {load:.2f} s; "
        "idle daemon CPU "
        f"{cpu:.1f} CPU-s a minute{follow_run}",
        flush=True,
    )
    changing_label = (
        f"{count} indexes ({topology.name}), {min(CHANGING, count)} changing once a second"
    )
    report(changing_label, latencies, runs=runs)


def make_tables(engine: sa.Engine, count: int) -> None:
    now = dt.datetime(2026, 1, 1)
    with engine.begin() as c:
        for n in range(count):
            c.exec_driver_sql(
                f"CREATE TABLE T{n} (ID INTEGER PRIMARY KEY, SKU TEXT, NAME TEXT, "
                "UPDATED_AT DATETIME)"
            )
            c.exec_driver_sql(
                f"INSERT INTO T{n} VALUES (?, ?, ?, ?)",
                [(i, f"s{n}x{i}", f"item {i} of table {n}", now) for i in range(1, ROWS + 1)],
            )


def configuration(db: Path, count: int, automation: str) -> dict[str, Any]:
    keep_fresh = (
        {"follow": {"running": True}}
        if automation == "follow"
        else {"change_sensor": {"running": True}}
    )
    return {
        "source": {"url": f"sqlite:///{db}"},
        "indexes": [
            {"name": f"t{n}", "table": f"T{n}", "primary_key": "ID", "cursor": "UPDATED_AT",
             "settings": {"filterableAttributes": ["sku"]}, **keep_fresh}
            for n in range(count)
        ],
    }  # fmt: skip


def follow_run_worker(home: Path, timeout: float = 300) -> int:
    """The pid of the follow run's worker, once it is following (from the executor's log)."""
    import re

    import dagster as dg

    deadline = time.monotonic() + timeout
    with dg.DagsterInstance.from_config(str(home)) as instance:
        while time.monotonic() < deadline:
            for run in instance.get_runs(filters=dg.RunsFilter(job_name="follow_changes")):
                messages = [e.user_message for e in instance.all_logs(run.run_id)]
                pids = [re.search(r"in process \(pid: (\d+)\)", m) for m in messages]
                if any("following" in m for m in messages) and any(pids):
                    return int(next(p for p in pids if p).group(1))
            time.sleep(1)
    raise SystemExit("no follow run started")


def definitions_load_seconds(env: dict[str, str], work: Path) -> float:
    """A fresh process importing the code location and validating its definitions."""
    code = (
        "import time; started = time.monotonic()\n"
        "import dagster as dg\n"
        "from oracle_meili.definitions import defs\n"
        "dg.Definitions.validate_loadable(defs())\n"
        "print(time.monotonic() - started)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=work, check=True, capture_output=True,
        text=True,
    )  # fmt: skip
    return float(done.stdout.strip().splitlines()[-1])


def idle_cpu_per_minute(pid: int, worker: int | None, seconds: float) -> tuple[float, float]:
    """CPU seconds (user + system) a minute: the daemon and its children, and ``worker``."""

    def cpu(process: psutil.Process) -> float:
        try:
            times = process.cpu_times()
            return float(times.user + times.system)
        except psutil.NoSuchProcess:
            return 0.0

    def tree_cpu() -> float:
        root = psutil.Process(pid)
        return sum(cpu(p) for p in [root, *root.children(recursive=True)])

    def worker_cpu() -> float:
        return cpu(psutil.Process(worker)) if worker else 0.0

    before, worker_before = tree_cpu(), worker_cpu()
    time.sleep(seconds)
    scale = 60 / seconds
    return (tree_cpu() - before) * scale, (worker_cpu() - worker_before) * scale


def changing(
    engine: sa.Engine, client: MeiliClient, home: Path, changing: int, seconds: float
) -> tuple[list[float], int]:
    """Each of ``changing`` tables gets one new row a second; latency of each row."""
    import dagster as dg

    with dg.DagsterInstance.from_config(str(home)) as instance:
        before = instance.get_runs_count()
    pending: dict[tuple[int, str], float] = {}
    latencies: list[float] = []
    started = time.monotonic()
    tick = 0
    next_id = ROWS + 1
    while True:
        now = time.monotonic()
        if now - started < seconds and now >= started + tick:
            for n in range(changing):
                token = f"c{uuid.uuid4().hex[:10]}"
                with engine.begin() as c:
                    c.exec_driver_sql(
                        f"INSERT INTO T{n} VALUES (?, ?, 'changed', ?)",
                        (next_id, token, dt.datetime.now(dt.UTC).replace(tzinfo=None)),
                    )
                pending[(n, token)] = time.monotonic()
            next_id += 1
            tick += 1
        for n in {n for n, _ in pending}:
            tokens = [t for m, t in pending if m == n]
            hits = client.search(
                f"t{n}", "", filter=f"sku IN [{', '.join(tokens)}]", limit=len(tokens),
                attributesToRetrieve=["sku"],
            )["hits"]  # fmt: skip
            seen = time.monotonic()
            for hit in hits:
                latencies.append(seen - pending.pop((n, hit["sku"])))
        if now - started >= seconds and (not pending or now - started > seconds + 60):
            break
        time.sleep(0.05)
    with dg.DagsterInstance.from_config(str(home)) as instance:
        runs = instance.get_runs_count() - before
    return latencies, runs


if __name__ == "__main__":
    main()
