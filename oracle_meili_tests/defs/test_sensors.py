"""The change sensor, evaluated with build_sensor_context on a real (SQLite) source."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
import sqlalchemy as sa

from oracle_meili.config import IndexConfig
from oracle_meili.defs import names as keys
from oracle_meili.defs.jobs import build_sync_job
from oracle_meili.defs.resources import SqlAlchemySourceResource
from oracle_meili.defs.sensors import build_change_sensor


def products_index(**overrides: object) -> IndexConfig:
    return IndexConfig.model_validate(
        {
            "name": "products",
            "table": "PRODUCTS",
            "primary_key": "PRODUCT_ID",
            "cursor": "UPDATED_AT",
            **overrides,
        }
    )


def tick(sensor: dg.SensorDefinition, db: Path, cursor: str | None) -> dg.SensorResult:
    context = dg.build_sensor_context(
        cursor=cursor, resources={"source": SqlAlchemySourceResource(url=f"sqlite:///{db}")}
    )
    result = sensor(context)
    assert isinstance(result, dg.SensorResult)
    return result


def test_sensor_requests_one_incremental_run_per_change(demo_db: Path) -> None:
    index = products_index(change_sensor={"interval_seconds": 5})
    sensor = build_change_sensor(index, build_sync_job(index))
    assert sensor is not None
    assert sensor.minimum_interval_seconds == 5

    first = tick(sensor, demo_db, None)
    assert first.run_requests == []  # the first tick only learns the markers
    assert first.cursor is not None
    (observation,) = first.asset_events
    assert isinstance(observation, dg.AssetObservation)
    assert observation.asset_key == dg.AssetKey(["oracle", "products"])
    assert observation.metadata[keys.SOURCE_ROW_COUNT].value == 500

    unchanged = tick(sensor, demo_db, first.cursor)
    assert not unchanged.run_requests
    assert unchanged.skip_reason is not None

    engine = sa.create_engine(f"sqlite:///{demo_db}")
    with engine.begin() as c:
        c.execute(
            sa.text("UPDATE PRODUCTS SET UPDATED_AT = :t WHERE PRODUCT_ID = 1"),
            {"t": dt.datetime(2026, 8, 1)},
        )
    engine.dispose()
    changed = tick(sensor, demo_db, first.cursor)
    (request,) = changed.run_requests or []
    assert request.partition_key == "incremental"
    assert request.run_key == "products:datetime:2026-08-01T00:00:00:500"
    assert changed.asset_events[0].metadata[keys.MAX_CURSOR].value == (
        "datetime:2026-08-01T00:00:00"
    )
    # Seen again (e.g. the cursor was not saved), the change maps to the same run key.
    again = tick(sensor, demo_db, first.cursor)
    assert (again.run_requests or [])[0].run_key == request.run_key


def test_no_sensor_without_cursor_or_when_disabled() -> None:
    no_cursor = products_index(cursor=None)
    assert build_change_sensor(no_cursor, build_sync_job(no_cursor)) is None
    disabled = products_index(change_sensor=None)
    assert build_change_sensor(disabled, build_sync_job(disabled)) is None


def test_ticks_reuse_the_reflected_table(demo_db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue #13 item 10: a tick runs the change probe, not a fresh reflection each time."""
    statements: list[str] = []
    original = sa.create_engine

    def recording_engine(*args: Any, **kwargs: Any) -> sa.Engine:
        engine: sa.Engine = original(*args, **kwargs)
        sa.event.listen(engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
        return engine

    monkeypatch.setattr(sa, "create_engine", recording_engine)
    index = products_index(name="reflect_once", change_sensor={"interval_seconds": 5})
    sensor = build_change_sensor(index, build_sync_job(index))
    assert sensor is not None
    cursor = tick(sensor, demo_db, None).cursor
    first = len(statements)
    tick(sensor, demo_db, cursor)
    tick(sensor, demo_db, cursor)
    later = statements[first:]
    assert first > 2  # the first tick reflected (PRAGMA table_info, ...)
    assert len(later) == 2 and all(s.lstrip().upper().startswith("SELECT MAX") for s in later)
