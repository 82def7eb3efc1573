"""The Dagster code location: assets and resources assembled from the configuration.

The configuration file comes from ``$ORACLE_MEILI_CONFIG`` (default ``demo/config.yaml``,
the embedded demo). Nothing connects at load time.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any

import dagster as dg
import sqlalchemy as sa
from pydantic import BaseModel, SecretStr

from oracle_meili.config import CONFIG_ENV_VAR, AppConfig, environment, load_config
from oracle_meili.defs.assets import build_index_asset
from oracle_meili.defs.checks import build_consistency_checks
from oracle_meili.defs.jobs import build_checks_job, build_sync_job
from oracle_meili.defs.reconcile import build_reconcile_job
from oracle_meili.defs.resources import (
    MeilisearchResource,
    OracleResource,
    SourceResource,
    SqlAlchemySourceResource,
)
from oracle_meili.defs.schedules import build_job_schedule, build_schedules
from oracle_meili.defs.sensors import build_change_sensor
from oracle_meili.defs.sources import build_observe_job, build_source_assets

DEFAULT_CONFIG = "demo/config.yaml"


def build_resources(config: AppConfig, environ: Mapping[str, str]) -> dict[str, object]:
    """The ``source`` and ``meilisearch`` resources; secrets stay behind ``EnvVar``."""
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
        "source": source,
        "meilisearch": MeilisearchResource(**{**plain_settings(meili), "api_key": api_key}),
    }


def plain_settings(record: BaseModel) -> dict[str, Any]:
    """A settings record's fields, secrets left out (they are passed as EnvVar)."""
    return {
        name: value
        for name, value in record
        if not isinstance(value, SecretStr) and name not in ("password", "wallet_password")
    }


def build_definitions(config: AppConfig, environ: Mapping[str, str]) -> dg.Definitions:
    """Definitions for a loaded configuration (tests build their own with this).

    Raises:
        ConfigError: a schedule's cron expression or time zone is invalid.
    """
    jobs = {index.name: build_sync_job(index) for index in config.indexes}
    reconcile_jobs = {index.name: build_reconcile_job(index) for index in config.indexes}
    checks_jobs = {index.name: build_checks_job(index) for index in config.indexes}
    observe_jobs = {
        index.name: job for index in config.indexes if (job := build_observe_job(index)) is not None
    }
    maintenance = [
        *(build_job_schedule(i, reconcile_jobs[i.name], what="reconcile") for i in config.indexes),
        *(build_job_schedule(i, checks_jobs[i.name], what="checks") for i in config.indexes),
        *(
            build_job_schedule(i, observe_jobs[i.name], what="observe")
            for i in config.indexes
            if i.name in observe_jobs
        ),
    ]
    sensors = [build_change_sensor(index, jobs[index.name]) for index in config.indexes]
    with warnings.catch_warnings():
        # Observable multi-assets and code references are beta in Dagster 1.13; used
        # knowingly (pinned below 1.14), so the demo and the code server stay quiet.
        warnings.simplefilter("ignore", dg.BetaWarning)
        assets = dg.with_source_code_references(
            [
                *build_source_assets(config.indexes, kind=source_kind(config)),
                *(build_index_asset(index) for index in config.indexes),
            ]
        )
    return dg.Definitions(
        # With code references: the UI links each asset to the factory that built it.
        assets=assets,
        asset_checks=[build_consistency_checks(index) for index in config.indexes],
        jobs=[
            *jobs.values(),
            *reconcile_jobs.values(),
            *checks_jobs.values(),
            *observe_jobs.values(),
        ],
        schedules=[
            *(s for i in config.indexes for s in build_schedules(i, jobs[i.name])),
            *(s for s in maintenance if s is not None),
        ],
        sensors=[sensor for sensor in sensors if sensor is not None],
        resources=build_resources(config, environ),
        # The implicit asset job (the UI's Materialize button) runs in process, like the
        # named sync jobs: a sync is one step, and a subprocess per step costs seconds.
        executor=dg.in_process_executor,
    )


def source_kind(config: AppConfig) -> str:
    """The source database's kind for the UI: ``oracle``, or the URL's backend."""
    if config.source.url is None:
        return "oracle"
    return sa.make_url(config.source.url).get_backend_name()


@dg.definitions
def defs() -> dg.Definitions:
    """Loaded by ``dagster dev`` / the code server through workspace.yaml."""
    environ = environment()
    config = load_config(environ.get(CONFIG_ENV_VAR) or DEFAULT_CONFIG, environ=environ)
    return build_definitions(config, environ)
