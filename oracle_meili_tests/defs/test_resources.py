"""The resources carry every configured setting to the engine's records, secrets as EnvVar."""

from __future__ import annotations

import dagster as dg

from oracle_meili.adapters.oracle import PoolSettings
from oracle_meili.config import MeilisearchConfig, OracleSettings, parse_config
from oracle_meili.defs.resources import MeilisearchResource, OracleResource, build_resources

ORACLE_ENV = {
    "ORACLE_USER": "sync",
    "ORACLE_PASSWORD": "secret-pw",
    "ORACLE_DSN": "db.example/FREEPDB1",
    "ORACLE_POOL_MAX": "9",
    "MEILI_API_KEY": "secret-key",
}


def test_resources_have_exactly_the_settings_fields() -> None:
    """A new setting added to one side and not the other fails here."""
    assert set(OracleResource.model_fields) == set(OracleSettings.model_fields)
    # The shards' keys are read from the run's environment, never resource fields (which
    # the UI shows).
    secrets = {"shard_api_keys", "shard_search_keys"}
    assert set(MeilisearchResource.model_fields) == set(MeilisearchConfig.model_fields) - secrets


def test_meilisearch_retries_zero_reaches_dagster() -> None:
    """`meilisearch.retries: 0` reaches Dagster runs."""
    raw = {
        "source": {"url": "sqlite:///x.db"},
        "meilisearch": {"retries": 0, "max_tasks_in_flight": 2},
        "indexes": [{"name": "p", "table": "P", "primary_key": "ID"}],
    }
    config = parse_config(raw, environ={})
    resource = build_resources(config, {})["meilisearch"]
    assert isinstance(resource, MeilisearchResource)
    assert resource.settings() == config.meilisearch
    assert resource.settings().retries == 0


def test_oracle_pool_sizes_come_from_the_file_and_the_environment() -> None:
    """The pool sizes come from the file and the environment."""
    raw = {
        "source": {"pool": {"min": 2, "increment": 2}},
        "indexes": [{"name": "p", "table": "P", "primary_key": "ID"}],
    }
    config = parse_config(raw, environ=ORACLE_ENV)
    oracle = config.source.oracle
    assert oracle is not None
    assert (oracle.pool_min, oracle.pool_max, oracle.pool_increment) == (2, 9, 2)
    resources = build_resources(config, ORACLE_ENV)
    source = resources["source"]
    assert isinstance(source, OracleResource)
    # Secrets stay EnvVar references in the definitions; the values resolve at run time.
    assert isinstance(source.password, dg.EnvVar) or source.password == "secret-pw"
    pool = PoolSettings.of(oracle)
    assert (pool.min, pool.max, pool.increment) == (2, 9, 2)
    settings = source.settings().oracle
    assert settings is not None
    assert settings.model_dump(exclude={"password"}) == oracle.model_dump(exclude={"password"})
