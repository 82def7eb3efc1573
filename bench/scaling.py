"""Benchmark: how each cost grows with the table.

    python -m bench.scaling                 # 10k, 100k and 1M rows
    python -m bench.scaling --rows 10000 100000
    python -m bench.scaling --rows 100000 1000000 --steps probe

For each size it builds the demo source, then measures, each in a process of its own: a full
sync through the job ``sync_indexes`` (``meilisearch/products``); the change probe (median
of 25); an incremental sync of 10 changed rows through the same job (in the steady state,
after a catch-up run: see the note in ``measure``); ``oracle-meili check``; and
``oracle-meili reconcile`` after 10 hard deletes. Prints wall and CPU seconds and peak RSS per step,
and the growth factor per 10x rows (``--steps`` measures some of them; the full sync always
runs, since the others start from it). Uses the settings the project ships. Targets: probe
and 10-change incremental within 1.5x from 10k to 1M rows; full sync, check and reconcile at
most 12x per 10x rows; peak RSS at 1M rows at most 200 MB per process.
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
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

from oracle_meili.adapters.server import meilisearch_server
from oracle_meili.demo import create_demo

DEMO_CONFIG = Path(__file__).resolve().parent.parent / "demo" / "config.yaml"
STEPS = ("full sync", "probe", "incremental (10 rows)", "check", "reconcile")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--steps", nargs="+", choices=STEPS, default=list(STEPS))
    args = parser.parse_args()
    results: dict[int, dict[str, dict[str, float]]] = {}
    for rows in args.rows:
        results[rows] = measure(rows, steps={"full sync", *args.steps})
    print_table(results)


def measure(rows: int, *, steps: set[str]) -> dict[str, dict[str, float]]:
    with tempfile.TemporaryDirectory(prefix="oracle-meili-scaling-") as scratch:
        work = Path(scratch)
        started = time.monotonic()
        db = create_demo(work / "demo.db", rows=rows)
        print(f"{rows:,} rows: demo source built in {time.monotonic() - started:.1f} s", flush=True)
        config = work / "config.yaml"
        raw = yaml.safe_load(DEMO_CONFIG.read_text())
        raw["source"]["url"] = f"sqlite:///{db}"
        config.write_text(yaml.safe_dump(raw))
        home = work / "dagster_home"
        home.mkdir()
        with meilisearch_server(data_dir=work / "ms") as server:
            env = {
                **os.environ,
                "MEILI_URL": server.url,
                "MEILI_API_KEY": server.master_key,
                "ORACLE_MEILI_CONFIG": str(config),
                "DAGSTER_HOME": str(home),
                # The children run `-m bench...` from the scratch folder.
                "PYTHONPATH": str(Path(__file__).resolve().parent.parent),
            }
            step = {
                "full sync": run(["-m", "bench.scaling_step", "sync", "full"], env, work),
            }
            # NOTE: an incremental re-reads the look-back window before its watermark (300 s
            # in the demo configuration) until a newer change moves the watermark, and the
            # demo data stamps about 13 % of its rows with the full sync's watermark instant.
            # So: one change and a catch-up run first; the step below then measures the
            # steady state, 10 new changes (plus the previous 10, inside the look-back).
            change(db, rows)
            run(["-m", "bench.scaling_step", "sync", "incremental"], env, work)
            change(db, rows, offset=1)
            if "probe" in steps:
                step["probe"] = run(["-m", "bench.scaling_step", "probe"], env, work)
            if "incremental (10 rows)" in steps:
                step["incremental (10 rows)"] = run(
                    ["-m", "bench.scaling_step", "sync", "incremental"], env, work
                )
            cli = ["-m", "bench.measured_cli", str(work / "peak"), "--", "--log-level", "WARNING"]
            if "check" in steps:
                check = [*cli, "check", "--index", "products", "--json"]
                step["check"] = run(check, env, work, ok=(0, 1))
            if "reconcile" in steps:
                delete(db)
                step["reconcile"] = run([*cli, "reconcile", "--index", "products"], env, work)
            for name in (name for name in STEPS if name in step):
                print(f"  {name:<22} {describe(step[name])}", flush=True)
            return step


def run(
    arguments: list[str], env: dict[str, str], work: Path, *, ok: tuple[int, ...] = (0,)
) -> dict[str, float]:
    """A step in a child process: its wall and CPU seconds, peak RSS, and what it printed."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    completed = subprocess.run(
        [sys.executable, *arguments], env=env, cwd=work, stdout=subprocess.PIPE, check=False
    )
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if completed.returncode not in ok:
        raise SystemExit(f"{arguments} failed (exit {completed.returncode})")
    printed: dict[str, Any] = orjson.loads(completed.stdout.strip().splitlines()[-1])
    if "peak_mb" in printed:  # a bench.scaling_step: its own figures
        return {k: float(v) for k, v in printed.items() if isinstance(v, int | float)}
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    peak = int((work / "peak").read_text()) / 1024
    return {"seconds": wall, "cpu_seconds": cpu, "peak_mb": peak}


def change(db: Path, rows: int, *, offset: int = 0) -> None:
    """Ten rows renamed and stamped now: the incremental's work."""
    engine = sa.create_engine(f"sqlite:///{db}")
    ids = [1 + offset + i * (rows // 10) for i in range(10)]
    with engine.begin() as c:
        c.execute(
            sa.text("UPDATE PRODUCTS SET NAME = NAME || ' (changed)', UPDATED_AT = :t "
                    "WHERE PRODUCT_ID = :i"),
            [{"t": dt.datetime.now(), "i": i} for i in ids],
        )  # fmt: skip
    engine.dispose()


def delete(db: Path) -> None:
    """Ten live rows deleted outright: the reconcile's work."""
    engine = sa.create_engine(f"sqlite:///{db}")
    with engine.begin() as c:
        c.execute(
            sa.text("DELETE FROM PRODUCTS WHERE PRODUCT_ID IN (SELECT PRODUCT_ID FROM PRODUCTS "
                    "WHERE IS_DELETED = 'N' ORDER BY PRODUCT_ID LIMIT 10)")
        )  # fmt: skip
    engine.dispose()


def describe(figures: dict[str, float]) -> str:
    main_figure = (
        f"{figures['median_ms']:.2f} ms/tick ({figures['sql_median_ms']:.2f} ms the query)"
        if "median_ms" in figures
        else f"{figures['seconds']:.2f} s"
    )
    return (
        f"{main_figure}, CPU {figures['cpu_seconds']:.2f} s, peak RSS {figures['peak_mb']:.0f} MB"
    )


def print_table(results: dict[int, dict[str, dict[str, float]]]) -> None:
    sizes = sorted(results)
    print()
    header = "| step | " + " | ".join(f"{n:,} rows" for n in sizes) + " | growth per 10x |"
    print(header)
    print("|" + "---|" * (len(sizes) + 2))
    for name in (name for name in STEPS if name in results[sizes[0]]):
        key = "median_ms" if name == "probe" else "seconds"
        unit = "ms" if name == "probe" else "s"
        values = [results[n][name][key] for n in sizes]
        cells = [
            f"{v:.2f} {unit} (CPU {results[n][name]['cpu_seconds']:.2f} s, "
            f"{results[n][name]['peak_mb']:.0f} MB)"
            for n, v in zip(sizes, values, strict=True)
        ]
        growth = ", ".join(f"{b / a:.2f}x" for a, b in itertools.pairwise(values) if a > 0)
        print(f"| {name} | " + " | ".join(cells) + f" | {growth or '-'} |")


if __name__ == "__main__":
    main()
