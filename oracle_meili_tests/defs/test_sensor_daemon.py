"""The change sensor through the Dagster daemon, with the shipped ``deploy/dagster.yaml``:
changes that do not raise the highest cursor, and a change made while the daemon was
down, are searchable with the table quiet after them (no later change helps)."""

from __future__ import annotations

import datetime as dt
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import dagster as dg
import yaml

from oracle_meili.adapters.meili import MeiliClient
from oracle_meili.adapters.server import RunningMeilisearch
from oracle_meili_tests.commit_schedules import Commit, EventsTable
from oracle_meili_tests.defs.test_pools import daemon, shipped_instance

LOOKBACK_SECONDS = 20
# A change is read within the look-back window and one tick (the daemon's loop: 5 s) of its
# commit, plus a run; the test waits up to twice that.
BOUND_SECONDS = 2 * (LOOKBACK_SECONDS + 5 + 10)


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def searchable(client: MeiliClient, index: str, table: EventsTable) -> Callable[[], bool]:
    def check() -> bool:
        if not client.index_exists(index):
            return False
        for row, name in table.rows.items():
            hits = client.search(index, name)["hits"]
            if not hits or hits[0]["id"] != row or hits[0]["name"] != name:
                return False
        return True

    return check


def wait_for(condition: Callable[[], bool], *, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"{what}: not within {timeout} s"
        time.sleep(0.5)


def events_scenario(
    tmp_path: Path,
    meili_server: RunningMeilisearch,
    index_name: str,
    *,
    instance: dict[str, Any] | None = None,
    **entry: Any,
) -> tuple[EventsTable, Path, dict[str, str]]:
    """An ``EVENTS`` table of three rows stamped now, one index of it with ``entry``'s keys,
    and a Dagster home with ``instance``'s settings (the shipped ``deploy/dagster.yaml`` by
    default; the index's pool limit set up front); returns the table, the home, and the
    environment of the processes that sync."""
    table = EventsTable.create(tmp_path / "events.db", utc_now)
    for _ in range(3):
        table.commit(Commit(row=None, lateness=0))
    config = {
        "source": {"url": str(table.engine.url)},
        "indexes": [{"name": index_name, "table": "EVENTS", "primary_key": "ID",
                     "cursor": "UPDATED_AT", **entry}],
    }  # fmt: skip
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    home = tmp_path / "dagster_home"
    home.mkdir()
    settings = instance if instance is not None else shipped_instance()
    (home / "dagster.yaml").write_text(yaml.safe_dump(settings))
    with dg.DagsterInstance.from_config(str(home)) as created:
        created.event_log_storage.set_concurrency_slots(f"oracle_meili/{index_name}", 1)
    env = {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "ORACLE_MEILI_CONFIG": str(tmp_path / "config.yaml"),
        "MEILI_URL": meili_server.url,
        "MEILI_API_KEY": meili_server.master_key,
    }
    return table, home, env


def test_changes_below_the_highest_cursor_and_while_stopped_reach_the_index(
    tmp_path: Path, meili_server: RunningMeilisearch, meili_client: MeiliClient, index_name: str
) -> None:
    table, _, env = events_scenario(
        tmp_path, meili_server, index_name, lookback_seconds=LOOKBACK_SECONDS,
        change_sensor={"running": True, "interval_seconds": 1},
    )  # fmt: skip
    found = searchable(meili_client, index_name, table)
    try:
        with daemon(env, tmp_path):
            wait_for(found, timeout=120, what="the first sync the sensor requests")
            newest = table.commit(Commit(row=None, lateness=0))
            wait_for(found, timeout=BOUND_SECONDS, what="a change above the highest cursor")
            # Same second as the newest synced row, and a late commit 4 s below it; then quiet.
            table.commit(Commit(row=None, lateness=0), stamp=newest)
            table.commit(Commit(row=None, lateness=0), stamp=newest - dt.timedelta(seconds=4))
            wait_for(found, timeout=BOUND_SECONDS, what="a tie and a late commit")
        # With the daemon stopped: a change; it is synced once the daemon is back.
        table.commit(Commit(row=0, lateness=0))
        with daemon(env, tmp_path):
            wait_for(found, timeout=BOUND_SECONDS, what="a change made while stopped")
    finally:
        table.engine.dispose()
