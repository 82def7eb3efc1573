"""Sharded indexes: one index over three real Meilisearch servers (``meilisearch.shards``).

Each server has a key of its own, given as ``MEILI_API_KEY_<NAME>``, as in production.
"""

from __future__ import annotations

import os
import secrets
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dagster as dg
import orjson
import pytest
import requests
import sqlalchemy as sa
import yaml

from oracle_meili.adapters.meili import MeiliClient
from oracle_meili.adapters.server import MeilisearchProcess, free_port
from oracle_meili.adapters.shard_routing import ShardTasks, shard_of
from oracle_meili.adapters.shards import ShardedClient
from oracle_meili.cli import main
from oracle_meili.config import AppConfig, parse_config, shard_key_variable
from oracle_meili.defs.assets import build_index_asset
from oracle_meili.defs.build import build_definitions
from oracle_meili.defs.metadata_sets import ReshardMetadata
from oracle_meili.defs.resources import build_resources
from oracle_meili.demo import create_demo
from oracle_meili.engine.runner import Runner
from oracle_meili.engine.state import StateFile
from oracle_meili.errors import (
    MeilisearchError,
    MeilisearchTaskError,
    MeilisearchUnavailableError,
)
from oracle_meili_tests.test_docs import blocks

NAMES = ("s0", "s1", "s2")


@pytest.fixture(scope="module")
def nodes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, MeilisearchProcess]]:
    """Three Meilisearch servers, each with a master key of its own."""
    started: dict[str, MeilisearchProcess] = {}
    try:
        for name in NAMES:
            data = tmp_path_factory.mktemp(f"shard_{name}")
            started[name] = MeilisearchProcess(
                data_dir=data,
                port=free_port(),
                master_key=secrets.token_urlsafe(24),
                log_path=data / "meilisearch.log",
            )
            started[name].start()
        yield started
    finally:
        for node in started.values():
            node.stop()


def sharded_config(
    nodes: dict[str, MeilisearchProcess], db: Path, names: tuple[str, ...], index: str
) -> AppConfig:
    raw: dict[str, Any] = {
        "source": {"url": f"sqlite:///{db}"},
        # No retries: a shard that is down fails the sync at once.
        "meilisearch": {
            "shards": [{"name": n, "url": nodes[n].url} for n in names],
            "retries": 0,
            "max_payload_bytes": 200_000,
        },
        "indexes": [
            {
                "name": index,
                "table": "PRODUCTS",
                "primary_key": "PRODUCT_ID",
                "cursor": "UPDATED_AT",
                "soft_delete": {"column": "IS_DELETED", "deleted_value": "Y"},
                "settings": {
                    "searchableAttributes": ["name", "description"],
                    "filterableAttributes": ["category"],
                },
            }
        ],
    }
    environ = {shard_key_variable(n): nodes[n].master_key for n in NAMES}
    return parse_config(raw, environ=environ)


@pytest.fixture
def demo(tmp_path: Path) -> Path:
    return create_demo(tmp_path / "demo.db", rows=3000)


def live_ids(db: Path) -> set[int]:
    engine = sa.create_engine(f"sqlite:///{db}")
    with engine.connect() as c:
        ids = {
            r[0]
            for r in c.exec_driver_sql("SELECT PRODUCT_ID FROM PRODUCTS WHERE IS_DELETED = 'N'")
        }
    engine.dispose()
    return ids


def ids_by_shard(client: ShardedClient, uid: str) -> dict[str, set[int]]:
    return {
        name: {
            d["product_id"]
            for page in node.documents(uid, chunk=1000, fields=["product_id"])
            for d in page
        }
        if node.index_exists(uid)
        else set()
        for name, node in client.nodes.items()
    }


def runner(config: AppConfig, state: Path) -> Runner:
    return Runner(config.source, config.meilisearch, state=StateFile(state))


@pytest.fixture
def synced(
    nodes: dict[str, MeilisearchProcess], demo: Path, tmp_path: Path
) -> tuple[AppConfig, Runner, str]:
    """An index of the demo table on the three shards, after its first full sync."""
    index = f"t_{uuid.uuid4().hex[:10]}"
    config = sharded_config(nodes, demo, NAMES, index)
    sync = runner(config, tmp_path / "state.json")
    sync.run(config.indexes[0], "full")
    return config, sync, index


def test_full_and_incremental_syncs_spread_documents_by_id(
    synced: tuple[AppConfig, Runner, str], demo: Path
) -> None:
    config, sync, index = synced
    with sync.session() as session:
        client = session.client
        assert isinstance(client, ShardedClient)
        placed = ids_by_shard(client, index)
        # Each document on exactly one shard, the one its id hashes to; together, every row.
        assert set().union(*placed.values()) == live_ids(demo)
        assert sum(len(ids) for ids in placed.values()) == len(live_ids(demo))
        for name, ids in placed.items():
            assert ids and all(shard_of(i, NAMES) == name for i in ids)
        # The same settings on every shard.
        settings = [node.settings(index) for node in client.nodes.values()]
        assert all(s == settings[0] for s in settings)
        assert settings[0]["filterableAttributes"] == ["category"]
        # A federated search sent to one node finds documents held by every shard.
        found = client.search(index, "", limit=3000)
        remotes = {hit["_federation"]["remote"] for hit in found["hits"]}
        assert remotes == set(NAMES)
        assert {hit["product_id"] for hit in found["hits"]} == live_ids(demo)
        assert session.check(config.indexes[0]).consistent_percent == 100.0

    engine = sa.create_engine(f"sqlite:///{demo}")
    with engine.begin() as c:
        c.exec_driver_sql(
            "UPDATE PRODUCTS SET NAME = 'Sharded Kettle', UPDATED_AT = '2030-01-01 00:00:00' "
            "WHERE PRODUCT_ID IN (11, 12, 13)"
        )
        c.exec_driver_sql(
            "UPDATE PRODUCTS SET IS_DELETED = 'Y', UPDATED_AT = '2030-01-01 00:00:00' "
            "WHERE PRODUCT_ID IN (21, 22, 23)"
        )
    engine.dispose()
    result = sync.run(config.indexes[0], "incremental")
    assert result.documents_deleted == 3
    with sync.session() as session:
        client = session.client
        assert isinstance(client, ShardedClient)
        hits = client.search(index, "Sharded Kettle", limit=10)["hits"]
        assert {hit["product_id"] for hit in hits} >= {11, 12, 13}
        assert set().union(*ids_by_shard(client, index).values()) == live_ids(demo)
        assert session.check(config.indexes[0]).consistent


def test_a_shard_down_fails_the_sync_and_changes_nothing_live(
    nodes: dict[str, MeilisearchProcess], demo: Path, tmp_path: Path
) -> None:
    index = f"t_{uuid.uuid4().hex[:10]}"
    config = sharded_config(nodes, demo, NAMES, index)
    sync = runner(config, tmp_path / "state.json")
    first = sync.run(config.indexes[0], "full")
    with sync.session() as session:
        assert isinstance(session.client, ShardedClient)
        before = session.client.counts(index)
    nodes["s1"].stop()
    try:
        with pytest.raises(MeilisearchUnavailableError, match=r"shard 's1'.*not answering"):
            sync.run(config.indexes[0], "full")
        with MeiliClient(config.meilisearch.shard_config(config.meilisearch.shards[0])) as s0:
            assert s0.document_count(index) == before["s0"]
            assert s0.index_uids(prefix=index) == [index]  # no build index left half made
    finally:
        nodes["s1"].start()
    again = sync.run(config.indexes[0], "full")
    assert again.index_document_count == first.index_document_count
    with sync.session() as session:
        assert isinstance(session.client, ShardedClient)
        assert session.client.counts(index) == before
        assert session.client.index_uids(prefix=index) == [index]


def test_going_from_two_shards_to_three_moves_a_third(
    nodes: dict[str, MeilisearchProcess], demo: Path, tmp_path: Path
) -> None:
    index = f"t_{uuid.uuid4().hex[:10]}"
    two = sharded_config(nodes, demo, NAMES[:2], index)
    runner(two, tmp_path / "state.json").run(two.indexes[0], "full")
    queries = ("이어폰", "lamp", "keyboard", "가방")
    with Runner(two.source, two.meilisearch).session() as session:
        assert isinstance(session.client, ShardedClient)
        before = {q: hit_ids(session.client, index, q) for q in queries}
    assert any(before.values())

    three = sharded_config(nodes, demo, NAMES, index)
    # Before the move, an incremental sync would leave two copies of what belongs to s2.
    with pytest.raises(MeilisearchError, match=r"on shard\(s\) s0, s1 but not on s2: .*reshard"):
        runner(three, tmp_path / "state.json").run(three.indexes[0], "incremental")
    with Runner(three.source, three.meilisearch).session() as session:
        client = session.client
        assert isinstance(client, ShardedClient)
        result = session.reshard(three.indexes[0])
        total = len(live_ids(demo))
        # Rendezvous hashing: only documents that now belong to the new shard move.
        assert result.moved == result.counts["s2"] == len(ids_by_shard(client, index)["s2"])
        assert 0.25 * total < result.moved < 0.42 * total
        assert result.moved_from["s2"] == 0  # the new shard held nothing to move
        placed = ids_by_shard(client, index)
        assert sum(len(ids) for ids in placed.values()) == total
        assert set().union(*placed.values()) == live_ids(demo)
        for name, ids in placed.items():
            assert all(shard_of(i, NAMES) == name for i in ids)
        assert {q: hit_ids(client, index, q) for q in queries} == before
        assert session.check(three.indexes[0]).consistent_percent == 100.0
        # Run again, nothing is misplaced.
        assert session.reshard(three.indexes[0]).moved == 0


def test_reshard_commands_add_then_remove_a_shard(
    synced: tuple[AppConfig, Runner, str],
    nodes: dict[str, MeilisearchProcess],
    demo: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """docs/sharding.md's two commands: s2 removed from the configuration (`--from`), its
    documents move to s0 and s1; added back, a third of them return to it."""
    _, _, index = synced
    for name in NAMES:
        monkeypatch.setenv(shard_key_variable(name), nodes[name].master_key)
    path = tmp_path / "two.yaml"
    write_config(path, nodes, demo, NAMES[:2], index)
    assert main(["reshard", "--config", str(path), "--index", index,
                 "--from", f"s2={nodes['s2'].url}"]) == 0  # fmt: skip
    removed = orjson.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert removed["moved"] == removed["moved_from"]["s2"] > 0  # only the leaving shard's
    assert sum(removed["counts"].values()) == len(live_ids(demo))
    three = sharded_config(nodes, demo, NAMES, index)
    with MeiliClient(three.meilisearch.shard_config(three.meilisearch.shards[2])) as s2:
        assert not s2.index_exists(index)

    write_config(path, nodes, demo, NAMES, index)
    assert main(["reshard", "--config", str(path), "--index", index]) == 0
    added = orjson.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert added["moved"] == removed["moved"] == added["counts"]["s2"]
    with Runner(three.source, three.meilisearch).session() as session:
        assert session.check(three.indexes[0]).consistent


def write_config(
    path: Path,
    nodes: dict[str, MeilisearchProcess],
    db: Path,
    names: tuple[str, ...],
    index: str,
) -> None:
    """The configuration file of ``sharded_config``, for the command line."""
    config = sharded_config(nodes, db, names, index)
    raw = {
        "source": {"url": config.source.url},
        "meilisearch": {
            "shards": [{"name": s.name, "url": s.url} for s in config.meilisearch.shards]
        },
        "indexes": [config.indexes[0].model_dump(mode="json", exclude_defaults=True)],
    }
    path.write_text(yaml.safe_dump(raw))


def test_a_sync_after_a_shard_left_wins_over_the_copy_moving(
    synced: tuple[AppConfig, Runner, str],
    nodes: dict[str, MeilisearchProcess],
    demo: Path,
    tmp_path: Path,
) -> None:
    """s2 leaves; before reshard runs, an incremental writes a newer version of one of its
    documents to that document's new shard; reshard keeps the newer version."""
    three, _, index = synced
    two = sharded_config(nodes, demo, NAMES[:2], index)
    on_s2 = sorted(i for i in live_ids(demo) if shard_of(i, NAMES) == "s2")[0]
    engine = sa.create_engine(f"sqlite:///{demo}")
    with engine.begin() as c:
        c.exec_driver_sql(
            "UPDATE PRODUCTS SET NAME = 'Newer Kettle', UPDATED_AT = '2030-01-01 00:00:00' "
            f"WHERE PRODUCT_ID = {on_s2}"
        )
    engine.dispose()
    sync_two = runner(two, tmp_path / "state.json")
    sync_two.run(two.indexes[0], "incremental")
    leaving = {"s2": three.meilisearch.shard_config(three.meilisearch.shards[2])}
    with sync_two.session() as session:
        result = session.reshard(two.indexes[0], leaving=leaving)
        assert result.moved == result.moved_from["s2"]
        assert session.client.document(index, on_s2)["name"] == "Newer Kettle"
        assert session.check(two.indexes[0]).consistent


def test_a_row_deleted_after_its_shard_left_stays_deleted_after_reshard(
    synced: tuple[AppConfig, Runner, str],
    nodes: dict[str, MeilisearchProcess],
    demo: Path,
    tmp_path: Path,
) -> None:
    """s2 leaves. A row of s2's is changed (the sync writes it to its new shard), then
    deleted in the source (the sync deletes it there), and another row of s2's is deleted
    without having changed: neither comes back when reshard moves s2's documents, and no
    search finds them."""
    three, _, index = synced
    two = sharded_config(nodes, demo, NAMES[:2], index)
    changed, untouched = sorted(i for i in live_ids(demo) if shard_of(i, NAMES) == "s2")[:2]
    engine = sa.create_engine(f"sqlite:///{demo}")

    def execute(statement: str) -> None:
        with engine.begin() as c:
            c.exec_driver_sql(statement)

    sync_two = runner(two, tmp_path / "state.json")
    execute(
        "UPDATE PRODUCTS SET NAME = 'Zyxwv Kettle', UPDATED_AT = '2030-01-01 00:00:00' "
        f"WHERE PRODUCT_ID = {changed}"
    )
    sync_two.run(two.indexes[0], "incremental")
    execute(
        "UPDATE PRODUCTS SET IS_DELETED = 'Y', UPDATED_AT = '2030-01-02 00:00:00' "
        f"WHERE PRODUCT_ID IN ({changed}, {untouched})"
    )
    sync_two.run(two.indexes[0], "incremental")
    engine.dispose()
    leaving = {"s2": three.meilisearch.shard_config(three.meilisearch.shards[2])}
    with sync_two.session() as session:
        session.reshard(two.indexes[0], leaving=leaving)
        held = ids_by_shard(session.client, index)  # type: ignore[arg-type]
        assert changed not in held["s0"] | held["s1"]
        assert untouched not in held["s0"] | held["s1"]
        assert not hit_ids(session.client, index, "Zyxwv")  # type: ignore[arg-type]
        assert session.check(two.indexes[0]).consistent
    # Nothing left on the server that left, either.
    with MeiliClient(leaving["s2"]) as gone:
        assert not gone.index_exists(index)


def test_a_sharded_task_is_each_shards_own_and_another_client_waits_for_it(
    synced: tuple[AppConfig, Runner, str],
) -> None:
    """A payload's task names each shard's real task uid, so a second client (a process
    resuming from a checkpoint) waits for the same tasks; a task of shards it does not have
    counts as not landed."""
    config, _, index = synced
    ids = [900_000 + i for i in range(30)]
    payload = b"".join(orjson.dumps({"product_id": i, "name": f"Widget {i}"}) + b"\n" for i in ids)
    with ShardedClient(config.meilisearch) as writer:
        task = writer.add_documents(index, payload, primary_key="product_id")
    parts = ShardTasks.decode(task)
    assert parts is not None and set(parts) == set(NAMES)
    with ShardedClient(config.meilisearch) as resumed:
        assert resumed.wait(task, index)["receivedDocuments"] == 30
        for name, uid in parts.items():  # Meilisearch's own task, on that shard
            assert resumed.nodes[name].wait(uid, index)["receivedDocuments"] == sum(
                shard_of(i, NAMES) == name for i in ids
            )
        with pytest.raises(MeilisearchTaskError, match="not a task of the configured shards"):
            resumed.wait("gone:1", index)


def test_a_delete_reaches_a_document_off_its_hashed_shard(
    synced: tuple[AppConfig, Runner, str],
) -> None:
    """A document a change of shards left on another shard than its hash picks is deleted
    there too."""
    config, _, index = synced
    with ShardedClient(config.meilisearch) as client:
        document_id = 950_001
        elsewhere = next(n for n in NAMES if n != shard_of(document_id, NAMES))
        node = client.nodes[elsewhere]
        node.wait(
            node.add_documents(
                index, orjson.dumps({"product_id": document_id}) + b"\n", primary_key="product_id"
            ),
            index,
        )
        client.wait(client.delete_documents(index, [document_id]), index)
        assert not node.existing_ids(index, [document_id], id_field="product_id")


def test_settings_drift_compares_every_shard(synced: tuple[AppConfig, Runner, str]) -> None:
    """A setting changed on one shard by hand is found there, and only there."""
    config, sync, index = synced
    with sync.session() as session:
        assert session.settings_drift(config.indexes[0]) == []
        node = session.client.nodes["s1"]  # type: ignore[attr-defined]
        node.wait(node.update_settings(index, {"stopWords": ["the"]}), index)
        (difference,) = session.settings_drift(config.indexes[0])
    assert (difference.key, difference.server) == ("stopWords", "s1")
    assert (difference.configured, difference.live) == ([], ["the"])


def test_apply_settings_runs_on_every_shard(synced: tuple[AppConfig, Runner, str]) -> None:
    """Each shard gets a new index with the configured settings, from its own documents:
    every document stays on its shard, and the federated search sees the change."""
    config, sync, index = synced
    settings = {**config.indexes[0].settings, "synonyms": {"zyxwv": ["kettle"]}}
    changed = config.model_copy(
        update={"indexes": (config.indexes[0].model_copy(update={"settings": settings}),)}
    )
    with sync.session() as session:
        held = ids_by_shard(session.client, index)  # type: ignore[arg-type]
        assert not hit_ids(session.client, index, "zyxwv")  # type: ignore[arg-type]
        result = session.apply_settings(changed.indexes[0])
        assert (result.how, result.changed) == ("copy", ("synonyms",))
        assert session.settings_drift(changed.indexes[0]) == []
        assert ids_by_shard(session.client, index) == held  # type: ignore[arg-type]
        assert hit_ids(session.client, index, "zyxwv")  # type: ignore[arg-type]


def test_reconcile_deletes_orphans_on_their_shards(
    synced: tuple[AppConfig, Runner, str], demo: Path
) -> None:
    config, sync, _ = synced
    engine = sa.create_engine(f"sqlite:///{demo}")
    with engine.begin() as c:
        c.exec_driver_sql("DELETE FROM PRODUCTS WHERE PRODUCT_ID IN (101, 102, 103, 104)")
    engine.dispose()
    with sync.session() as session:
        result = session.reconcile(config.indexes[0])
        assert result.orphans == 4 and result.deleted
        assert session.check(config.indexes[0]).consistent


def hit_ids(client: ShardedClient, uid: str, query: str) -> set[int]:
    return {hit["product_id"] for hit in client.search(uid, query, limit=1000)["hits"]}


def test_the_docs_federated_search_counts_every_shard(
    nodes: dict[str, MeilisearchProcess], demo: Path, tmp_path: Path
) -> None:
    """docs/sharding.md's multi-search body, sent to one node after a sharded sync of the
    demo table into `products`."""
    (shown,) = [b for b in blocks("json") if '"federationOptions"' in b.text]
    body = orjson.loads(shown.text)
    config = sharded_config(nodes, demo, NAMES, "products")
    runner(config, tmp_path / "state.json").run(config.indexes[0], "full")
    shards = [MeiliClient(config.meilisearch.shard_config(s)) for s in config.meilisearch.shards]
    # What each shard holds for the query, asked alone.
    own = [node.search("products", "이어폰")["estimatedTotalHits"] for node in shards]
    assert all(own)
    for node in shards:  # sent to any node, it answers for all of them
        found = node.multi_search(body["queries"], body.get("federation", {}))
        assert found["estimatedTotalHits"] == sum(own)
        assert {hit["_federation"]["remote"] for hit in found["hits"]} <= set(NAMES)
        assert all("이어폰" in hit["name"] + hit["description"] for hit in found["hits"])
        node.close()


def test_a_dagster_run_syncs_the_shards(
    nodes: dict[str, MeilisearchProcess],
    demo: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The resource carries the shards; their keys come from the run's environment."""
    index = f"t_{uuid.uuid4().hex[:10]}"
    config = sharded_config(nodes, demo, NAMES, index)
    for name in NAMES:
        monkeypatch.setenv(shard_key_variable(name), nodes[name].master_key)
    resources = build_resources(config)
    result = dg.materialize(
        [build_index_asset(config.indexes[0])],
        partition_key="full",
        instance=dg.DagsterInstance.ephemeral(),
        resources=resources,
    )
    assert result.success
    with Runner(config.source, config.meilisearch).session() as session:
        assert isinstance(session.client, ShardedClient)
        counts = session.client.counts(index)
    assert all(counts.values()) and sum(counts.values()) == len(live_ids(demo))
    # No key in the resource's configuration, which the UI shows.
    shown = str(resources["meilisearch"])
    assert not any(nodes[name].master_key in shown for name in NAMES)

    # s2 leaves: the reshard job of the two-shard configuration moves its documents.
    two = sharded_config(nodes, demo, NAMES[:2], index)
    definitions = build_definitions(two, os.environ)
    job = definitions.resolve_job_def("reshard_index")
    leaving = {"index": index, "leaving": {"s2": nodes["s2"].url}}
    run = job.execute_in_process(
        run_config={"ops": {"reshard_index_op": {"config": leaving}}},
        instance=dg.DagsterInstance.ephemeral(),
    )
    assert run.success
    (observation,) = [
        e.asset_observation_data.asset_observation
        for e in run.all_events
        if e.event_type == dg.DagsterEventType.ASSET_OBSERVATION
    ]
    meta = {k: v.value for k, v in observation.metadata.items()}
    assert meta[ReshardMetadata.key("documents_moved")] == counts["s2"]
    per_shard = meta[ReshardMetadata.key("documents_per_shard")]
    assert isinstance(per_shard, dict) and sum(per_shard.values()) == len(live_ids(demo))
    # Without shards, no reshard job.
    single = parse_config(
        {
            "source": {"url": f"sqlite:///{demo}"},
            "indexes": [{"name": index, "table": "PRODUCTS", "primary_key": "PRODUCT_ID"}],
        },
        environ={},
    )
    assert "reshard_index" not in {
        j.name for j in build_definitions(single, {}).resolve_all_job_defs()
    }


def test_a_sliced_full_sync_onto_shards(
    nodes: dict[str, MeilisearchProcess], demo: Path, tmp_path: Path
) -> None:
    """parallel: 3 and three shards: each worker process splits its payloads by shard."""
    index = f"t_{uuid.uuid4().hex[:10]}"
    config = sharded_config(nodes, demo, NAMES, index)
    sliced = config.indexes[0].model_copy(update={"parallel": 3, "batch_size": 200})
    result = runner(config, tmp_path / "state.json").run(sliced, "full")
    assert result.index_document_count == len(live_ids(demo))
    with Runner(config.source, config.meilisearch).session() as session:
        assert isinstance(session.client, ShardedClient)
        placed = ids_by_shard(session.client, index)
        assert all(shard_of(i, NAMES) == name for name, ids in placed.items() for i in ids)
        assert session.check(sliced).consistent


def test_check_reads_only_and_leaves_the_network_as_it_is(
    synced: tuple[AppConfig, Runner, str], nodes: dict[str, MeilisearchProcess]
) -> None:
    """`check` is read-only: the shards' `network` is a sync's to set, not a check's."""
    config, sync, _ = synced

    def network(name: str, method: str = "GET", body: dict[str, Any] | None = None) -> Any:
        answer = requests.request(
            method,
            f"{nodes[name].url}/network",
            json=body,
            headers={"Authorization": f"Bearer {nodes[name].master_key}"},
            timeout=10,
        )
        answer.raise_for_status()
        return answer.json()

    for name in NAMES:
        network(name, "PATCH", {"self": f"{name}-as-left"})
    with sync.session() as session:
        assert session.check(config.indexes[0]).consistent
    assert [network(name)["self"] for name in NAMES] == [f"{n}-as-left" for n in NAMES]


def test_an_upload_to_a_shard_that_stopped_answering_names_the_shard(
    nodes: dict[str, MeilisearchProcess], demo: Path
) -> None:
    """A shard that dies between a sync's health check and its payloads: the error names
    the shard, not only its URL."""
    config = sharded_config(nodes, demo, ("s0", "s1"), f"t_{uuid.uuid4().hex[:10]}")
    gone = config.meilisearch.shards[1].model_copy(
        update={"url": f"http://127.0.0.1:{free_port()}"}
    )
    meilisearch = config.meilisearch.model_copy(
        update={"shards": (config.meilisearch.shards[0], gone), "timeout_seconds": 2}
    )
    payload = b"".join(orjson.dumps({"product_id": n}) + b"\n" for n in range(50))
    with ShardedClient(meilisearch) as client, pytest.raises(MeilisearchUnavailableError) as e:
        client.add_documents(config.indexes[0].name, payload, primary_key="product_id")
    assert str(e.value).startswith("shard 's1': ")
