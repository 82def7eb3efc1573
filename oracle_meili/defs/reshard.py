"""Resharding: one Dagster job for every index, when ``meilisearch.shards`` lists several
servers. The run's configuration names the index; the op holds that index's pool.

No ``from __future__ import annotations``: Dagster reads the op function's annotations.
"""

from collections.abc import Sequence

import dagster as dg
from pydantic import Field

from oracle_meili.config import IndexConfig, environment, leaving_servers
from oracle_meili.defs.metadata_sets import ReshardMetadata
from oracle_meili.defs.names import DEFAULT_NAMES, RESHARD_JOB, Names, pool_name
from oracle_meili.defs.reconcile import index_named
from oracle_meili.defs.resources import bound_runner, meilisearch_of, resource_keys
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


def build_reshard_job(
    indexes: Sequence[IndexConfig], names: Names = DEFAULT_NAMES
) -> dg.JobDefinition:
    """``reshard_index``: move an index's documents to their shard after the shards
    changed."""

    @dg.op(name=names(RESHARD_OP), required_resource_keys=resource_keys(names))
    def _reshard(context: dg.OpExecutionContext, config: ReshardConfig) -> None:
        index = index_named(indexes, config.index)
        settings = meilisearch_of(context, names).settings()
        leaving = leaving_servers(settings, config.leaving, environment())
        why = "a sync or check of the index holds it"
        with (
            pool_slot(context, pool_name(index), holder=RESHARD_OP, why=why),
            bound_runner(context, names).session() as session,
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
                asset_key=names.index_key(index),
                metadata=dict(
                    ReshardMetadata(
                        documents_moved=result.moved,
                        documents_per_shard=dg.MetadataValue.json(result.counts),
                    )
                ),
            )
        )

    @dg.job(
        name=names(RESHARD_JOB),
        description="Move the documents of an index to their shards after "
        "`meilisearch.shards` changed (run configuration: the index's name, the servers "
        "leaving).",
        executor_def=dg.in_process_executor,
    )
    def _job() -> None:
        _reshard()

    return _job
