"""Shared fixtures: a real Meilisearch server for the session, demo sources per test."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from pydantic import SecretStr

from oracle_meili.adapters.meili import MeiliClient
from oracle_meili.adapters.server import RunningMeilisearch, meilisearch_server
from oracle_meili.config import AppConfig, IndexConfig, MeilisearchConfig, parse_config
from oracle_meili.demo import create_demo
from oracle_meili_tests.harness import SyncHarness

# The browser test's fixtures (dagster_ui, browser, page), kept beside it.
pytest_plugins = ["oracle_meili_tests.defs.browser"]


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    """The CLI configures the root logger on a stream pytest closes after the test; put the
    handlers back so later log records do not go to a closed stream."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.fixture(scope="session")
def meili_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningMeilisearch]:
    """The pinned Meilisearch binary, started on a free port with a master key."""
    data = tmp_path_factory.mktemp("meilisearch")
    with meilisearch_server(data_dir=data, log_path=data / "meilisearch.log") as server:
        yield server


@pytest.fixture
def meili_config(meili_server: RunningMeilisearch) -> MeilisearchConfig:
    return MeilisearchConfig(url=meili_server.url, api_key=SecretStr(meili_server.master_key))


@pytest.fixture
def meili_client(meili_config: MeilisearchConfig) -> Iterator[MeiliClient]:
    with MeiliClient(meili_config) as client:
        yield client


@pytest.fixture
def index_name() -> str:
    """A fresh index uid per test, so tests share one server without interfering."""
    return f"t_{uuid.uuid4().hex[:12]}"


@pytest.fixture
def demo_db(tmp_path: Path) -> Path:
    """A 500-row demo catalogue."""
    return create_demo(tmp_path / "demo.db", rows=500)


@pytest.fixture
def demo_engine(demo_db: Path) -> Iterator[sa.Engine]:
    engine = sa.create_engine(f"sqlite:///{demo_db}")
    yield engine
    engine.dispose()


@pytest.fixture
def sync(demo_engine: sa.Engine, meili_client: MeiliClient) -> SyncHarness:
    """The harness over the 500-row demo source."""
    return SyncHarness(demo_engine, meili_client)


MakeIndex = Callable[..., IndexConfig]


@pytest.fixture
def make_index(index_name: str) -> MakeIndex:
    """An IndexConfig for the demo table; keyword arguments override its keys."""

    def make(**overrides: Any) -> IndexConfig:
        raw: dict[str, Any] = {
            "name": index_name,
            "table": "PRODUCTS",
            "primary_key": "PRODUCT_ID",
            "cursor": "UPDATED_AT",
            "soft_delete": {"column": "IS_DELETED", "deleted_value": "Y"},
            "batch_size": 128,
            "settings": {
                "searchableAttributes": ["name", "description", "category"],
                "filterableAttributes": ["category", "price"],
            },
        }
        raw.update(overrides)
        return IndexConfig.model_validate(raw)

    return make


@pytest.fixture
def app_config(demo_db: Path, meili_server: RunningMeilisearch, index_name: str) -> AppConfig:
    """A full configuration for the demo source and the test server."""
    raw = {
        "source": {"url": f"sqlite:///{demo_db}"},
        "indexes": [
            {
                "name": index_name,
                "table": "PRODUCTS",
                "primary_key": "PRODUCT_ID",
                "cursor": "UPDATED_AT",
                "lookback_seconds": 60,
                "soft_delete": {"column": "IS_DELETED", "deleted_value": "Y"},
                "settings": {"searchableAttributes": ["name", "description"]},
            }
        ],
    }
    env = {"MEILI_URL": meili_server.url, "MEILI_API_KEY": meili_server.master_key}
    return parse_config(raw, environ=env)
