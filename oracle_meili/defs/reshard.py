"""Resharding: one Dagster job for every index, when ``meilisearch.shards`` lists several
servers. The run's configuration names the index; the op holds that index's pool.

No ``from __future__ import annotations``: Dagster reads the op function's annotations.
"""

from collections.abc import Sequence

import dagster as dg
from pydantic import Field

from oracle_meili.config import IndexConfig, environment, leaving_servers
from oracle_meili.defs.metadata_sets import ReshardMetadata
from oracle_meili.defs.names import RESHARD_JOB, index_asset_key, pool_name
from oracle_meili.defs.reconcile import index_named
from oracle_meili.defs.resources import MeilisearchResource, SourceResource, runner
from oracle_meili.defs.throttle import pool_slot

RESHARD_OP = f"{RESHARD_JOB}_op"


class ReshardConfig(dg.Config):
    """Run configuration of ``reshard_index``."""

    index: str = Field(description="The index to reshard (its name).")
    leaving: dict[str, str] = Field(
        default_factory=dict,
        description="Servers removed from meilisearch.shards, {name: url}, whose documents "
        "move to the configured shards (each one's key: MEILI_API_KEY_<NAME>).",
    )


def build_reshard_job(indexes: Sequence[IndexConfig]) -> dg.JobDefinition:
    """``reshard_index``: move an index's documents to their shard after the shards
    changed."""

    @dg.op(name=RESHARD_OP)
    def _reshard(
        context: dg.OpExecutionContext,
        config: ReshardConfig,
        source: SourceResource,
        meilisearch: MeilisearchResource,
    ) -> None:
        index = index_named(indexes, config.index)
        leaving = leaving_servers(meilisearch.settings(), config.leaving, environment())
        why = "a sync or check of the index holds it"
        with (
            pool_slot(context, pool_name(index), holder=RESHARD_OP, why=why),
            runner(source, meilisearch).session() as session,
        ):
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
        name=RESHARD_JOB,
        description="Move the documents of an index to their shards after "
        "`meilisearch.shards` changed (run configuration: the index's name, the servers "
        "leaving).",
        executor_def=dg.in_process_executor,
    )
    def _job() -> None:
        _reshard()

    return _job
