"""The resources carry every configured setting to the engine's records, secrets as EnvVar."""

from __future__ import annotations

from typing import Any

import dagster as dg
import pytest

from oracle_meili.adapters.oracle import PoolSettings
from oracle_meili.config import parse_config
from oracle_meili.defs.resources import (
    MeilisearchResource,
    OracleResource,
    ShardResource,
    build_resources,
)

ORACLE_ENV = {
    "ORACLE_USER": "sync",
    "ORACLE_PASSWORD": "secret-pw",
    "ORACLE_DSN": "db.example/FREEPDB1",
    "ORACLE_POOL_MAX": "9",
    "MEILI_API_KEY": "secret-key",
}
INDEX = {"name": "p", "table": "P", "primary_key": "ID"}


def test_meilisearch_settings_reach_dagster_as_configured() -> None:
    """`meilisearch.retries: 0` and every other setting reach Dagster runs."""
    raw = {
        "source": {"url": "sqlite:///x.db"},
        "meilisearch": {"retries": 0, "max_tasks_in_flight": 2, "timeout_seconds": 7},
        "indexes": [INDEX],
    }
    config = parse_config(raw, environ={})
    resource = build_resources(config)["meilisearch"]
    assert isinstance(resource, MeilisearchResource)
    assert resource.settings() == config.meilisearch
    assert resource.settings().retries == 0


def test_oracle_pool_sizes_come_from_the_file_and_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The pool sizes come from the file and the environment; the resource gives the engine
    the record the loader made, its password read when the run starts."""
    raw = {"source": {"pool": {"min": 2, "increment": 2}}, "indexes": [INDEX]}
    config = parse_config(raw, environ=ORACLE_ENV)
    oracle = config.source.oracle
    assert oracle is not None
    assert (oracle.pool_min, oracle.pool_max, oracle.pool_increment) == (2, 9, 2)
    pool = PoolSettings.of(oracle)
    assert (pool.min, pool.max, pool.increment) == (2, 9, 2)
    source = build_resources(config)["source"]
    assert isinstance(source, OracleResource)
    # The password is an EnvVar reference in the definitions: what the UI shows is its name.
    password: Any = getattr(source, "password")  # noqa: B009 (a derived field)
    assert isinstance(password, dg.EnvVar) and password.env_var_name == "ORACLE_PASSWORD"
    monkeypatch.setenv("ORACLE_PASSWORD", "secret-pw")

    @dg.asset
    def reads(source: dg.ResourceParam[Any]) -> None:
        assert source.settings().oracle == oracle

    assert dg.materialize([reads], resources={"source": source}).success


def test_a_setting_of_the_engine_s_record_is_a_field_of_the_resource() -> None:
    """The resources take the records' settings by name, with their descriptions (what the
    UI shows), and give the record back."""
    described = OracleResource.model_fields["connect_timeout_seconds"].description
    assert described and "wait" in described
    resource = OracleResource(
        user="u",
        password="p",
        host="db",
        service_name="S",
        protocol="tcps",
        connect_timeout_seconds=3,
    )
    oracle = resource.settings().oracle
    assert oracle is not None
    assert (oracle.target, oracle.connect_timeout_seconds) == ("tcps://db:1521/S", 3)
    shards = [
        ShardResource(name="a", url="http://a:7700"),
        ShardResource(name="b", url="http://b:7700"),
    ]
    meili = MeilisearchResource(shards=shards, retries=1).settings()
    assert [s.name for s in meili.shards] == ["a", "b"] and meili.retries == 1


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"user": "u", "password": "p"}, "give dsn, or host and service_name"),
        ({"user": "u", "password": "p", "dsn": "d", "pool_max": 0}, "pool_max"),
    ],
)
def test_a_resource_s_settings_are_checked_by_the_engine_s_record(
    fields: dict[str, Any], message: str
) -> None:
    """Constraints are the record's, checked when the resource builds it."""
    with pytest.raises(ValueError, match=message):
        OracleResource(**fields).settings()
