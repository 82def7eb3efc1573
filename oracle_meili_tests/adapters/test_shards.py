"""Which shard a document goes to, and the shards' settings (no server needed)."""

from __future__ import annotations

from collections import Counter

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from oracle_meili.adapters.shard_routing import ndjson_lines, shard_of
from oracle_meili.adapters.shards import ShardedClient
from oracle_meili.config import leaving_servers, parse_config
from oracle_meili.errors import ConfigError

IDS = st.one_of(st.integers(-(2**53), 2**53), st.from_regex(r"[A-Za-z0-9_-]{1,30}", fullmatch=True))
NAMES = st.lists(
    st.from_regex(r"[a-z0-9]{1,8}", fullmatch=True), min_size=2, max_size=6, unique=True
)


@settings(max_examples=300)
@given(document_id=IDS, names=NAMES, new=st.from_regex(r"[A-Z]{1,8}", fullmatch=True))
def test_adding_a_shard_moves_documents_only_to_it(
    document_id: int | str, names: list[str], new: str
) -> None:
    before = shard_of(document_id, names)
    after = shard_of(document_id, [*names, new])
    assert before in names
    assert after in (before, new)
    # The order the shards are listed in does not matter.
    assert shard_of(document_id, list(reversed(names))) == before


@settings(max_examples=300)
@given(document_id=IDS, names=NAMES, data=st.data())
def test_removing_a_shard_moves_only_its_documents(
    document_id: int | str, names: list[str], data: st.DataObject
) -> None:
    gone = data.draw(st.sampled_from(names))
    before = shard_of(document_id, names)
    after = shard_of(document_id, [n for n in names if n != gone])
    assert after == before or before == gone


@pytest.mark.parametrize("shards", [2, 3, 5])
def test_documents_spread_evenly(shards: int) -> None:
    """Ten thousand ids, as a sync makes them (integers and text keys): each shard within
    10 % of its share, and one more shard takes about 1/(N+1) of them."""
    names = [f"node-{n}" for n in range(shards)]
    ids: list[int | str] = [*range(5000), *(f"SKU-{n:05d}" for n in range(5000))]
    counts = Counter(shard_of(i, names) for i in ids)
    share = len(ids) / shards
    assert all(abs(counts[n] - share) < 0.1 * share for n in names)
    moved = sum(shard_of(i, names) != shard_of(i, [*names, "extra"]) for i in ids)
    assert abs(moved - len(ids) / (shards + 1)) < 0.1 * len(ids) / (shards + 1)


def raw_config(**meilisearch: object) -> dict[str, object]:
    return {
        "source": {"url": "sqlite:///x.db"},
        "meilisearch": meilisearch,
        "indexes": [{"name": "products", "table": "PRODUCTS", "primary_key": "ID"}],
    }


SHARDS = [
    {"name": "eu-1", "url": "http://10.0.0.1:7700"},
    {"name": "eu-2", "url": "http://10.0.0.2:7700"},
]


def test_each_shard_takes_its_keys_from_the_environment() -> None:
    environ = {
        "MEILI_API_KEY": "shared",
        "MEILI_API_KEY_EU_1": "key-one",
        "MEILI_SEARCH_KEY_EU_1": "search-one",
    }
    config = parse_config(raw_config(shards=SHARDS), environ=environ).meilisearch
    one, two = config.shards
    own = config.shard_config(one).api_key
    assert own is not None and own.get_secret_value() == "key-one"
    shared = config.shard_config(two).api_key
    assert shared is not None and shared.get_secret_value() == "shared"
    assert (config.search_key(one), config.search_key(two)) == ("search-one", "shared")
    client = ShardedClient(config)
    assert client.names == ("eu-1", "eu-2")
    assert client.nodes["eu-2"].url == "http://10.0.0.2:7700"
    client.close()


@pytest.mark.parametrize(
    ("shards", "message"),
    [
        ([SHARDS[0]], "list two or more servers"),
        ([SHARDS[0], SHARDS[0]], "names must differ"),
        ([{"name": "eu 1", "url": "http://x"}, SHARDS[1]], "shards.0: name: A-Z"),
        ([{"name": "eu-1", "url": "10.0.0.1:7700"}, SHARDS[1]], "url: must start with http"),
        ([{**SHARDS[0], "api_key": "secret"}, SHARDS[1]], "set MEILI_API_KEY_EU_1"),
    ],
)
def test_bad_shards_are_named(shards: list[dict[str, str]], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_config(raw_config(shards=shards), environ={})


def test_a_server_leaving_the_shards_is_checked_and_takes_its_own_key() -> None:
    config = parse_config(raw_config(shards=SHARDS), environ={"MEILI_API_KEY": "shared"})
    environ = {"MEILI_API_KEY_EU_3": "key-three"}
    (leaving,) = leaving_servers(
        config.meilisearch, {"eu-3": "http://10.0.0.3:7700"}, environ
    ).values()
    assert leaving.url == "http://10.0.0.3:7700"
    assert leaving.api_key is not None and leaving.api_key.get_secret_value() == "key-three"
    with pytest.raises(ConfigError, match="server leaving the shards: url: must start with http"):
        leaving_servers(config.meilisearch, {"eu-3": "10.0.0.3:7700"}, environ)


@settings(max_examples=200)
@given(
    ids=st.lists(IDS, max_size=20),
    text=st.text(max_size=20),
    trailing=st.booleans(),
)
def test_a_payload_splits_into_its_documents(
    ids: list[int | str], text: str, trailing: bool
) -> None:
    """How a sharded payload is read line by line: every document once, in order, whatever
    its text holds (escaped newlines, Korean), the last line with or without its newline."""
    lines = [orjson.dumps({"id": i, "text": f"{text}\n{n}"}) + b"\n" for n, i in enumerate(ids)]
    payload = bytearray(b"".join(lines))
    if not trailing and payload:
        payload = payload[:-1]
    found = [orjson.loads(line) for line in ndjson_lines(memoryview(payload))]
    assert [d["id"] for d in found] == ids
