"""Benchmark: what the Dagster layer costs as the indexes grow.

    python -m bench.definitions_load --indexes 1 50 200 1000

For each count N: a configuration of N indexes (one SQLite table each, with a cursor, a
schedule and a change sensor, the shipped settings otherwise). Measures, each in a fresh
process:
- loading the definitions: importing the code location, building and validating them (what
  a code server does at each start and reload), and that process's peak RSS;
- launch to first step: a run of ``sync_indexes`` for one index, queued as a sensor queues
  it (``dagster job launch``), from its creation until its step starts: the daemon dequeues
  it, and its run worker loads the code location, resolves the job and plans the step (a
  first run, for one more index kept for it, warms the daemon up and is not counted).
Targets: load at most 3 s at 200 indexes and 10 s at 1,000, growing linearly; launch to first
step within 20 % from 1 to 1,000 indexes.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import dagster as dg
import sqlalchemy as sa
import yaml

from bench.latency import SHIPPED_INSTANCE
from bench.latency_measure import stop_group
from oracle_meili.adapters.server import free_port

LOAD = """
import resource, time
started = time.monotonic()
import dagster as dg
from oracle_meili.definitions import defs
dg.Definitions.validate_loadable(defs())
print(time.monotonic() - started, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
"""

FIRST_STEP = """
import sys, time
import dagster as dg
deadline = time.monotonic() + 300
with dg.DagsterInstance.get() as instance:
    while time.monotonic() < deadline:
        for record in instance.get_run_records(
            filters=dg.RunsFilter(tags={"measured": sys.argv[1]}), limit=1
        ):
            starts = [e.timestamp for e in instance.all_logs(record.dagster_run.run_id)
                      if e.dagster_event_type == dg.DagsterEventType.STEP_START]
            if starts:
                print(starts[0] - record.create_timestamp.timestamp())
                sys.exit(0)
        time.sleep(0.1)
sys.exit("no step started")
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--indexes", type=int, nargs="+", default=[1, 50, 200, 1000])
    args = parser.parse_args()
    print("| indexes | load | load peak RSS | launch to first step |")
    print("|---|---|---|---|")
    for count in args.indexes:
        with tempfile.TemporaryDirectory(prefix="oracle-meili-load-") as scratch:
            load, rss, first_step = measure(Path(scratch), count)
        print(f"| {count:,} | {load:.2f} s | {rss:.0f} MB | {first_step:.2f} s |", flush=True)


def measure(work: Path, count: int) -> tuple[float, float, float]:
    db = work / "source.db"
    engine = sa.create_engine(f"sqlite:///{db}")
    with engine.begin() as c:
        for n in range(count + 1):
            c.exec_driver_sql(f"CREATE TABLE T{n} (ID INTEGER PRIMARY KEY, UPDATED_AT DATETIME)")
    engine.dispose()
    config = {
        "source": {"url": f"sqlite:///{db}"},
        "indexes": [
            {"name": f"t{n}", "table": f"T{n}", "primary_key": "ID", "cursor": "UPDATED_AT",
             "schedule": {"incremental": "*/5 * * * *", "reconcile": "0 3 * * *"}}
            for n in range(count + 1)
        ],
    }  # fmt: skip
    (work / "config.yaml").write_text(yaml.safe_dump(config))
    home = work / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text(SHIPPED_INSTANCE.read_text())
    dg.DagsterInstance.from_config(str(home)).dispose()  # storage made before two use it
    env = {
        **os.environ,
        "ORACLE_MEILI_CONFIG": str(work / "config.yaml"),
        "DAGSTER_HOME": str(home),
        # Nothing listens there: the step starts, then fails at once, which is enough here.
        "MEILI_URL": f"http://127.0.0.1:{free_port()}",
    }
    loaded = subprocess.run(
        [sys.executable, "-c", LOAD], env=env, cwd=work, check=True, capture_output=True,
        text=True,
    ).stdout.split()  # fmt: skip
    daemon = subprocess.Popen(
        [str(Path(sys.executable).parent / "dagster-daemon"), "run", "-m",
         "oracle_meili.definitions"],
        env=env, cwd=work, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True,
    )  # fmt: skip
    try:
        for index, measured in ((f"t{count}", "warm-up"), ("t0", "this")):
            subprocess.run(
                [sys.executable, "-m", "dagster", "job", "launch", "-m",
                 "oracle_meili.definitions", "-j", "sync_indexes", "-o", f"meilisearch__{index}",
                 "--tags", f'{{"dagster/partition": "incremental", "measured": "{measured}"}}'],
                env=env, cwd=work, check=True, capture_output=True,
            )  # fmt: skip
            first_step = subprocess.run(
                [sys.executable, "-c", FIRST_STEP, measured], env=env, cwd=work, check=True,
                capture_output=True, text=True,
            ).stdout  # fmt: skip
    finally:
        stop_group(daemon, grace_seconds=0)  # what the steps do next is not measured
    return float(loaded[0]), float(loaded[1]), float(first_step)


if __name__ == "__main__":
    main()
