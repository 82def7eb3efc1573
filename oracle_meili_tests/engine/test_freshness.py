"""The change rule: its two facts, and `follow` on property-based schedules of commits (ties
in the cursor's second, late commits inside the look-back window, quiet periods), each ending
quiet, against a real Meilisearch. Time is a clock the test moves: no sleeps."""

from __future__ import annotations

import datetime as dt
import tempfile
import uuid
from pathlib import Path

from hypothesis import HealthCheck, given, settings

from oracle_meili.adapters.meili import MeiliClient
from oracle_meili.config import MeilisearchConfig, SourceConfig
from oracle_meili.engine.follow import Follower
from oracle_meili.engine.freshness import LastSync, late_commits_until, sync_due
from oracle_meili.engine.runner import Runner
from oracle_meili.engine.state import StateFile
from oracle_meili_tests.commit_schedules import (
    Clock,
    EventsTable,
    Step,
    assert_searchable,
    index_config,
    run,
    steps,
)

T0 = dt.datetime(2026, 12, 6, 9, 0, tzinfo=dt.UTC)
SECOND = dt.timedelta(seconds=1)


def test_a_cursor_above_the_watermark_is_due_whatever_was_probed_before() -> None:
    synced = LastSync("datetime:2026-12-06T09:00:00", late_commits_until=None)
    assert sync_due(dt.datetime(2026, 12, 6, 9, 0, 1), synced, at=T0) is not None
    assert sync_due(dt.datetime(2026, 12, 6, 9, 0, 0), synced, at=T0) is None
    assert sync_due(None, synced, at=T0) is None  # an emptied table: nothing to read
    assert sync_due(None, None, at=T0) == "never synced"


def test_the_deadline_makes_one_more_sync_due_once_it_has_passed() -> None:
    pending = LastSync("datetime:2026-12-06T09:00:00", late_commits_until=T0 + 5 * SECOND)
    highest = dt.datetime(2026, 12, 6, 9, 0, 0)
    assert sync_due(highest, pending, at=T0 + 4 * SECOND) is None
    assert sync_due(highest, pending, at=T0 + 5 * SECOND) is not None


def test_a_sync_that_started_after_the_deadline_clears_it() -> None:
    watermark = "datetime:2026-12-06T09:00:00"
    pending = LastSync(watermark, late_commits_until=T0 + 5 * SECOND)

    def after(started: dt.datetime, recorded: str) -> dt.datetime | None:
        return late_commits_until(
            lookback_seconds=5, previous=pending, watermark=recorded,
            started=started, upper_read_at=started,
        )  # fmt: skip

    assert after(T0 + 1 * SECOND, watermark) == T0 + 5 * SECOND  # still pending
    assert after(T0 + 5 * SECOND, watermark) is None  # it read every late commit
    # A new watermark: late commits at or below it may come until the look-back after it.
    assert after(T0 + 9 * SECOND, "datetime:2026-12-06T09:00:09") == T0 + 14 * SECOND
    assert late_commits_until(
        lookback_seconds=0, previous=pending, watermark=watermark, started=T0, upper_read_at=T0
    ) is None  # fmt: skip


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(schedule=steps)
def test_follow_makes_every_commit_searchable_without_a_later_change(
    schedule: list[Step], meili_config: MeilisearchConfig, meili_client: MeiliClient
) -> None:
    """Whatever the schedule, once the table has been quiet for the look-back window and
    one probe interval, every row's latest version is searchable."""
    clock = Clock()
    with tempfile.TemporaryDirectory() as folder:
        table = EventsTable.create(Path(folder) / "events.db", clock)
        index = index_config(f"t_{uuid.uuid4().hex[:12]}")
        runner = Runner(
            SourceConfig(url=str(table.engine.url)),
            meili_config,
            state=StateFile(Path(folder) / "state.json"),
            clock=clock,
        )
        try:
            with Follower(runner, [index]) as follower:

                def poll() -> None:
                    follower.poll()
                    follower.finish_syncs()

                run(schedule, table, poll)
            assert_searchable(meili_client, index.name, table.rows)
        finally:
            table.engine.dispose()
            if meili_client.index_exists(index.name):
                meili_client.delete_index(index.name)
