"""The jobs that do one thing to one index, named in the run's configuration:
``reconcile_index``, ``apply_settings`` and ``reshard_index``. One job each for every index;
the op holds the index's pool while it works, so it never runs beside a sync or check of
that index, and records what it did as an observation of the index asset.

No ``from __future__ import annotations``: Dagster reads the op function's annotations.
"""

from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

import dagster as dg
from pydantic import Field

from oracle_meili.config import IndexConfig
from oracle_meili.defs.names import DEFAULT_NAMES, Names, pool_name
from oracle_meili.defs.resources import bound_runner, resource_keys
from oracle_meili.defs.throttle import pool_slot
from oracle_meili.engine.session import Session


class IndexRunConfig(dg.Config):
    """A run configuration naming the index a job works on."""

    index: str = Field(description="The index (its name).")


C = TypeVar("C", bound=IndexRunConfig)
# What the job does to the index, in its pool; returns the observation's metadata.
IndexWork = Callable[[dg.OpExecutionContext, Session, IndexConfig, C], Mapping[str, Any]]


def op_name(job: str) -> str:
    """The op of an index job: ``<job>_op``."""
    return f"{job}_op"


def index_run_config(
    job: str, index: IndexConfig, names: Names = DEFAULT_NAMES, **options: object
) -> dict[str, object]:
    """The run configuration of ``job`` for ``index``."""
    return {"ops": {names(op_name(job)): {"config": {"index": index.name, **options}}}}


def index_named(indexes: Sequence[IndexConfig], name: str) -> IndexConfig:
    """The configured index ``name``; a run for another fails, naming the ones there are."""
    for index in indexes:
        if index.name == name:
            return index
    known = ", ".join(index.name for index in indexes)
    raise dg.Failure(f"no index {name!r} in this code location (indexes: {known})")


def build_index_job(
    indexes: Sequence[IndexConfig],
    names: Names,
    *,
    job: str,
    description: str,
    config_type: type[C],
    work: IndexWork[C],
) -> dg.JobDefinition:
    """A job that runs ``work`` on the index its run configuration names."""
    name = op_name(job)

    def _op(context: dg.OpExecutionContext, config: IndexRunConfig) -> None:
        index = index_named(indexes, config.index)
        why = "a sync or check of the index holds it"
        with (
            pool_slot(context, pool_name(index), holder=name, why=why),
            bound_runner(context, names).session() as session,
        ):
            metadata = work(context, session, index, config)  # type: ignore[arg-type]
        context.log_event(
            dg.AssetObservation(asset_key=names.index_key(index), metadata=dict(metadata))
        )

    # Dagster reads the run configuration's schema from the annotation.
    _op.__annotations__["config"] = config_type
    op = dg.op(name=names(name), required_resource_keys=resource_keys(names))(_op)

    @dg.job(name=names(job), description=description, executor_def=dg.in_process_executor)
    def _job() -> None:
        op()

    return _job
