"""The job ``apply_settings``: the configured settings onto one live index, recorded on
its asset."""

from __future__ import annotations

import os

import dagster as dg

from oracle_meili.config import AppConfig
from oracle_meili.definitions import build_definitions
from oracle_meili.defs.apply_settings import apply_settings_run_config


def test_the_job_applies_the_settings_and_records_what_changed(
    app_config: AppConfig, instance: dg.DagsterInstance
) -> None:
    index = app_config.indexes[0]
    key = dg.AssetKey(["meilisearch", index.name])
    assert (
        build_definitions(app_config, os.environ)
        .resolve_job_def("sync_indexes")
        .execute_in_process(instance=instance, partition_key="full", asset_selection=[key])
        .success
    )
    settings = {**index.settings, "synonyms": {"kettle": ["earbuds"]}}
    changed = app_config.model_copy(
        update={"indexes": (index.model_copy(update={"settings": settings}),)}
    )
    job = build_definitions(changed, os.environ).resolve_job_def("apply_settings")
    run = job.execute_in_process(instance=instance, run_config=apply_settings_run_config(index))
    assert run.success
    (observation,) = [
        e.event_specific_data.asset_observation  # type: ignore[union-attr]
        for e in run.all_events
        if e.event_type_value == "ASSET_OBSERVATION"
    ]
    assert observation.asset_key == key
    assert observation.metadata["oracle_meili/settings_applied"].value == "synonyms"
    assert observation.metadata["oracle_meili/settings_applied_how"].value == "copy"
    checks = build_definitions(changed, os.environ).resolve_job_def("check_indexes")
    evaluations = checks.execute_in_process(instance=instance).get_asset_check_evaluations()
    assert [e.passed for e in evaluations if e.check_name == "settings_match"] == [True]
