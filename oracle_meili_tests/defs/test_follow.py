"""The follow run's definitions and its keeper sensor, evaluated with build_sensor_context."""

from __future__ import annotations

import datetime as dt
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
from dagster._core.utils import make_new_run_id

from oracle_meili.config import AppConfig, FollowConfig, IndexConfig, parse_config
from oracle_meili.definitions import build_definitions
from oracle_meili.defs.follow import (
    HANDOVER_TAG,
    SETTINGS_TAG,
    build_follow_job,
    build_follow_sensor,
    follow_groups,
)
from oracle_meili.defs.metadata import result_metadata
from oracle_meili.defs.names import index_asset_key, pool_name
from oracle_meili.defs.state import DagsterInstanceState, FollowRunState
from oracle_meili.defs.throttle import FOLLOWER_PREFIX, follower_exclusion
from oracle_meili.engine.follow import Follower
from oracle_meili.engine.freshness import LastSync
from oracle_meili.engine.result import SyncResult
from oracle_meili.engine.runner import Runner
from oracle_meili.errors import ConfigError


def index(name: str, **follow: Any) -> tuple[IndexConfig, FollowConfig]:
    config = IndexConfig.model_validate(
        {"name": name, "table": "PRODUCTS", "primary_key": "PRODUCT_ID", "cursor": "UPDATED_AT"}
    )
    return config, FollowConfig.model_validate(follow)


def test_indexes_with_the_same_settings_share_one_follow_run() -> None:
    (group,) = follow_groups([index("a"), index("b"), (index("c")[0], None)])
    assert group.job_name == "follow_changes"
    assert [i.name for i in group.indexes] == ["a", "b"]
    groups = follow_groups([index("a"), index("b", interval_seconds=2.0)])
    assert [g.job_name for g in groups] == ["follow_changes_1", "follow_changes_2"]


def test_the_definitions_hold_the_follow_job_and_its_sensor() -> None:
    raw = {
        "source": {"url": "sqlite:///demo/demo.db"},
        "indexes": [{"name": "products", "table": "PRODUCTS", "primary_key": "PRODUCT_ID",
                     "cursor": "UPDATED_AT", "follow": {"running": True}}],
    }  # fmt: skip
    definitions = build_definitions(parse_config(raw, environ={}), {})
    job = definitions.resolve_job_def("follow_changes")
    assert job.executor_def is dg.in_process_executor
    sensor = definitions.resolve_sensor_def("keep_follow_changes_running")
    assert sensor.default_status == dg.DefaultSensorStatus.RUNNING


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"follow": {}}, "follow needs `cursor`"),
        ({"cursor": "UPDATED_AT", "follow": {"running": True},
          "change_sensor": {"running": True}}, "both true"),
        ({"cursor": "UPDATED_AT", "follow": {"interval_seconds": 0}}, "follow.interval_seconds"),
    ],
)  # fmt: skip
def test_bad_follow_settings_are_errors_naming_the_index(
    entry: dict[str, Any], message: str
) -> None:
    raw = {
        "source": {"url": "sqlite:///demo/demo.db"},
        "indexes": [{"name": "products", "table": "PRODUCTS", "primary_key": "PRODUCT_ID",
                     **entry}],
    }  # fmt: skip
    with pytest.raises(ConfigError, match=message) as error:
        parse_config(raw, environ={})
    assert "products" in str(error.value)


def keeper(**follow: Any) -> tuple[dg.SensorDefinition, str]:
    (group,) = follow_groups([index("products", **follow)])
    sensor = build_follow_sensor(group, build_follow_job(group, None), None)
    return sensor, group.fingerprint(None)


def evaluate(
    sensor: dg.SensorDefinition, instance: dg.DagsterInstance, cursor: str | None = None
) -> dg.SensorResult:
    result = sensor(dg.build_sensor_context(instance=instance, cursor=cursor))
    assert isinstance(result, dg.SensorResult)
    return result


def add_run(
    instance: dg.DagsterInstance, status: dg.DagsterRunStatus, fingerprint: str
) -> dg.DagsterRun:
    return instance.add_run(
        dg.DagsterRun(job_name="follow_changes", run_id=make_new_run_id(), status=status,
                      tags={SETTINGS_TAG: fingerprint})
    )  # fmt: skip


def test_the_keeper_requests_a_follow_run_when_none_is_in_progress() -> None:
    sensor, fingerprint = keeper()
    instance = dg.DagsterInstance.ephemeral()
    (request,) = evaluate(sensor, instance).run_requests or []
    assert request.tags == {SETTINGS_TAG: fingerprint}
    add_run(instance, dg.DagsterRunStatus.STARTED, fingerprint)
    assert not evaluate(sensor, instance).run_requests


def test_a_run_handing_over_gets_one_successor() -> None:
    sensor, fingerprint = keeper()
    instance = dg.DagsterInstance.ephemeral()
    old = add_run(instance, dg.DagsterRunStatus.STARTED, fingerprint)
    instance.add_run_tags(old.run_id, {HANDOVER_TAG: "due"})
    (request,) = evaluate(sensor, instance).run_requests or []
    assert request.tags == {SETTINGS_TAG: fingerprint}
    add_run(instance, dg.DagsterRunStatus.NOT_STARTED, fingerprint)  # the successor
    assert not evaluate(sensor, instance).run_requests


def test_a_killed_follow_run_is_replaced_but_a_terminated_one_is_not() -> None:
    sensor, fingerprint = keeper()
    instance = dg.DagsterInstance.ephemeral()
    add_run(instance, dg.DagsterRunStatus.FAILURE, fingerprint)  # its worker was killed
    assert evaluate(sensor, instance).run_requests
    add_run(instance, dg.DagsterRunStatus.CANCELED, fingerprint)  # terminated from the UI
    stopped = evaluate(sensor, instance)
    assert not stopped.run_requests
    assert "terminated" in str(stopped.skip_reason)


def test_a_run_with_older_settings_is_stopped_then_replaced(tmp_path: Path) -> None:
    sensor, fingerprint = keeper(interval_seconds=0.25)
    # An instance on disk, with Dagster's default run launcher (the one that terminates).
    instance = dg.DagsterInstance.local_temp(str(tmp_path))
    older = add_run(instance, dg.DagsterRunStatus.STARTED, "older settings")
    first = evaluate(sensor, instance)
    assert not first.run_requests
    stopping = instance.get_run_by_id(older.run_id)
    assert stopping is not None and stopping.status == dg.DagsterRunStatus.CANCELING
    # Until it has stopped, nothing more; then a run with the new settings (it was the
    # sensor that stopped it, not someone who wants following to stop).
    second = evaluate(sensor, instance, first.cursor)
    assert not second.run_requests
    instance.report_run_canceled(stopping)
    (request,) = evaluate(sensor, instance, second.cursor).run_requests or []
    assert request.tags == {SETTINGS_TAG: fingerprint}


def test_a_follow_run_knows_its_own_syncs_at_once_and_others_within_the_refresh(
    tmp_path: Path,
) -> None:
    instance = dg.DagsterInstance.ephemeral()
    state = FollowRunState(instance, meilisearch_url="http://127.0.0.1:7700", refresh_seconds=60)
    assert state.last_syncs(["products"]) == {"products": None}
    own = result("products", "int:5")
    state.record_success(own)
    assert state.last_syncs(["products"])["products"] == LastSync("int:5", None)
    state.reported(own)
    # A sync by someone else (a full sync publishing an older watermark): not yet read...
    instance.report_runless_asset_event(
        dg.AssetMaterialization(
            asset_key=index_asset_key("products"),
            partition="full",
            metadata=result_metadata(result("products", "int:2"), meilisearch_url="u"),
        )
    )
    assert state.last_syncs(["products"])["products"] == LastSync("int:5", None)
    # ... and read once the refresh is due.
    state.refresh_seconds = 0
    assert state.last_syncs(["products"])["products"] == LastSync("int:2", None)


def result(index: str, watermark: str) -> SyncResult:
    at = dt.datetime.now(dt.UTC)
    return SyncResult(
        index=index, mode="incremental", started_at=at, finished_at=at, rows_read=0,
        documents_upserted=0, documents_deleted=0, index_document_count=0,
        watermark=watermark, previous_watermark=None,
    )  # fmt: skip


def test_the_cli_follower_holds_the_index_pool_and_frees_a_dead_ones(
    app_config: AppConfig, tmp_path: Path
) -> None:
    """`oracle-meili follow` with Dagster state claims the index's pool for each sync, as a
    sync run does: an index whose slot a run holds is left for the next poll; the claims of
    a follower on this host that was killed are freed when the next one starts."""
    instance = dg.DagsterInstance.local_temp(str(tmp_path))
    index = app_config.indexes[0]
    pool = pool_name(index)
    storage = instance.event_log_storage
    storage.set_concurrency_slots(pool, 1)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    ghost = f"{FOLLOWER_PREFIX}{socket.gethostname()}:{dead.pid}"
    assert storage.claim_concurrency_slot(pool, ghost, index.name).is_claimed

    exclusive = follower_exclusion(instance)  # frees the dead follower's slot
    assert storage.get_concurrency_info(pool).active_slot_count == 0
    state = DagsterInstanceState(instance, meilisearch_url=app_config.meilisearch.url)
    runner = Runner(app_config.source, app_config.meilisearch, state=state)
    with Follower(runner, [index], exclusive=exclusive) as follower:
        assert storage.claim_concurrency_slot(pool, "a-sync-run", "step").is_claimed
        follower.poll()
        follower.finish_syncs()
        assert follower.syncs == 0  # the run holds the index
        assert storage.get_concurrency_info(pool).pending_step_count == 0  # nothing queued
        storage.free_concurrency_slot_for_step("a-sync-run", "step")
        follower.poll()
        follower.finish_syncs()
        assert follower.syncs == 1
    assert storage.get_concurrency_info(pool).active_slot_count == 0
