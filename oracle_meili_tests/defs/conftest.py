"""The Dagster tests' instance, and materializing an index asset in it."""

from __future__ import annotations

import dagster as dg
import pytest

from oracle_meili.adapters.server import RunningMeilisearch
from oracle_meili.config import AppConfig
from oracle_meili.defs.assets import build_index_asset
from oracle_meili.defs.names import Names
from oracle_meili.defs.resources import build_resources


@pytest.fixture
def instance(
    monkeypatch: pytest.MonkeyPatch, meili_server: RunningMeilisearch
) -> dg.DagsterInstance:
    # The resources read the API key through EnvVar, as in production.
    monkeypatch.setenv("MEILI_API_KEY", meili_server.master_key)
    return dg.DagsterInstance.ephemeral()


def materialize(
    config: AppConfig, instance: dg.DagsterInstance, partition: str
) -> dg.ExecuteInJobResult:
    return dg.materialize(
        [build_index_asset(config.indexes[0], names=Names(source_kind="sqlite"))],
        partition_key=partition,
        instance=instance,
        resources=build_resources(config),
        raise_on_error=False,
    )


def metadata_of(result: dg.ExecuteInJobResult) -> dict[str, object]:
    (event,) = result.get_asset_materialization_events()
    return {k: v.value for k, v in event.materialization.metadata.items()}
