"""Schedules from the configuration."""

from __future__ import annotations

import datetime as dt

import dagster as dg
import pytest

from oracle_meili.config import IndexConfig, ScheduleConfig, parse_index
from oracle_meili.defs.jobs import build_sync_jobs
from oracle_meili.defs.names import index_asset_key
from oracle_meili.defs.schedules import build_schedules
from oracle_meili.errors import ConfigError


def index(**schedule: object) -> tuple[IndexConfig, ScheduleConfig]:
    """An index entry with this ``schedule:``, as the loader splits it."""
    raw = {"name": "my-products", "table": "PRODUCTS", "primary_key": "ID", "schedule": schedule}
    config, orchestration = parse_index(raw, label="index 'my-products'")
    return config, orchestration.schedule


def schedules_of(entry: tuple[IndexConfig, ScheduleConfig]) -> list[dg.ScheduleDefinition]:
    config, schedule = entry
    return build_schedules(config, schedule, build_sync_jobs([config])["sync_indexes"])


def test_schedules_request_their_partition_TEST_120() -> None:
    config = index(incremental="*/5 * * * *", full="0 3 * * *", timezone="Asia/Seoul")
    schedules = {s.name: s for s in schedules_of(config)}
    assert set(schedules) == {"sync_my__products_incremental", "sync_my__products_full"}
    full = schedules["sync_my__products_full"]
    assert (full.cron_schedule, full.execution_timezone) == ("0 3 * * *", "Asia/Seoul")
    assert full.default_status == dg.DefaultScheduleStatus.STOPPED
    context = dg.build_schedule_context(scheduled_execution_time=dt.datetime(2026, 11, 30, 3))
    for mode in ("incremental", "full"):
        request = schedules[f"sync_my__products_{mode}"](context)
        assert isinstance(request, dg.RunRequest)
        assert request.partition_key == mode
        assert request.asset_selection == [index_asset_key(config[0])]


def test_running_schedules() -> None:
    config = index(incremental="* * * * *", running=True)
    (schedule,) = schedules_of(config)
    assert schedule.default_status == dg.DefaultScheduleStatus.RUNNING


def test_no_schedule_configured() -> None:
    assert schedules_of(index()) == []


@pytest.mark.parametrize(
    ("schedule", "message"),
    [
        (
            {"incremental": "*/5 * * *"},
            r"index 'my-products': schedule.incremental '\*/5 \* \* \*'",
        ),
        ({"full": "at three"}, r"schedule.full 'at three' is not valid"),
        ({"full": "0 3 * * *", "timezone": "Mars/Base"}, r"timezone 'Mars/Base'"),
    ],
)
def test_invalid_cron_names_index_and_expression_TEST_121(
    schedule: dict[str, str], message: str
) -> None:
    config = index(**schedule)
    with pytest.raises(ConfigError, match=message):
        schedules_of(config)
