"""Resharding: the job ``reshard_index``, when ``meilisearch.shards`` lists several
servers."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import dagster as dg
from pydantic import Field

from oracle_meili.config import IndexConfig, environment, leaving_servers
from oracle_meili.defs.index_jobs import IndexRunConfig, build_index_job
from oracle_meili.defs.metadata_sets import ReshardMetadata
from oracle_meili.defs.names import DEFAULT_NAMES, RESHARD_JOB, Names
from oracle_meili.engine.session import Session


class ReshardConfig(IndexRunConfig):
    """Run configuration of ``reshard_index``."""

    leaving: dict[str, str] = Field(
        default_factory=dict,
        description="Servers removed from meilisearch.shards, {name: url}, whose documents "
        "move to the configured shards (each one's key: MEILI_API_KEY_<NAME>).",
    )


def build_reshard_job(
    indexes: Sequence[IndexConfig], names: Names = DEFAULT_NAMES
) -> dg.JobDefinition:
    """``reshard_index``: move an index's documents to their shard after the shards
    changed."""
    return build_index_job(
        indexes,
        names,
        job=RESHARD_JOB,
        description="Move the documents of an index to their shards after "
        "`meilisearch.shards` changed (run configuration: the index's name, the servers "
        "leaving).",
        config_type=ReshardConfig,
        work=resharded,
    )


def resharded(
    context: dg.OpExecutionContext, session: Session, index: IndexConfig, config: ReshardConfig
) -> Mapping[str, Any]:
    leaving = leaving_servers(session.client.config, config.leaving, environment())
    result = session.reshard(
        index,
        leaving=leaving,
        on_progress=lambda shard, moved: context.log.info(
            f"{index.name}: {moved} documents to move off {shard}"
        ),
    )
    context.log.info(f"{index.name}: {result.moved} documents moved {result.moved_from}")
    return dict(
        ReshardMetadata(
            documents_moved=result.moved,
            documents_per_shard=dg.MetadataValue.json(result.counts),
        )
    )
