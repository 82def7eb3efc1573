"""How the latency benchmarks measure: rows written at a steady rate, each timed from its
commit until a search finds it (one search for all the rows still pending)."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import signal
import statistics
import subprocess
import threading
import time
import uuid
from pathlib import Path

import sqlalchemy as sa

from oracle_meili.adapters.meili import MeiliClient


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
    return token in found_tokens(client, [token])


def found_tokens(client: MeiliClient, tokens: list[str]) -> set[str]:
    """Which of ``tokens`` (SKUs) the index holds: one search, however many there are."""
    if not tokens:
        return set()
    hits = client.search(
        "products", "", filter=f"sku IN [{', '.join(tokens)}]", limit=len(tokens),
        attributesToRetrieve=["sku"],
    )["hits"]  # fmt: skip
    return {hit["sku"] for hit in hits}


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
        found = found_tokens(client, [token for token, _ in tokens])
        now = time.monotonic()
        for token, written in tokens:
            if token in found:
                latencies.append(now - written)
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


def report(path: str, latencies: list[float], *, runs: int | None = None) -> None:
    ordered = sorted(latencies)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    launched = "" if runs is None else f", {runs} runs launched for {len(ordered)} changes"
    print(
        f"{path}: {len(ordered)} rows, p50 {statistics.median(ordered):.2f} s, "
        f"p95 {p95:.2f} s, max {ordered[-1]:.2f} s{launched}",
        flush=True,
    )


def stop_group(process: subprocess.Popen[bytes], *, grace_seconds: float = 30) -> None:
    """SIGTERM to the process's group, then SIGKILL to whatever of it is left after
    ``grace_seconds``: a code server that a daemon started can outlive the daemon, waiting
    for its runs."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=grace_seconds)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()
