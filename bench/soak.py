"""Soak: `oracle-meili follow`, or the follow run, under writes and faults, ending quiet; how
many rows missed.

    python -m bench.soak --minutes 30 --rate 10
    python -m bench.soak --minutes 5 --dagster
    python -m bench.soak --minutes 60 --through run     # the follow run, under the daemon
    python -m bench.soak --minutes 35 --through run --handover-minutes 10

Writes rows to a table whose cursor has one-second resolution (SQLite text stamps): inserts
and updates, most stamped in the current second (ties with the newest synced row), the rest
stamped up to ``LATEST`` seconds back (late commits inside the window); a commit may wait up
to the 5 s the source is locked, so each still lands within ``lookback_seconds`` of its
cursor value, the look-back's premise. Meanwhile ``follow`` (a process of its own) keeps the index
in sync, and every ``--fault-every`` seconds a fault strikes, in turn: Meilisearch killed
with SIGKILL and started again on the same data 3 s later, and the source locked for 5 s
(every read and write waits or fails). After the writes stop, the table stays quiet for the
look-back window and one poll interval plus the time one sync takes; then every row's latest
version must be in the index and be what a search for it finds first. Prints the counts and
the misses, and for the follow run the RSS of the worker following, sampled every minute
(a follow run hands over to a new one every ``follow.handover_after_minutes``, 60, so the
samples span the workers in turn). Target: 0 rows missed; the follow run's RSS flat.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import secrets
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import dagster as dg
import psutil
import sqlalchemy as sa
import yaml

from bench.latency import SHIPPED_INSTANCE
from bench.latency_measure import stop_group
from bench.many_indexes import follow_run_worker
from oracle_meili.adapters.meili import MeiliClient
from oracle_meili.adapters.server import MeilisearchProcess, free_port
from oracle_meili.config import MeilisearchConfig

LOOKBACK_SECONDS = 10
INTERVAL_SECONDS = 0.5
LOCKED_SECONDS = 5
# The latest a row is stamped: a commit blocked by the lock still lands inside the window.
LATEST = LOOKBACK_SECONDS - LOCKED_SECONDS - 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=30)
    parser.add_argument("--rate", type=float, default=10, help="commits per second")
    parser.add_argument("--fault-every", type=float, default=120, help="seconds between faults")
    parser.add_argument("--dagster", action="store_true", help="state in a Dagster instance")
    parser.add_argument("--through", choices=["cli", "run"], default="cli")
    parser.add_argument(
        "--handover-minutes", type=float, default=None,
        help="the follow run's follow.handover_after_minutes (default: the shipped 60)",
    )  # fmt: skip
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="oracle-meili-soak-") as scratch:
        try:
            soak(Path(scratch), args)
        except BaseException:
            log = Path(scratch) / "follower.log"
            print("\n".join(log.read_text(errors="replace").splitlines()[-30:]), file=sys.stderr)
            raise


def soak(work: Path, args: argparse.Namespace) -> None:
    db = work / "events.db"
    engine = sa.create_engine(f"sqlite:///{db}", connect_args={"timeout": 30})
    with engine.begin() as c:
        c.exec_driver_sql(
            "CREATE TABLE EVENTS (ID INTEGER PRIMARY KEY, NAME TEXT NOT NULL, "
            "UPDATED_AT DATETIME NOT NULL)"
        )
        c.exec_driver_sql("CREATE INDEX EVENTS_UPDATED_AT ON EVENTS (UPDATED_AT)")
    index = "soak"
    config = {
        "source": {"url": f"sqlite:///{db}"},
        "indexes": [
            {"name": index, "table": "EVENTS", "primary_key": "ID", "cursor": "UPDATED_AT",
             "lookback_seconds": LOOKBACK_SECONDS,
             "settings": {"searchableAttributes": ["name"]},
             **({"follow": follow_settings(args)} if args.through == "run" else {})},
        ],
    }  # fmt: skip
    (work / "config.yaml").write_text(yaml.safe_dump(config))
    server = MeilisearchProcess(
        data_dir=work / "ms",
        port=free_port(),
        master_key=secrets.token_urlsafe(24),
        log_path=work / "meilisearch.log",
    )
    server.start()
    env = {**os.environ, "MEILI_URL": server.url, "MEILI_API_KEY": server.master_key}
    store = ["--state", str(work / "state.json")]
    if args.dagster or args.through == "run":
        home = work / "dagster_home"
        home.mkdir()
        (home / "dagster.yaml").write_text(SHIPPED_INSTANCE.read_text())
        env["DAGSTER_HOME"] = str(home)
        env["ORACLE_MEILI_CONFIG"] = str(work / "config.yaml")
        store = ["--dagster"]
        # The instance's tables made once, before the daemon, its code server and this
        # process open it together (SQLite storage: two first openings race on them).
        with dg.DagsterInstance.from_config(str(home)):
            pass
    if args.through == "run":
        command = [str(Path(sys.executable).parent / "dagster-daemon"), "run", "-m",
                   "oracle_meili.definitions"]  # fmt: skip
    else:
        command = [sys.executable, "-m", "oracle_meili.cli", "--log-level", "WARNING", "follow",
                   "--config", str(work / "config.yaml"), "--interval", str(INTERVAL_SECONDS),
                   *store]  # fmt: skip
    follower = subprocess.Popen(
        command, env=env, start_new_session=True, stdout=(work / "follower.log").open("wb"),
        stderr=subprocess.STDOUT,
    )  # fmt: skip
    rss: list[tuple[int, float]] = []
    rows: dict[int, str] = {}
    counts = {"commits": 0, "ties": 0, "late": 0, "meilisearch killed": 0, "source locked": 0}
    stop = threading.Event()
    writer = threading.Thread(target=write, args=(engine, rows, counts, args.rate, stop))
    try:
        writer.start()
        if args.through == "run":
            follow_run_worker(work / "dagster_home")
            sampler = threading.Thread(
                target=sample_rss, args=(work / "dagster_home", rss, stop), daemon=True
            )
            sampler.start()
        faults(server, db, counts, args, stop)
        stop.set()
        writer.join()
        quiet = LOOKBACK_SECONDS + INTERVAL_SECONDS + 5
        print(f"writes stopped; quiet for {quiet:.1f} s", flush=True)
        time.sleep(quiet)
        meili = MeilisearchConfig.model_validate({"url": server.url, "api_key": server.master_key})
        with MeiliClient(meili) as client:
            missed = misses(client, index, rows)
    finally:
        stop.set()
        stop_group(follower)
        server.stop()
        engine.dispose()
    print(", ".join(f"{name}: {n}" for name, n in counts.items()))
    print(f"rows: {len(rows)}, missed or stale: {len(missed)}")
    if rss:
        workers = list(dict.fromkeys(pid for pid, _ in rss))
        for pid in workers:
            mine = [mb for p, mb in rss if p == pid]
            print(f"follow run worker {pid}: RSS {mine[0]:.0f} MB, then up to {max(mine):.0f} "
                  f"MB, {mine[-1]:.0f} MB last, over {len(mine)} minute(s)")  # fmt: skip
        print(f"follow run workers: {len(workers)}, RSS at most {max(mb for _, mb in rss):.0f} MB")
    for row, problem in sorted(missed.items())[:20]:
        print(f"  row {row}: {problem}")


def follow_settings(args: argparse.Namespace) -> dict[str, object]:
    settings: dict[str, object] = {"running": True, "interval_seconds": INTERVAL_SECONDS}
    if args.handover_minutes is not None:
        settings["handover_after_minutes"] = args.handover_minutes
    return settings


def write(
    engine: sa.Engine,
    rows: dict[int, str],
    counts: dict[str, int],
    rate: float,
    stop: threading.Event,
) -> None:
    """Commit at ``rate``: inserts and updates, stamped now or up to the window back."""
    step = 1 / rate
    while not stop.is_set():
        started = time.monotonic()
        counts["commits"] += 1
        lateness = 0 if random.random() < 0.7 else random.randint(1, LATEST)
        now = dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)
        stamp = now - dt.timedelta(seconds=lateness)
        counts["late" if lateness else "ties"] += 1
        row = random.choice(list(rows)) if rows and random.random() < 0.4 else len(rows) + 1
        name = f"soak{counts['commits']}x"
        with engine.begin() as c:
            c.execute(
                sa.text(
                    "INSERT INTO EVENTS (ID, NAME, UPDATED_AT) VALUES (:i, :n, :t) "
                    "ON CONFLICT (ID) DO UPDATE SET NAME = :n, UPDATED_AT = :t"
                ),
                {"i": row, "n": name, "t": stamp.strftime("%Y-%m-%d %H:%M:%S")},
            )
        rows[row] = name
        stop.wait(max(0.0, step - (time.monotonic() - started)))


def faults(
    server: MeilisearchProcess,
    db: Path,
    counts: dict[str, int],
    args: argparse.Namespace,
    stop: threading.Event,
) -> None:
    """Until the soak's end: a fault every ``--fault-every`` seconds, in turn."""
    deadline = time.monotonic() + args.minutes * 60
    turn = 0
    while time.monotonic() + args.fault_every < deadline:
        time.sleep(args.fault_every)
        if turn % 2 == 0:
            server.kill()
            counts["meilisearch killed"] += 1
            time.sleep(3)
            server.start()
        else:
            locked = sa.create_engine(f"sqlite:///{db}", connect_args={"timeout": 30})
            with locked.connect() as holder:
                holder.exec_driver_sql("BEGIN EXCLUSIVE")
                time.sleep(LOCKED_SECONDS)
                holder.rollback()
            locked.dispose()
            counts["source locked"] += 1
        turn += 1
        print(f"{time.strftime('%H:%M:%S')} faults so far: {turn}", flush=True)
    time.sleep(max(0.0, deadline - time.monotonic()))


def sample_rss(home: Path, samples: list[tuple[int, float]], stop: threading.Event) -> None:
    """Every minute, the RSS of the worker of the follow run that follows now."""
    while not stop.wait(60):
        try:
            pid = follow_run_worker(home, timeout=30)
            samples.append((pid, rss_mb(pid)))
        except (SystemExit, psutil.NoSuchProcess):
            continue  # between two runs: the next minute's sample


def rss_mb(pid: int) -> float:
    return float(psutil.Process(pid).memory_info().rss) / 2**20


def misses(client: MeiliClient, index: str, rows: dict[int, str]) -> dict[int, str]:
    """Each row whose latest version is not in the index, or not what a search finds."""
    held = {d["id"]: d["name"] for page in client.documents(index, chunk=5000) for d in page}
    missed = {}
    for row, name in rows.items():
        if held.get(row) != name:
            missed[row] = f"index holds {held.get(row)!r}, the table {name!r}"
            continue
        hits = client.search(index, name, limit=1)["hits"]
        if not hits or hits[0]["id"] != row:
            missed[row] = f"a search for {name!r} found {hits}"
    return missed


if __name__ == "__main__":
    main()
