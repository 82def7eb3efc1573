"""Dagster resources: the source database and the Meilisearch server.

Each resource only holds settings; connections are opened inside a run and closed at its
end. Secrets (passwords, API keys) are given as ``EnvVar`` so they never show in the UI.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

import dagster as dg
from pydantic import BaseModel, Field, SecretStr

from oracle_meili.config import (
    DEFAULT_MAX_PAYLOAD_BYTES,
    DEFAULT_MEILI_URL,
    DEFAULT_ORACLE_PORT,
    AppConfig,
    MeilisearchConfig,
    OracleSettings,
    SourceConfig,
    environment,
    shard_keys,
)
from oracle_meili.defs.names import DEFAULT_NAMES, Names
from oracle_meili.engine.runner import Runner
from oracle_meili.engine.state import StateStore


class HasResources(Protocol):
    """An op's, asset's, check's or sensor's context."""

    @property
    def resources(self) -> Any: ...


class SourceResource(dg.ConfigurableResource):  # type: ignore[type-arg]
    """A database the index assets read from."""

    def settings(self) -> SourceConfig:
        """The engine's source settings (secrets resolved from the environment)."""
        raise NotImplementedError(f"{type(self).__name__} must implement settings()")


class SqlAlchemySourceResource(SourceResource):
    """Any SQLAlchemy database by URL (the embedded demo uses SQLite)."""

    url: str = Field(description="SQLAlchemy URL, e.g. sqlite:///demo/demo.db.")

    def settings(self) -> SourceConfig:
        return SourceConfig(url=self.url)


class OracleResource(SourceResource):
    """Oracle Database through python-oracledb in thin mode, with a session pool per run."""

    user: str = Field(description="Database user the sync reads as.")
    password: str = Field(description="Password; give it as EnvVar('ORACLE_PASSWORD').")
    dsn: str | None = Field(default=None, description="Full DSN or Easy Connect string.")
    host: str | None = Field(default=None, description="Listener host (when no DSN).")
    port: int = Field(default=DEFAULT_ORACLE_PORT, description="Listener port.")
    service_name: str | None = Field(default=None, description="Service name (when no DSN).")
    sid: str | None = Field(default=None, description="SID, for databases without a service.")
    protocol: str = Field(default="tcp", description="tcp, or tcps for TLS.")
    wallet_dir: str | None = Field(default=None, description="Folder of the TCPS wallet.")
    wallet_password: str | None = Field(
        default=None, description="Wallet password; give it as EnvVar('ORACLE_WALLET_PASSWORD')."
    )
    client_lib_dir: str | None = Field(
        default=None, description="Oracle Client libraries: python-oracledb thick mode."
    )
    connect_timeout_seconds: float = Field(
        default=15.0, description="Longest wait for the database to answer a new connection."
    )
    pool_min: int = Field(default=1, description="Sessions the pool opens at start.")
    pool_max: int = Field(default=4, description="Most sessions the pool may hold.")
    pool_increment: int = Field(default=1, description="Sessions opened at a time when growing.")

    def settings(self) -> SourceConfig:
        """Every field of this resource, by the same name, as the engine's Oracle record."""
        oracle = OracleSettings.model_validate(
            {name: getattr(self, name) for name in OracleSettings.model_fields}
        )
        return SourceConfig(oracle=oracle)


class ShardResource(dg.Config):
    """One Meilisearch server of a sharded deployment."""

    name: str
    url: str


class MeilisearchResource(dg.ConfigurableResource):  # type: ignore[type-arg]
    """A Meilisearch server."""

    url: str = Field(default=DEFAULT_MEILI_URL, description="Base URL, http:// or https://.")
    api_key: str | None = Field(
        default=None, description="API key; give it as EnvVar('MEILI_API_KEY')."
    )
    timeout_seconds: float = Field(default=30.0, description="HTTP request timeout.")
    task_timeout_seconds: float = Field(
        default=3600.0, description="Longest wait for one Meilisearch task."
    )
    max_payload_bytes: int = Field(
        default=DEFAULT_MAX_PAYLOAD_BYTES, description="Largest NDJSON payload per task."
    )
    max_tasks_in_flight: int = Field(default=4, description="Tasks enqueued before waiting.")
    retries: int = Field(default=3, description="Retries of a transient failure (0: none).")
    shards: list[ShardResource] = Field(
        default_factory=list,
        description="Several servers, one shard each (keys: MEILI_API_KEY_<NAME>).",
    )

    def settings(self) -> MeilisearchConfig:
        """The engine's settings record: every field of this resource, by the same name, and
        each shard's keys from the environment (never a field: they would show in the UI)."""
        return MeilisearchConfig.model_validate(
            {
                **{name: getattr(self, name) for name in type(self).model_fields},
                "shards": [{"name": s.name, "url": s.url} for s in self.shards],
                **shard_keys([s.name for s in self.shards], environment()),
            }
        )


class NoValueIOManager(dg.ConfigurableIOManager):
    """Stores nothing and loads None: the sliced sync's steps pass their state through the
    instance, so no output needs a disk that every step can see."""

    def handle_output(self, context: dg.OutputContext, obj: object) -> None:
        if obj is not None:
            raise dg.Failure(f"{context.step_key}: a sliced sync step returned a value")

    def load_input(self, context: dg.InputContext) -> None:
        return None


def runner_over(
    source: SourceResource,
    meilisearch: MeilisearchResource,
    *,
    state: StateStore | None = None,
    probe: bool = False,
) -> Runner:
    """The engine's runner over the two resources; ``probe`` keeps the source engine open
    across sensor ticks."""
    return Runner(source.settings(), meilisearch.settings(), state=state, keep_source_open=probe)


def bound_runner(
    context: HasResources, names: Names, *, state: StateStore | None = None, probe: bool = False
) -> Runner:
    """:func:`runner_over` the resources an op, asset, check or sensor was given under the
    keys of ``names``."""
    return runner_over(
        source_of(context, names), meilisearch_of(context, names), state=state, probe=probe
    )


def source_of(context: HasResources, names: Names) -> SourceResource:
    found: SourceResource = getattr(context.resources, names.source)
    return found


def meilisearch_of(context: HasResources, names: Names) -> MeilisearchResource:
    found: MeilisearchResource = getattr(context.resources, names.meilisearch)
    return found


def resource_keys(names: Names) -> set[str]:
    """The resources an op, asset, check or sensor of oracle-meili requires."""
    return {names.source, names.meilisearch}


def build_resources(
    config: AppConfig, environ: Mapping[str, str], names: Names = DEFAULT_NAMES
) -> dict[str, object]:
    """The source and Meilisearch resources, secrets behind ``EnvVar``, and the IO manager
    of a sliced sync's steps, under the keys of ``names``."""
    source: SourceResource
    if config.source.url is not None:
        source = SqlAlchemySourceResource(url=config.source.url)
    else:
        oracle = config.source.oracle
        assert oracle is not None
        # Every setting passes by name; the secrets as EnvVar, so they never show in the UI.
        source = OracleResource(
            **{
                **plain_settings(oracle),
                "password": dg.EnvVar("ORACLE_PASSWORD"),
                "wallet_password": dg.EnvVar("ORACLE_WALLET_PASSWORD")
                if oracle.wallet_password is not None
                else None,
            }
        )
    meili = config.meilisearch
    api_key = dg.EnvVar("MEILI_API_KEY") if environ.get("MEILI_API_KEY") else None
    return {
        names.source: source,
        names.meilisearch: MeilisearchResource(
            **{
                name: getattr(meili, name)
                for name in MeilisearchResource.model_fields
                if name not in ("api_key", "shards")
            },
            api_key=api_key,
            shards=[ShardResource(name=s.name, url=s.url) for s in meili.shards],
        ),
        # The outputs between a sliced sync's steps: no value, no file (defs/sliced.py).
        names.step_io: NoValueIOManager(),
    }


def plain_settings(record: BaseModel) -> dict[str, Any]:
    """A settings record's fields, secrets left out (they are passed as EnvVar)."""
    return {
        name: value
        for name, value in record
        if not isinstance(value, SecretStr) and name not in ("password", "wallet_password")
    }
