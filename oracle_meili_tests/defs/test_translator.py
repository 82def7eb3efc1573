"""The translator: how each index and table appears in Dagster, overridable in Python;
and every part of oracle-meili (sync state, sensors, schedules, checks) following its keys."""

from __future__ import annotations

import os
from pathlib import Path

import dagster as dg
import pytest

from oracle_meili.config import AppConfig
from oracle_meili.definitions import build_definitions
from oracle_meili.defs.metadata import latest_watermark
from oracle_meili.defs.translator import IndexAsset, OracleMeiliTranslator, TableAsset
from oracle_meili.errors import ConfigError
from oracle_meili_tests.test_docs import PROJECT, blocks


class TeamTranslator(OracleMeiliTranslator):
    """A user's own: every asset under ``search/``, tagged with what it is."""

    def get_asset_spec(self, data: IndexAsset | TableAsset) -> dg.AssetSpec:
        spec = super().get_asset_spec(data)
        return spec.replace_attributes(
            key=spec.key.with_prefix("search"), owners=["team:search"]
        ).merge_attributes(tags={"synced_as": data.kind})


def test_the_defaults_are_the_documented_keys(app_config: AppConfig) -> None:
    defs = build_definitions(app_config, os.environ)
    index = app_config.indexes[0].name
    keys = set(defs.resolve_asset_graph().get_all_asset_keys())
    assert keys == {dg.AssetKey(["meilisearch", index]), dg.AssetKey(["sqlite", "PRODUCTS"])}


def test_a_translator_shapes_every_asset_and_the_syncs_follow_its_keys(
    app_config: AppConfig, instance: dg.DagsterInstance
) -> None:
    defs = build_definitions(app_config, os.environ, translator=TeamTranslator())
    index = app_config.indexes[0]
    key = dg.AssetKey(["search", "meilisearch", index.name])
    table = dg.AssetKey(["search", "sqlite", "PRODUCTS"])
    graph = defs.resolve_asset_graph()
    assert set(graph.get_all_asset_keys()) == {key, table}
    node = graph.get(key)
    assert node.parent_keys == {table}
    assert node.owners == ["team:search"]
    assert node.tags["synced_as"] == "index" and graph.get(table).tags["synced_as"] == "table"
    # The checks are on the translated key.
    assert {c.asset_key for c in graph.asset_check_keys} == {key}

    job = defs.resolve_job_def("sync_indexes")
    for partition in ("full", "incremental"):
        result = job.execute_in_process(
            instance=instance, partition_key=partition, asset_selection=[key]
        )
        assert result.success
    # The sync state (the watermark) is kept on the translated key.
    assert latest_watermark(instance, key) is not None
    assert latest_watermark(instance, dg.AssetKey(["meilisearch", index.name])) is None


def test_two_assets_with_one_key_are_a_configuration_error(app_config: AppConfig) -> None:
    class Flattening(OracleMeiliTranslator):
        def get_asset_spec(self, data: IndexAsset | TableAsset) -> dg.AssetSpec:
            return super().get_asset_spec(data).replace_attributes(key=dg.AssetKey("same"))

    with pytest.raises(ConfigError, match=r"same asset key 'same'.*key prefix"):
        build_definitions(app_config, os.environ, translator=Flattening())


def test_a_scope_prefixes_jobs_sensors_and_resources(app_config: AppConfig) -> None:
    defs = build_definitions(app_config, os.environ, scope="crm")
    assert {"crm__sync_indexes", "crm__check_indexes", "crm__reconcile_index"} <= {
        job.name for job in defs.resolve_all_job_defs()
    }
    assert set(defs.resources or {}) >= {"crm__source", "crm__meilisearch"}
    with pytest.raises(ConfigError, match="name 'two words'"):
        build_definitions(app_config, os.environ, scope="two words")


def test_the_docs_translator_example_builds_its_code_location(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    (shown,) = [b for b in blocks("python") if "TeamTranslator" in b.text]
    monkeypatch.chdir(PROJECT)  # its configuration: demo/config.yaml
    namespace: dict[str, object] = {}
    exec(compile(shown.text, shown.where, "exec"), namespace)
    defs = namespace["defs"]
    assert isinstance(defs, dg.Definitions)
    keys = defs.resolve_asset_graph().get_all_asset_keys()
    assert keys and all(key.path[0] == "search" for key in keys)
    assert dg.AssetKey(["search", "meilisearch", "products"]) in keys


def test_each_index_asset_links_to_the_code_that_builds_it(app_config: AppConfig) -> None:
    defs = build_definitions(app_config, os.environ)
    node = defs.resolve_asset_graph().get(dg.AssetKey(["meilisearch", app_config.indexes[0].name]))
    value = node.metadata["dagster/code_references"]
    assert isinstance(value, dg.CodeReferencesMetadataValue)
    (reference,) = value.code_references
    assert isinstance(reference, dg.LocalFileCodeReference)
    assert reference.file_path.endswith("oracle_meili/defs/assets.py")
    source = Path(reference.file_path).read_text().splitlines()
    assert reference.line_number is not None
    assert source[reference.line_number - 1].startswith("def build_index_asset(")
