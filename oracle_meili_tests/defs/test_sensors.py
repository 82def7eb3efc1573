"""The change sensor, evaluated with build_sensor_context on a real (SQLite) source."""

from __future__ import annotations

import datetime as dt
import os
import tempfile
import uuid
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
import sqlalchemy as sa
from dagster._core.utils import make_new_run_id
from hypothesis import HealthCheck, given, settings

from oracle_meili.adapters.meili import MeiliClient
from oracle_meili.adapters.server import RunningMeilisearch
from oracle_meili.adapters.source import TableSource
from oracle_meili.config import ChangeSensorConfig, IndexConfig, parse_config
from oracle_meili.defs.assets import build_index_asset
from oracle_meili.defs.jobs import build_sync_jobs
from oracle_meili.defs.metadata import result_metadata
from oracle_meili.defs.metadata_sets import SourceObservation
from oracle_meili.defs.names import index_asset_key, index_tag
from oracle_meili.defs.resources import (
    MeilisearchResource,
    SqlAlchemySourceResource,
    build_resources,
)
from oracle_meili.defs.sensors import build_change_sensors
from oracle_meili.engine.result import SyncResult
from oracle_meili.engine.watermark import encode_watermark
from oracle_meili_tests.commit_schedules import Clock as CommitClock
from oracle_meili_tests.commit_schedules import EventsTable, Step, assert_searchable
from oracle_meili_tests.commit_schedules import index_config as commit_index
from oracle_meili_tests.commit_schedules import run as run_schedule
from oracle_meili_tests.commit_schedules import steps as commit_steps


def products_index(**overrides: object) -> IndexConfig:
    raw = {"name": "products", "table": "PRODUCTS", "primary_key": "PRODUCT_ID"}
    return IndexConfig.model_validate({**raw, "cursor": "UPDATED_AT", **overrides})


def sync_job(index: IndexConfig) -> Any:
    """The shared sync job (its name is what the sensor's requests carry)."""
    return build_sync_jobs([index])["sync_indexes"]


def change_sensor(index: IndexConfig, **settings: Any) -> dg.SensorDefinition | None:
    """The index's change sensor with these ``change_sensor:`` settings."""
    sensor_settings = ChangeSensorConfig.model_validate(settings)
    sensors = build_change_sensors([(index, sensor_settings, sync_job(index))])
    return sensors[0] if sensors else None


def tick(
    sensor: dg.SensorDefinition,
    db: Path,
    cursor: str | None,
    instance: dg.DagsterInstance | None = None,
) -> dg.SensorResult:
    context = dg.build_sensor_context(
        cursor=cursor,
        instance=instance or synced_instance(db),
        resources={
            "source": SqlAlchemySourceResource(url=f"sqlite:///{db}"),
            # Not called by the probe; the sensor's runner knows the server all the same.
            "meilisearch": MeilisearchResource(),
        },
    )
    result = sensor(context)
    assert isinstance(result, dg.SensorResult)
    return result


def synced_instance(
    db: Path,
    *indexes: IndexConfig,
    late_commits_until: dt.datetime | None = None,
    instance: dg.DagsterInstance | None = None,
) -> dg.DagsterInstance:
    """An instance in which each index was synced up to its table's highest cursor now,
    with this late-commits deadline (None: no late commit pending)."""
    instance = instance or dg.DagsterInstance.ephemeral()
    engine = sa.create_engine(f"sqlite:///{db}")
    for index in indexes or (products_index(),):
        highest = TableSource(engine, index).max_cursor()
        record(instance, index.name, encode_watermark(highest.value if highest else None),
               late_commits_until)  # fmt: skip
    engine.dispose()
    return instance


def record(
    instance: dg.DagsterInstance,
    name: str,
    watermark: str | None,
    late_commits_until: dt.datetime | None = None,
) -> None:
    """A sync of ``name`` recorded as a sync run records it."""
    result = SyncResult(
        index=name, mode="incremental", started_at=dt.datetime.now(dt.UTC),
        finished_at=dt.datetime.now(dt.UTC), rows_read=0, documents_upserted=0,
        documents_deleted=0, index_document_count=0, watermark=watermark,
        previous_watermark=None, late_commits_until=late_commits_until,
    )  # fmt: skip
    instance.report_runless_asset_event(
        dg.AssetMaterialization(
            asset_key=index_asset_key(name), partition="incremental",
            metadata=result_metadata(result, meilisearch_url="http://127.0.0.1:7700"),
        )
    )  # fmt: skip


def test_sensor_requests_one_incremental_run_per_change(demo_db: Path) -> None:
    index = products_index()
    sensor = change_sensor(index, interval_seconds=5)
    assert sensor is not None
    assert sensor.minimum_interval_seconds == 5
    instance = synced_instance(demo_db)

    first = tick(sensor, demo_db, None, instance)
    assert first.run_requests == []  # the index is synced up to the highest cursor
    assert first.cursor is not None
    (observation,) = first.asset_events
    assert isinstance(observation, dg.AssetObservation)
    # Built alone, without the names of a code location: the default (Oracle) table key.
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
    assert request.run_key is not None and "datetime:2026-08-01T00:00:00" in request.run_key
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
    assert build_change_sensors([(disabled, None, sync_job(disabled))]) == []


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

    index = products_index(name="reflect_once")
    instance = synced_instance(demo_db, index)
    monkeypatch.setattr(sa, "create_engine", recording_engine)
    sensor = change_sensor(index, interval_seconds=5)
    assert sensor is not None
    cursor = tick(sensor, demo_db, None, instance).cursor
    first = len(statements)
    tick(sensor, demo_db, cursor, instance)
    tick(sensor, demo_db, cursor, instance)
    later = statements[first:]
    assert first > 2  # the first tick reflected (PRAGMA table_info, ...)
    assert len(later) == 2 and all(
        s.lstrip().upper().startswith("SELECT (SELECT MAX") for s in later
    )
    # ... on one engine kept across ticks (no new logon every tick).
    assert len(engines) == 1


def change(db: Path, table: str, key: str, key_value: int, when: dt.datetime) -> None:
    engine = sa.create_engine(f"sqlite:///{db}")
    with engine.begin() as c:
        c.execute(sa.text(f"UPDATE {table} SET UPDATED_AT = :t WHERE {key} = :k"),
                  {"t": when, "k": key_value})  # fmt: skip
    engine.dispose()


def test_one_sensor_and_one_query_per_tick_for_every_index(
    demo_db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Indexes with the same sensor settings share one sensor, which reads all their
    highest cursors in one statement and requests runs only for the indexes that moved."""
    products = products_index()
    stores = IndexConfig.model_validate(
        {"name": "stores", "table": "STORES", "primary_key": "STORE_ID", "cursor": "UPDATED_AT"}
    )
    settings = ChangeSensorConfig(interval_seconds=2)
    (sensor,) = build_change_sensors([(i, settings, sync_job(i)) for i in (products, stores)])
    assert sensor.name == "source_changes" and sensor.minimum_interval_seconds == 2
    instance = synced_instance(demo_db, products, stores)
    statements: list[str] = []

    def record(*event: Any) -> None:
        statements.append(event[2])

    sa.event.listen(sa.Engine, "before_cursor_execute", record)
    try:
        first = tick(sensor, demo_db, None, instance)
        assert first.run_requests == []
        # Both tables observed at the first tick: each table's newest change.
        assert {e.asset_key for e in first.asset_events} == {
            dg.AssetKey(["oracle", "PRODUCTS"]), dg.AssetKey(["oracle", "STORES"])
        }  # fmt: skip
        statements.clear()
        change(demo_db, "STORES", "STORE_ID", 3, dt.datetime(2026, 9, 1))
        changed = tick(sensor, demo_db, first.cursor, instance)
    finally:
        sa.event.remove(sa.Engine, "before_cursor_execute", record)
    probes = [s for s in statements if s.lstrip().upper().startswith("SELECT (SELECT MAX")]
    assert len(probes) == 1 and "FROM products" in probes[0] and "FROM stores" in probes[0]
    (request,) = changed.run_requests or []
    assert (request.job_name, request.partition_key) == ("sync_indexes", "incremental")
    assert request.asset_selection == [index_asset_key("stores")]
    assert [e.asset_key for e in changed.asset_events] == [dg.AssetKey(["oracle", "STORES"])]


def test_no_second_run_while_one_is_waiting(demo_db: Path) -> None:
    """Runs held back in the queue: a change seen while a sync of the index is waiting to
    start requests nothing (that run will read it); once it has started, the next change
    gets one run. So a change never waits behind more than one run."""
    index = products_index()
    sensor = change_sensor(index, interval_seconds=1)
    assert sensor is not None
    instance = synced_instance(demo_db)
    cursor = tick(sensor, demo_db, None, instance).cursor
    held = instance.add_run(
        dg.DagsterRun(job_name="sync_indexes", run_id=make_new_run_id(),
                      status=dg.DagsterRunStatus.NOT_STARTED,
                      tags={"dagster/partition": "incremental", **index_tag(index)})
    )  # fmt: skip
    change(demo_db, "PRODUCTS", "PRODUCT_ID", 1, dt.datetime(2026, 8, 1))
    coalesced = tick(sensor, demo_db, cursor, instance)
    assert not coalesced.run_requests
    assert coalesced.skip_reason is not None
    assert coalesced.skip_reason.skip_message == (
        "products: a sync is waiting to start; it will read the change"
    )
    # The held run starts (it reads from here on); a later change needs a run of its own.
    instance.handle_run_event(
        held.run_id,
        dg.DagsterEvent(
            event_type_value=dg.DagsterEventType.RUN_START.value, job_name="sync_indexes"
        ),
    )
    change(demo_db, "PRODUCTS", "PRODUCT_ID", 2, dt.datetime(2026, 8, 2))
    after = tick(sensor, demo_db, coalesced.cursor, instance)
    (request,) = after.run_requests or []
    assert request.run_key is not None and "datetime:2026-08-02T00:00:00" in request.run_key


def test_indexes_that_move_together_are_synced_in_one_run(demo_db: Path) -> None:
    """Two indexes moving in one tick: one run of the sensor's changes job, holding both
    incremental syncs; while it waits to start, neither index gets another run."""
    stores = IndexConfig.model_validate(
        {"name": "stores", "table": "STORES", "primary_key": "STORE_ID", "cursor": "UPDATED_AT"}
    )
    indexes = (products_index(), stores)
    (sensor,) = build_change_sensors([(i, ChangeSensorConfig(), sync_job(i)) for i in indexes])
    instance = synced_instance(demo_db, *indexes)
    cursor = tick(sensor, demo_db, None, instance).cursor
    change(demo_db, "STORES", "STORE_ID", 3, dt.datetime(2026, 9, 1))
    change(demo_db, "PRODUCTS", "PRODUCT_ID", 1, dt.datetime(2026, 9, 1))
    both = tick(sensor, demo_db, cursor, instance)
    (request,) = both.run_requests or []
    assert (request.job_name, request.partition_key) == ("sync_indexes", "incremental")
    assert set(request.asset_selection or []) == {
        index_asset_key("products"), index_asset_key("stores")
    }  # fmt: skip
    instance.add_run(
        dg.DagsterRun(job_name="sync_indexes", run_id=make_new_run_id(),
                      status=dg.DagsterRunStatus.NOT_STARTED,
                      asset_selection=frozenset(request.asset_selection or []),
                      tags=dict(request.tags))
    )  # fmt: skip
    change(demo_db, "STORES", "STORE_ID", 4, dt.datetime(2026, 9, 2))
    held = tick(sensor, demo_db, both.cursor, instance)
    assert not held.run_requests


def test_a_change_made_while_the_sensor_was_off_is_synced_at_its_first_tick(
    demo_db: Path,
) -> None:
    """The first tick compares the table with the index's watermark, not with nothing: a
    change made while the sensor was stopped (or before it existed) gets its run."""
    sensor = change_sensor(products_index(), interval_seconds=5)
    assert sensor is not None
    instance = synced_instance(demo_db)
    change(demo_db, "PRODUCTS", "PRODUCT_ID", 4, dt.datetime(2026, 10, 1))
    first = tick(sensor, demo_db, None, instance)
    (request,) = first.run_requests or []
    assert request.partition_key == "incremental"


def test_the_late_commits_deadline_requests_one_more_sync_once_passed(demo_db: Path) -> None:
    """Synced up to the highest cursor with late commits still possible: nothing until the
    deadline, then one re-read of the window (one run key however often seen), and nothing
    once a sync has recorded that none is pending."""
    at = dt.datetime(2026, 12, 6, 9, 0, tzinfo=dt.UTC)
    index = products_index()
    (sensor,) = build_change_sensors(
        [(index, ChangeSensorConfig(), sync_job(index))], clock=lambda: at
    )
    deadline = at + dt.timedelta(seconds=5)
    instance = synced_instance(demo_db, late_commits_until=deadline)
    before = tick(sensor, demo_db, None, instance)
    assert not before.run_requests

    at = deadline
    (request,) = tick(sensor, demo_db, before.cursor, instance).run_requests or []
    assert request.partition_key == "incremental"
    assert request.run_key is not None and deadline.isoformat() in request.run_key
    assert [r.run_key for r in tick(sensor, demo_db, None, instance).run_requests or []] == [
        request.run_key
    ]
    synced_instance(demo_db, instance=instance)  # the re-read: no late commit pending now
    assert not tick(sensor, demo_db, None, instance).run_requests


def test_a_failed_sync_is_requested_again_after_a_pause(demo_db: Path) -> None:
    """A sync run that failed (its retries spent) leaves the index due: the sensor waits a
    minute, then requests it again under a new run key, rather than never."""
    at = dt.datetime.now(dt.UTC)
    index = products_index()
    (sensor,) = build_change_sensors(
        [(index, ChangeSensorConfig(), sync_job(index))], clock=lambda: at
    )
    instance = synced_instance(demo_db)
    change(demo_db, "PRODUCTS", "PRODUCT_ID", 4, dt.datetime(2026, 10, 1))
    (first,) = tick(sensor, demo_db, None, instance).run_requests or []
    failed = instance.add_run(
        dg.DagsterRun(job_name="sync_indexes", run_id=make_new_run_id(),
                      status=dg.DagsterRunStatus.FAILURE, tags=index_tag(index))
    )  # fmt: skip
    held = tick(sensor, demo_db, None, instance)
    assert not held.run_requests
    assert held.skip_reason is not None and "its last sync failed" in str(held.skip_reason)

    at += dt.timedelta(seconds=61)
    (retry,) = tick(sensor, demo_db, None, instance).run_requests or []
    assert retry.run_key != first.run_key and failed.run_id in (retry.run_key or "")


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(schedule=commit_steps)
def test_the_sensor_makes_every_commit_searchable_without_a_later_change(
    schedule: list[Step],
    meili_server: RunningMeilisearch,
    meili_client: MeiliClient,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The change sensor's path on property-based schedules of commits: each tick's run
    requests are materialized (one run per run key, as Dagster launches them); once the
    table has been quiet for the look-back window and one tick, every row is searchable."""
    monkeypatch.setenv("MEILI_API_KEY", meili_server.master_key)
    with tempfile.TemporaryDirectory() as folder:
        clock = CommitClock()
        monkeypatch.setattr("oracle_meili.engine.runner.now", clock)  # the syncs' clock
        table = EventsTable.create(Path(folder) / "events.db", clock)
        index = commit_index(f"t_{uuid.uuid4().hex[:12]}")
        config = parse_config(
            {"source": {"url": str(table.engine.url)}, "meilisearch": {"url": meili_server.url},
             "indexes": [index.model_dump(exclude_unset=True)]},
            environ=os.environ,
        )  # fmt: skip
        resources = build_resources(config)
        (sensor,) = build_change_sensors(
            [(index, ChangeSensorConfig(), sync_job(index))], clock=clock
        )
        instance = dg.DagsterInstance.ephemeral()
        cursor: str | None = None
        launched: set[str | None] = set()

        def evaluate() -> None:
            nonlocal cursor
            context = dg.build_sensor_context(cursor=cursor, instance=instance, resources=resources)
            result = sensor(context)
            assert isinstance(result, dg.SensorResult)
            cursor = result.cursor
            for request in result.run_requests or []:
                if request.run_key in launched:
                    continue
                launched.add(request.run_key)
                run = dg.materialize(
                    [build_index_asset(index)],
                    partition_key=request.partition_key,
                    instance=instance,
                    resources=resources,
                )
                assert run.success

        try:
            run_schedule(schedule, table, evaluate)
            assert_searchable(meili_client, index.name, table.rows)
        finally:
            table.engine.dispose()
            if meili_client.index_exists(index.name):
                meili_client.delete_index(index.name)
