"""Dagster resources: the source database and the Meilisearch server.

Each resource only holds settings; connections are opened inside a run and closed at its
end. Secrets (passwords, API keys) are given as ``EnvVar`` so they never show in the UI.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import dagster as dg
import sqlalchemy as sa
from pydantic import Field

from oracle_meili.adapters.database import PROBE_ENGINES, source_engine
from oracle_meili.adapters.meili import MeiliClient
from oracle_meili.adapters.oracle import PoolSettings, oracle_engine
from oracle_meili.config import (
    DEFAULT_MAX_PAYLOAD_BYTES,
    DEFAULT_MEILI_URL,
    DEFAULT_ORACLE_PORT,
    MeilisearchConfig,
    OracleSettings,
    SourceConfig,
)


class SourceResource(dg.ConfigurableResource):  # type: ignore[type-arg]
    """A database the index assets read from."""

    @contextmanager
    def engine(self) -> Iterator[sa.Engine]:
        """A SQLAlchemy engine, open for the duration of the ``with`` block."""
        raise NotImplementedError(f"{type(self).__name__} must implement engine()")
        yield  # pragma: no cover

    @contextmanager
    def probe_engine(self) -> Iterator[sa.Engine]:
        """An engine kept open across sensor ticks (one per database, closed when idle)."""
        with PROBE_ENGINES.engine(self.identity(), self.engine) as engine:
            yield engine

    def identity(self) -> str:
        """Which database this is, without secrets (the key of the kept probe engine)."""
        raise NotImplementedError(f"{type(self).__name__} must implement identity()")


class SqlAlchemySourceResource(SourceResource):
    """Any SQLAlchemy database by URL (the embedded demo uses SQLite)."""

    url: str = Field(description="SQLAlchemy URL, e.g. sqlite:///demo/demo.db.")

    @contextmanager
    def engine(self) -> Iterator[sa.Engine]:
        with source_engine(SourceConfig(url=self.url)) as engine:
            yield engine

    def identity(self) -> str:
        return sa.make_url(self.url).render_as_string(hide_password=True)


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

    def settings(self) -> OracleSettings:
        """The engine's settings record: every field of this resource, by the same name
        (oracle_meili_tests/defs/test_resources.py keeps the two in step)."""
        return OracleSettings.model_validate(
            {name: getattr(self, name) for name in OracleSettings.model_fields}
        )

    @contextmanager
    def engine(self) -> Iterator[sa.Engine]:
        settings = self.settings()
        with oracle_engine(settings, pool=PoolSettings.of(settings)) as engine:
            yield engine

    def identity(self) -> str:
        return f"{self.user}@{self.settings().target}"


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

    def settings(self) -> MeilisearchConfig:
        """The engine's settings record: every field of this resource, by the same name."""
        return MeilisearchConfig.model_validate(
            {name: getattr(self, name) for name in MeilisearchConfig.model_fields}
        )

    @contextmanager
    def client(self) -> Iterator[MeiliClient]:
        with MeiliClient(self.settings()) as client:
            yield client
