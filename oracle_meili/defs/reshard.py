"""Resharding as a Dagster job per index, when ``meilisearch.shards`` lists several servers.

No ``from __future__ import annotations``: Dagster reads the op function's annotations.
"""

import dagster as dg
from pydantic import Field

from oracle_meili.config import IndexConfig, environment, leaving_servers
from oracle_meili.defs.metadata_sets import ReshardMetadata
from oracle_meili.defs.names import index_asset_key, pool_name, reshard_job_name
from oracle_meili.defs.resources import MeilisearchResource, SourceResource, runner


class ReshardConfig(dg.Config):
    """Run configuration of ``reshard_<index>``."""

    leaving: dict[str, str] = Field(
        default_factory=dict,
        description="Servers removed from meilisearch.shards, {name: url}, whose documents "
        "move to the configured shards (each one's key: MEILI_API_KEY_<NAME>).",
    )


def build_reshard_job(index: IndexConfig) -> dg.JobDefinition:
    """``reshard_<index>``: move documents to their shard after the shards changed; in the
    index's pool, so it never runs beside a sync of the same index."""

    @dg.op(name=f"{reshard_job_name(index)}_op", pool=pool_name(index))
    def _reshard(
        context: dg.OpExecutionContext,
        config: ReshardConfig,
        source: SourceResource,
        meilisearch: MeilisearchResource,
    ) -> None:
        leaving = leaving_servers(meilisearch.settings(), config.leaving, environment())
        with runner(source, meilisearch).session() as session:
            result = session.reshard(
                index,
                leaving=leaving,
                on_progress=lambda shard, moved: context.log.info(
                    f"{index.name}: {moved} documents to move off {shard}"
                ),
            )
        context.log.info(f"{index.name}: {result.moved} documents moved {result.moved_from}")
        context.log_event(
            dg.AssetObservation(
                asset_key=index_asset_key(index),
                metadata=dict(
                    ReshardMetadata(
                        documents_moved=result.moved,
                        documents_per_shard=dg.MetadataValue.json(result.counts),
                    )
                ),
            )
        )

    @dg.job(
        name=reshard_job_name(index),
        description=f"Move the documents of `{index.name}` to their shards after "
        "`meilisearch.shards` changed.",
        executor_def=dg.in_process_executor,
    )
    def _job() -> None:
        _reshard()

    return _job
