"""The change sensor, evaluated with build_sensor_context on a real (SQLite) source."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
import sqlalchemy as sa

from oracle_meili.config import ChangeSensorConfig, IndexConfig
from oracle_meili.defs.jobs import build_sync_job
from oracle_meili.defs.metadata_sets import SourceObservation
from oracle_meili.defs.names import index_asset_key
from oracle_meili.defs.resources import MeilisearchResource, SqlAlchemySourceResource
from oracle_meili.defs.sensors import build_change_sensor


def products_index(**overrides: object) -> IndexConfig:
    raw = {"name": "products", "table": "PRODUCTS", "primary_key": "PRODUCT_ID"}
    return IndexConfig.model_validate({**raw, "cursor": "UPDATED_AT", **overrides})


def change_sensor(index: IndexConfig, **settings: Any) -> dg.SensorDefinition | None:
    """The index's change sensor with these ``change_sensor:`` settings."""
    sensor_settings = ChangeSensorConfig.model_validate(settings)
    return build_change_sensor(index, sensor_settings, build_sync_job(index))


def tick(
    sensor: dg.SensorDefinition,
    db: Path,
    cursor: str | None,
    instance: dg.DagsterInstance | None = None,
) -> dg.SensorResult:
    context = dg.build_sensor_context(
        cursor=cursor,
        instance=instance or synced_instance(),
        resources={
            "source": SqlAlchemySourceResource(url=f"sqlite:///{db}"),
            # Not called by the probe; the sensor's runner knows the server all the same.
            "meilisearch": MeilisearchResource(),
        },
    )
    result = sensor(context)
    assert isinstance(result, dg.SensorResult)
    return result


def synced_instance(index: str = "products") -> dg.DagsterInstance:
    """An instance in which the index was synced once."""
    instance = dg.DagsterInstance.ephemeral()
    instance.report_runless_asset_event(
        dg.AssetMaterialization(asset_key=index_asset_key(index), partition="full")
    )
    return instance


def test_sensor_requests_one_incremental_run_per_change(demo_db: Path) -> None:
    index = products_index()
    sensor = change_sensor(index, interval_seconds=5)
    assert sensor is not None
    assert sensor.minimum_interval_seconds == 5
    instance = synced_instance()

    first = tick(sensor, demo_db, None, instance)
    assert first.run_requests == []  # the first tick only learns the highest cursor
    assert first.cursor is not None
    (observation,) = first.asset_events
    assert isinstance(observation, dg.AssetObservation)
    assert observation.asset_key == dg.AssetKey(["oracle", "PRODUCTS"])
    assert SourceObservation.key("max_cursor") in observation.metadata

    unchanged = tick(sensor, demo_db, first.cursor, instance)
    assert not unchanged.run_requests
    assert unchanged.skip_reason is not None

    engine = sa.create_engine(f"sqlite:///{demo_db}")
    with engine.begin() as c:
        c.execute(
            sa.text("UPDATE PRODUCTS SET UPDATED_AT = :t WHERE PRODUCT_ID = 1"),
            {"t": dt.datetime(2026, 8, 1)},
        )
    engine.dispose()
    changed = tick(sensor, demo_db, first.cursor, instance)
    (request,) = changed.run_requests or []
    assert request.partition_key == "incremental"
    assert request.run_key == "products:datetime:2026-08-01T00:00:00"
    assert changed.asset_events[0].metadata[SourceObservation.key("max_cursor")].value == (
        "datetime:2026-08-01T00:00:00"
    )
    # Seen again (e.g. the cursor was not saved), the change maps to the same run key.
    again = tick(sensor, demo_db, first.cursor, instance)
    assert (again.run_requests or [])[0].run_key == request.run_key


def test_sensor_requests_the_first_sync_of_an_index_never_synced(demo_db: Path) -> None:
    """A sensor turned on for an index never synced requests its first, full sync, rather
    than leaving the index empty until a row changes."""
    index = products_index()
    sensor = change_sensor(index, interval_seconds=5)
    assert sensor is not None
    never = dg.DagsterInstance.ephemeral()
    first = tick(sensor, demo_db, None, never)
    (request,) = first.run_requests or []
    assert (request.partition_key, request.run_key) == ("full", "products:first")
    # Until that sync has materialized the index, every tick asks again under the same run
    # key, so Dagster launches it once.
    again = tick(sensor, demo_db, first.cursor, never)
    assert [r.run_key for r in again.run_requests or []] == ["products:first"]


def test_no_sensor_without_cursor_or_when_disabled() -> None:
    no_cursor = products_index(cursor=None)
    assert change_sensor(no_cursor) is None
    disabled = products_index()
    assert build_change_sensor(disabled, None, build_sync_job(disabled)) is None


def test_ticks_reuse_the_reflected_table(demo_db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A tick runs the change probe, not a fresh reflection or a new
    connection each time."""
    statements: list[str] = []
    engines: list[sa.Engine] = []
    original = sa.create_engine

    def recording_engine(*args: Any, **kwargs: Any) -> sa.Engine:
        engine: sa.Engine = original(*args, **kwargs)
        engines.append(engine)
        sa.event.listen(engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
        return engine

    monkeypatch.setattr(sa, "create_engine", recording_engine)
    index = products_index(name="reflect_once")
    sensor = change_sensor(index, interval_seconds=5)
    assert sensor is not None
    cursor = tick(sensor, demo_db, None).cursor
    first = len(statements)
    tick(sensor, demo_db, cursor)
    tick(sensor, demo_db, cursor)
    later = statements[first:]
    assert first > 2  # the first tick reflected (PRAGMA table_info, ...)
    assert len(later) == 2 and all(s.lstrip().upper().startswith("SELECT MAX") for s in later)
    # ... on one engine kept across ticks (no new logon every tick).
    assert len(engines) == 1
