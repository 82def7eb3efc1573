"""``apply_settings``: the job that gives an index its configured settings from its own
documents (no downtime, no read of the source). It holds the index's pool, so no sync of
the index runs during the copy (its writes would go to the index being replaced): they
wait, and follow from the watermark once it is done."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import dagster as dg
from pydantic import Field

from oracle_meili.config import IndexConfig
from oracle_meili.defs.index_jobs import IndexRunConfig, build_index_job, index_run_config
from oracle_meili.defs.metadata_sets import SettingsAppliedMetadata
from oracle_meili.defs.names import APPLY_SETTINGS_JOB, DEFAULT_NAMES, Names
from oracle_meili.engine.session import Session


class ApplySettingsConfig(IndexRunConfig):
    """Run configuration of ``apply_settings``."""

    in_place: bool = Field(
        default=False,
        description="Apply query-time settings to the live index directly; a setting "
        "Meilisearch re-indexes for is then an error.",
    )


def apply_settings_run_config(
    index: IndexConfig, *, in_place: bool = False, names: Names = DEFAULT_NAMES
) -> dict[str, object]:
    """The run configuration that applies ``index``'s settings."""
    return index_run_config(APPLY_SETTINGS_JOB, index, names, in_place=in_place)


def build_apply_settings_job(
    indexes: Sequence[IndexConfig], names: Names = DEFAULT_NAMES
) -> dg.JobDefinition:
    """``apply_settings``: the configured settings onto one live index."""
    return build_index_job(
        indexes,
        names,
        job=APPLY_SETTINGS_JOB,
        description="Give an index its configured settings from its own documents, with no "
        "downtime and no source read (run configuration: the index's name).",
        config_type=ApplySettingsConfig,
        work=applied,
    )


def applied(
    context: dg.OpExecutionContext,
    session: Session,
    index: IndexConfig,
    config: ApplySettingsConfig,
) -> Mapping[str, Any]:
    result = session.apply_settings(
        index,
        in_place=config.in_place,
        on_progress=lambda copied: context.log.info(f"{index.name}: {copied} documents copied"),
    )
    context.log.info(
        f"{index.name}: settings {', '.join(result.changed) or 'unchanged'} ({result.how})"
    )
    for line in result.search_checks:
        context.log.info(f"{index.name}: {line}")
    return dict(
        SettingsAppliedMetadata(
            settings_applied=", ".join(result.changed) or "none",
            settings_applied_how=result.how,
            settings_documents=result.documents,
        )
    )
