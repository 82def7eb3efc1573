"""Parallel full syncs (``parallel: N``): key-range slices into one build index.

The sliced index must be the index a single reader builds; a failed slice is read again
alone, from its own checkpoint; nothing live changes until every slice has finished.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import psutil
import pytest
import requests
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from oracle_meili.adapters.meili import MeiliClient
from oracle_meili.adapters.server import RunningMeilisearch
from oracle_meili.adapters.source import TableSource
from oracle_meili.config import MeilisearchConfig, SourceConfig
from oracle_meili.demo import create_demo
from oracle_meili.engine.full import full_sync
from oracle_meili.engine.result import SyncResult
from oracle_meili.engine.runner import Runner
from oracle_meili.engine.slices import complete_slices, load_slice, plan_slices
from oracle_meili.engine.state import StateFile
from oracle_meili.engine.workers import SlicesFailedError
from oracle_meili.errors import OracleMeiliError, SyncError
from oracle_meili_tests.adapters.test_pagination_properties import make_source, tables
from oracle_meili_tests.conftest import MakeIndex
from oracle_meili_tests.harness import SyncHarness
from oracle_meili_tests.transforms import FAIL_ID_VARIABLE


def sliced_in_process(
    source: TableSource, client: MeiliClient, *, order: list[int] | None = None
) -> SyncResult:
    """A sliced full sync with its slices run here, one after another, in ``order``."""
    plan = plan_slices(source, client, resume=None)
    numbers = order if order is not None else list(range(plan.slices))
    done = {n: load_slice(source, client, plan, n) for n in numbers if n < plan.slices}
    return complete_slices(source, client, plan, done)


def all_documents(client: MeiliClient, uid: str) -> list[dict[str, Any]]:
    documents = [d for chunk in client.documents(uid, chunk=1000) for d in chunk]
    return sorted(documents, key=lambda d: orjson.dumps(d, option=orjson.OPT_SORT_KEYS))


def outcome(run: Callable[[], SyncResult], client: MeiliClient, uid: str) -> object:
    """The documents a sync left live, or the kind of error it stopped with."""
    try:
        run()
    except OracleMeiliError as e:
        return type(e).__name__
    return all_documents(client, uid)


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    table=tables(),
    slices=st.sampled_from([1, 2, 5]),
    batch_size=st.integers(1, 3),
    seed=st.integers(0, 1000),
)
def test_sliced_index_is_the_single_reader_index(
    meili_client: MeiliClient,
    table: tuple[list[str], list[tuple[Any, ...]]],
    slices: int,
    batch_size: int,
    seed: int,
) -> None:
    """Over tie-heavy composite keys of mixed types, pages of 1 to 3 rows, and slices run in
    any order: the same documents, or the same error (an invalid or duplicate id)."""
    engine, source, _ = make_source(*table)
    name = f"t_{uuid.uuid4().hex[:10]}"
    one = source.index.model_copy(update={"name": f"{name}_one", "batch_size": batch_size})
    many = one.model_copy(update={"name": f"{name}_many", "parallel": slices})
    order = list(range(slices))
    random.Random(seed).shuffle(order)
    try:
        single = outcome(
            lambda: full_sync(TableSource(engine, one), meili_client), meili_client, one.name
        )
        sliced = outcome(
            lambda: sliced_in_process(TableSource(engine, many), meili_client, order=order),
            meili_client,
            many.name,
        )
        assert sliced == single
        if isinstance(sliced, str):
            # Failed: nothing went live; the build is kept, as for a retry of its slices.
            assert not meili_client.index_exists(many.name)
        else:
            # Nothing but the live index is left behind.
            assert meili_client.index_uids(prefix=many.name) == [many.name]
    finally:
        for uid in meili_client.index_uids(prefix=name):
            meili_client.delete_index(uid)
        engine.dispose()


@pytest.fixture
def runner_for(demo_db: Path, meili_config: MeilisearchConfig) -> Callable[[StateFile], Runner]:
    """A runner over the demo database and the test server (worker processes open their
    own connections from these settings)."""

    def make(state: StateFile) -> Runner:
        return Runner(SourceConfig(url=f"sqlite:///{demo_db}"), meili_config, state=state)

    return make


def test_failed_slice_is_read_again_alone_from_its_checkpoint(
    sync: SyncHarness,
    make_index: MakeIndex,
    runner_for: Callable[[StateFile], Runner],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    """From the CLI's worker processes: a row in the middle slice fails it; the other slices
    finish and the live index stays; the next full sync reads the rest of that slice only."""
    index = make_index(
        parallel=3,
        batch_size=20,
        transform="oracle_meili_tests.transforms:fail_on_marked_id",
    )
    live = sync.full(index)  # what must stay live while the sliced sync fails
    state = StateFile(tmp_path / "sync_state.json")
    runner = runner_for(state)
    # Small payloads, one in flight: the middle slice has acknowledged some when it fails.
    runner.meilisearch = runner.meilisearch.model_copy(
        update={"max_payload_bytes": 4000, "max_tasks_in_flight": 1}
    )
    monkeypatch.setenv(FAIL_ID_VARIABLE, "250")
    with pytest.raises(SlicesFailedError, match=r"1 of 3 key-range slices failed \(slice 1: ") as e:
        runner.run(index, "full")
    assert "primary key 250" in str(e.value) and "injected fault" in str(e.value)
    assert sync.client.document_count(index.name) == live.index_document_count
    assert state.watermark(index.name) is None  # the failure moved no watermark
    plan = state.plan(index.name)
    assert plan is not None and plan.slices == 3
    kept = state.slice_checkpoints(index.name, plan.build_index)
    assert kept[0].finished and kept[2].finished and not kept[1].finished
    assert kept[1].rows_acknowledged > 0

    monkeypatch.delenv(FAIL_ID_VARIABLE)
    progress: list[int] = []
    result = runner.run(index, "full", on_progress=progress.append)
    # Every figure reported counts the kept slices and more of slice 1: nothing was read
    # again from the start of any slice.
    already = sum(c.rows_acknowledged for c in kept.values())
    assert progress and min(progress) > already
    assert result.rows_read == result.index_document_count == sync.live_count()
    assert sync.client.document_count(index.name) == sync.live_count()
    assert sync.client.index_uids(prefix=index.name) == [index.name]
    # The finished slices' checkpoints were not touched; the sync's state is cleared.
    assert state.plan(index.name) is None
    assert state.slice_checkpoints(index.name, plan.build_index) == {}
    hits = sync.client.search(index.name, "", filter="price >= 0", limit=1)["estimatedTotalHits"]
    assert hits == sync.live_count()


def test_sliced_sync_from_the_runner_matches_the_table(
    sync: SyncHarness,
    make_index: MakeIndex,
    runner_for: Callable[[StateFile], Runner],
    tmp_path: Path,
) -> None:
    """Worker processes, a look-back and soft deletes: every live row, each once, and the
    watermark taken before the read, as a single-stream full sync takes it."""
    sync.execute("UPDATE PRODUCTS SET IS_DELETED = 'Y' WHERE PRODUCT_ID % 7 = 0")
    index = make_index(parallel=4, batch_size=16)
    state = StateFile(tmp_path / "state.json")
    result = runner_for(state).run(index, "full")
    single = sync.full(index.model_copy(update={"name": f"{index.name}_one", "parallel": 1}))
    assert result.watermark == single.watermark
    assert all_documents(sync.client, index.name) == all_documents(sync.client, f"{index.name}_one")
    assert sync.check(index).consistent
    assert state.watermark(index.name) == result.watermark


def test_nothing_is_published_until_every_slice_has_finished(
    sync: SyncHarness, make_index: MakeIndex
) -> None:
    index = make_index(parallel=3)
    live = sync.full(index.model_copy(update={"parallel": 1}))
    source = sync.source(index)
    plan = plan_slices(source, sync.client, resume=None)
    done = {n: load_slice(source, sync.client, plan, n) for n in (0, 2)}
    with pytest.raises(SyncError, match=r"slice\(s\) 1 of 3 have not finished"):
        complete_slices(source, sync.client, plan, done)
    assert sync.client.document_count(index.name) == live.index_document_count
    # The build is kept for the slice still to come, which completes it.
    done[1] = load_slice(source, sync.client, plan, 1)
    result = complete_slices(source, sync.client, plan, done)
    assert result.index_document_count == sync.live_count()


def test_a_slice_whose_build_index_is_gone_says_so(
    sync: SyncHarness, make_index: MakeIndex
) -> None:
    index = make_index(parallel=2)
    source = sync.source(index)
    plan = plan_slices(source, sync.client, resume=None)
    sync.client.delete_index(plan.build_index)
    with pytest.raises(SyncError, match=rf"build index '{plan.build_index}' .* is gone"):
        load_slice(source, sync.client, plan, 0)


def test_a_build_missing_documents_is_dropped_not_published(
    sync: SyncHarness, make_index: MakeIndex
) -> None:
    """A slice's finished checkpoint that claims more than the build holds (documents lost
    after they were acknowledged): the counts disagree, the build is dropped."""
    index = make_index(parallel=2)
    source = sync.source(index)
    plan = plan_slices(source, sync.client, resume=None)
    done = {n: load_slice(source, sync.client, plan, n) for n in range(2)}
    sync.client.wait(sync.client.delete_documents(plan.build_index, [1, 2, 3]), plan.build_index)
    with pytest.raises(SyncError, match="documents were sent but the new index holds"):
        complete_slices(source, sync.client, plan, done)
    assert not sync.client.index_exists(plan.build_index)
    assert not sync.client.index_exists(index.name)


def test_a_new_plan_resumes_a_kept_build_only_with_the_same_slicing(
    sync: SyncHarness, make_index: MakeIndex
) -> None:
    index = make_index(parallel=3)
    source = sync.source(index)
    first = plan_slices(source, sync.client, resume=None)
    assert plan_slices(source, sync.client, resume=first).build_index == first.build_index
    other = make_index(parallel=2)
    again = plan_slices(sync.source(other), sync.client, resume=first)
    assert again.build_index != first.build_index
    # The stale build of the other slicing is dropped when the new one is created.
    assert not sync.client.index_exists(first.build_index)


def test_a_full_sync_of_another_slicing_starts_afresh(
    sync: SyncHarness, make_index: MakeIndex, tmp_path: Path
) -> None:
    """A plan of two slices, one of them loaded, is not resumed by a single-reader sync
    (another slicing): it reads every row into a build of its own."""
    index = make_index(parallel=2)
    source = sync.source(index)
    state = StateFile(tmp_path / "state.json")
    plan = plan_slices(source, sync.client, resume=None)
    state.save_plan(plan)
    load_slice(source, sync.client, plan, 0, on_checkpoint=state.save_checkpoint)
    result = full_sync(
        sync.source(index.model_copy(update={"parallel": 1})), sync.client, state=state
    )
    assert result.rows_read == sync.live_count()
    assert not sync.client.index_exists(plan.build_index)


def test_the_workers_die_with_the_command_that_started_them(
    tmp_path: Path, meili_server: RunningMeilisearch, meili_client: MeiliClient, index_name: str
) -> None:
    """kill -9 of `oracle-meili sync` in the middle of a sliced full sync: none of its
    processes is left running, and nothing more is written to the build index."""
    database = create_demo(tmp_path / "demo.db", rows=100_000)
    config = {
        "source": {"url": f"sqlite:///{database}"},
        "indexes": [{"name": index_name, "table": "PRODUCTS", "primary_key": "PRODUCT_ID",
                     "cursor": "UPDATED_AT", "parallel": 4, "batch_size": 200}],
    }  # fmt: skip
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    env = {**os.environ, "MEILI_URL": meili_server.url, "MEILI_API_KEY": meili_server.master_key}
    command = [str(Path(sys.executable).parent / "oracle-meili"), "sync", "--config",
               str(tmp_path / "config.yaml"), "--index", index_name, "--mode", "full",
               "--state", str(tmp_path / "state.json")]  # fmt: skip
    cli = subprocess.Popen(command, env=env, stderr=subprocess.PIPE, text=True)
    try:
        # Once every worker has written to the build index.
        deadline = time.monotonic() + 120
        while len(psutil.Process(cli.pid).children(recursive=True)) < 4 or not any(
            meili_client.document_count(build) > 0 for build in builds(meili_server, index_name)
        ):
            assert cli.poll() is None, cli.stderr.read() if cli.stderr else ""
            assert time.monotonic() < deadline, "the sliced sync did not start writing"
            time.sleep(0.1)
        spawned = psutil.Process(cli.pid).children(recursive=True)
        cli.kill()
        cli.wait()
        _, alive = psutil.wait_procs(spawned, timeout=10)
        assert not alive, f"left running after their parent was killed: {alive}"
        (build,) = builds(meili_server, index_name)
        tasks = task_count(meili_server, build)
        time.sleep(2)  # a quiet period: an orphan would have sent another payload by now
        assert task_count(meili_server, build) == tasks
    finally:
        if cli.poll() is None:
            cli.kill()


def meilisearch_get(server: RunningMeilisearch, path: str) -> Any:
    answer = requests.get(
        f"{server.url}{path}", headers={"Authorization": f"Bearer {server.master_key}"}, timeout=10
    )
    answer.raise_for_status()
    return answer.json()


def builds(server: RunningMeilisearch, index: str) -> list[str]:
    """The build indexes of a full sync of ``index`` on the server."""
    listed = meilisearch_get(server, "/indexes?limit=1000")["results"]
    return [i["uid"] for i in listed if i["uid"].startswith(f"{index}__")]


def task_count(server: RunningMeilisearch, index: str) -> int:
    return int(meilisearch_get(server, f"/tasks?indexUids={index}&limit=1")["total"])
