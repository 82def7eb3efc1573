"""Fault injection: nothing is lost or left stale (PERF-002).

Against a Meilisearch of its own, which it kills with SIGKILL and restarts: during a full
sync (which then resumes from its checkpoint), and during repeated incremental syncs while
writers insert, update, soft-delete and hard-delete rows and commit rows late (inside the
look-back window); the source also loses its connection mid-read. After a last incremental
sync and a reconciliation, every live row's document is in the index and identical, and
nothing else is. Bounded in time (about half a minute); prints its figures.
"""

from __future__ import annotations

import datetime as dt
import random
import threading
import time
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from pydantic import SecretStr

from oracle_meili.adapters.meili import MeiliClient
from oracle_meili.adapters.server import MeilisearchProcess, free_port
from oracle_meili.adapters.source import TableSource
from oracle_meili.config import IndexConfig, MeilisearchConfig
from oracle_meili.demo import create_demo
from oracle_meili.engine.checkpoint import FullSyncCheckpoint
from oracle_meili.engine.consistency import check_consistency
from oracle_meili.engine.full import full_sync
from oracle_meili.engine.incremental import incremental_sync
from oracle_meili.engine.reconcile import reconcile
from oracle_meili.engine.result import SyncResult
from oracle_meili.errors import OracleMeiliError
from oracle_meili_tests.harness import RecordedState

KEY = "fault-injection-master-key"
WRITE_SECONDS = 6.0


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


class Faults:
    """Kills the server and brings it back half a second later, in the background."""

    def __init__(self, server: MeilisearchProcess) -> None:
        self.server = server
        self.injected = 0
        self._restarts: list[threading.Thread] = []

    def crash_meilisearch(self) -> None:
        self.injected += 1
        self.server.kill()

        def restart() -> None:
            time.sleep(0.5)
            self.server.start()

        thread = threading.Thread(target=restart)
        thread.start()
        self._restarts.append(thread)

    def settle(self) -> None:
        for thread in self._restarts:
            thread.join()


class Writers:
    """Inserts, updates, soft and hard deletes and late commits, at a steady pace."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        self.rows_written = 0
        self.done = threading.Event()
        self._rng = random.Random(7)
        self._next_id = 100_000

    def run(self) -> None:
        started = time.monotonic()
        while time.monotonic() - started < WRITE_SECONDS:
            self._write_one()
            self.rows_written += 1
            time.sleep(0.01)
        self.done.set()

    def _write_one(self) -> None:
        now = utc_now()
        target = self._rng.randrange(1, 3001)
        kind = self._rng.random()
        with self.engine.begin() as c:
            if kind < 0.3:
                self._next_id += 1
                c.execute(
                    sa.text(
                        "INSERT INTO PRODUCTS (PRODUCT_ID, SKU, NAME, CATEGORY, LANG, PRICE, "
                        "STOCK, CREATED_AT, UPDATED_AT, IS_DELETED) VALUES (:i, :s, :n, 'New', "
                        "'en', 9.5, 1, :t, :t, 'N')"
                    ),
                    {"i": self._next_id, "s": f"SKU-N{self._next_id}", "n": f"new {self._next_id}",
                     "t": now},
                )  # fmt: skip
            elif kind < 0.6:
                c.execute(
                    sa.text("UPDATE PRODUCTS SET NAME = :n, STOCK = STOCK + 1, UPDATED_AT = :t "
                            "WHERE PRODUCT_ID = :i"),
                    {"n": f"renamed {now.isoformat()}", "t": now, "i": target},
                )  # fmt: skip
            elif kind < 0.75:
                c.execute(
                    sa.text("UPDATE PRODUCTS SET IS_DELETED = 'Y', UPDATED_AT = :t "
                            "WHERE PRODUCT_ID = :i"),
                    {"t": now, "i": target},
                )  # fmt: skip
            elif kind < 0.85:
                c.execute(sa.text("DELETE FROM PRODUCTS WHERE PRODUCT_ID = :i"), {"i": target})
            else:
                # Stamped 5 s ago, committed now: inside the 30 s look-back window.
                c.execute(
                    sa.text("UPDATE PRODUCTS SET NAME = :n, UPDATED_AT = :t WHERE PRODUCT_ID = :i"),
                    {"n": f"late {now.isoformat()}", "t": now - dt.timedelta(seconds=5),
                     "i": target},
                )  # fmt: skip


def test_faults_lose_nothing(tmp_path: Path) -> None:
    server = MeilisearchProcess(
        data_dir=tmp_path / "ms", port=free_port(), master_key=KEY, log_path=tmp_path / "ms.log"
    )
    server.start()
    faults = Faults(server)
    engine = sa.create_engine(
        f"sqlite:///{create_demo(tmp_path / 'demo.db', rows=3000)}",
        connect_args={"timeout": 30},
    )
    meili = MeilisearchConfig(
        url=server.url,
        api_key=SecretStr(KEY),
        max_payload_bytes=30_000,
        max_tasks_in_flight=1,
        retries=3,
        timeout_seconds=5,
    )
    index = IndexConfig.model_validate(
        {
            "name": "faults",
            "table": "PRODUCTS",
            "primary_key": "PRODUCT_ID",
            "cursor": "UPDATED_AT",
            "lookback_seconds": 30,
            "soft_delete": {"column": "IS_DELETED", "deleted_value": "Y"},
            "batch_size": 200,
        }
    )
    failed_syncs = 0
    try:
        with MeiliClient(meili) as client:
            # 1. SIGKILL during a full sync. Without retries the sync fails at once, and the
            # next one resumes from its checkpoint into the same build index.
            no_retries = meili.model_copy(update={"retries": 0})

            def on_checkpoint(checkpoint: FullSyncCheckpoint) -> None:
                if len(state.checkpoints) == 6:
                    faults.crash_meilisearch()

            state = RecordedState(tmp_path / "state.json", on_checkpoint=on_checkpoint)
            checkpoints = state.checkpoints
            full: SyncResult | None = None
            for _ in range(5):
                try:
                    with MeiliClient(no_retries) as fragile:
                        full = full_sync(TableSource(engine, index), fragile, state=state)
                    break
                except OracleMeiliError:
                    failed_syncs += 1
                    faults.settle()
            assert full is not None
            assert failed_syncs >= 1
            assert len({c.build_index for c in checkpoints}) == 1  # resumed, not restarted
            faults.settle()

            # 2. Writers, repeated incremental syncs, a crash and a lost source connection.
            writers = Writers(engine)
            writer = threading.Thread(target=writers.run)
            lost = {"left": 1}

            def lose_connection_once(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
                if "LIMIT" in statement and lost["left"] and writers.rows_written > 50:
                    lost["left"] = 0
                    faults.injected += 1
                    error = Exception("source connection lost (injected)")
                    raise sa.exc.OperationalError(statement, {}, error, connection_invalidated=True)

            sa.event.listen(engine, "before_cursor_execute", lose_connection_once)
            watermark = full.watermark
            incrementals = 0
            writer.start()
            crashed = False
            while not writers.done.is_set():
                if not crashed and writers.rows_written > 150:
                    crashed = True
                    faults.crash_meilisearch()
                try:
                    result = incremental_sync(
                        TableSource(engine, index), client, watermark=watermark
                    )
                    watermark = result.watermark
                    incrementals += 1
                except OracleMeiliError:
                    failed_syncs += 1
                time.sleep(0.2)
            writer.join()
            faults.settle()

            # 3. A last incremental sync and a reconciliation, then compare everything.
            incremental_sync(TableSource(engine, index), client, watermark=watermark)
            removed = reconcile(TableSource(engine, index), client)
            report = check_consistency(TableSource(engine, index), client)
    finally:
        server.stop()
        engine.dispose()

    print(
        f"\nfault injection: {faults.injected} faults injected, {failed_syncs} syncs failed and "
        f"were retried, {incrementals} incremental syncs, {writers.rows_written} rows written, "
        f"{removed.orphans} hard deletes reconciled, {report.index_documents} documents "
        f"checked, {report.mismatched} mismatches, {report.orphans} orphans, "
        f"{report.missing} missing, {report.consistent_percent:.2f} % consistent"
    )
    assert faults.injected >= 3
    assert lost["left"] == 0
    assert report.consistent_percent == 100.0
    assert (report.mismatched, report.orphans, report.missing) == (0, 0, 0)
    assert report.consistent
