"""The checks of the live index (its settings, its search checks) as Dagster asset checks,
run by the job ``check_indexes``."""

from __future__ import annotations

import os

import dagster as dg
import pytest

from oracle_meili.config import AppConfig
from oracle_meili.definitions import build_definitions
from oracle_meili.errors import ConfigError


def with_checks(config: AppConfig, *checks: dict[str, object]) -> AppConfig:
    index = config.indexes[0].model_copy(update={"search_checks": ()})
    raw = {**index.model_dump(), "search_checks": list(checks)}
    checked = type(index).model_validate(raw)
    return config.model_copy(update={"indexes": (checked,)})


def test_check_indexes_runs_the_search_checks_and_shows_what_came_back(
    app_config: AppConfig, instance: dg.DagsterInstance
) -> None:
    config = with_checks(
        app_config,
        {"q": "wireless earbuds", "min_hits": 3, "show": "name", "name": "earbuds"},
        {"q": "wireless earbuds", "max_hits": 0},
    )
    index = config.indexes[0]
    defs = build_definitions(config, os.environ)
    key = dg.AssetKey(["meilisearch", index.name])
    sync = defs.resolve_job_def("sync_indexes")
    assert sync.execute_in_process(
        instance=instance, partition_key="full", asset_selection=[key]
    ).success
    checks = defs.resolve_job_def("check_indexes")
    assert {c.name for c in checks.asset_layer.asset_graph.asset_check_keys} >= {
        "earbuds",
        "search_2",
    }
    run = checks.execute_in_process(instance=instance, raise_on_error=False)
    results = {e.check_name: e for e in run.get_asset_check_evaluations()}
    earbuds, none = results["earbuds"], results["search_2"]
    assert earbuds.passed and not none.passed
    names = earbuds.metadata["top_name"].value
    assert isinstance(names, list) and names and all("Earbuds" in n for n in names)
    top = earbuds.metadata["top_ids"].value
    assert isinstance(top, list) and len(top) == len(names)
    assert str(none.metadata["problems"].value).endswith("hits, more than 0")
    # The consistency checks and the settings check ran beside them.
    assert {"document_count_parity", "content_parity", "no_orphans"} <= set(results)
    assert results["settings_match"].passed


def test_settings_match_names_each_setting_changed_since_the_index_was_built(
    app_config: AppConfig, instance: dg.DagsterInstance
) -> None:
    """A changed ``settings:`` reaches the live index only with its next full sync: until
    then `settings_match` warns, naming the key and both values; after it, it passes."""
    index = app_config.indexes[0]
    key = dg.AssetKey(["meilisearch", index.name])
    defs = build_definitions(app_config, os.environ)
    assert (
        defs.resolve_job_def("sync_indexes")
        .execute_in_process(instance=instance, partition_key="full", asset_selection=[key])
        .success
    )
    settings = {**index.settings, "stopWords": ["the", "a"]}
    changed = app_config.model_copy(
        update={"indexes": (index.model_copy(update={"settings": settings}),)}
    )
    defs = build_definitions(changed, os.environ)

    def settings_match() -> dg.AssetCheckEvaluation:
        run = defs.resolve_job_def("check_indexes").execute_in_process(instance=instance)
        (evaluation,) = [
            e for e in run.get_asset_check_evaluations() if e.check_name == "settings_match"
        ]
        return evaluation

    drifted = settings_match()
    assert not drifted.passed and drifted.severity == dg.AssetCheckSeverity.WARN
    assert drifted.metadata["differing_keys"].value == "stopWords"
    differences = drifted.metadata["differences"].value
    assert isinstance(differences, list)
    assert [(d["configured"], d["live"]) for d in differences] == [(["a", "the"], [])]
    assert (
        defs.resolve_job_def("sync_indexes")
        .execute_in_process(instance=instance, partition_key="full", asset_selection=[key])
        .success
    )
    assert settings_match().passed


def test_a_search_check_named_like_an_oracle_meili_check_is_refused(
    app_config: AppConfig,
) -> None:
    config = with_checks(app_config, {"q": "x", "min_hits": 1, "name": "caught_up"})
    with pytest.raises(ConfigError, match="search check 'caught_up' is named like"):
        build_definitions(config, os.environ)
