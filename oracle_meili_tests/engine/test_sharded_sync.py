"""Sharded indexes: one index over three real Meilisearch servers (``meilisearch.shards``).

Each server has a key of its own, given as ``MEILI_API_KEY_<NAME>``, as in production.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from oracle_meili.adapters.meili import MeiliClient
from oracle_meili.adapters.server import MeilisearchProcess, free_port
from oracle_meili.adapters.shards import ShardedClient, shard_of
from oracle_meili.config import AppConfig, parse_config, shard_key_variable
from oracle_meili.demo import create_demo
from oracle_meili.engine.runner import Runner
from oracle_meili.engine.state import StateFile
from oracle_meili.errors import MeilisearchUnavailableError

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


def test_removing_a_shard_moves_its_documents_to_the_others(
    nodes: dict[str, MeilisearchProcess], demo: Path, tmp_path: Path
) -> None:
    index = f"t_{uuid.uuid4().hex[:10]}"
    three = sharded_config(nodes, demo, NAMES, index)
    runner(three, tmp_path / "state.json").run(three.indexes[0], "full")
    two = sharded_config(nodes, demo, NAMES[:2], index)
    leaving = {"s2": three.meilisearch.shard_config(three.meilisearch.shards[2])}
    with Runner(two.source, two.meilisearch).session() as session:
        client = session.client
        assert isinstance(client, ShardedClient)
        result = session.reshard(two.indexes[0], leaving=leaving)
        assert set(result.moved_from) == {"s0", "s1", "s2"}
        assert result.moved == result.moved_from["s2"]  # only the leaving shard's documents
        assert set().union(*ids_by_shard(client, index).values()) == live_ids(demo)
        assert session.check(two.indexes[0]).consistent
    with MeiliClient(leaving["s2"]) as s2:
        assert not s2.index_exists(index)


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
