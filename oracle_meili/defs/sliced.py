"""The asset of an index with ``parallel: N``: a full sync as N steps, one per key range.

    plan ─> slice[slice_0] … slice[slice_N-1] ─> publish

- ``plan`` (in the index's pool) takes the watermark and the key ranges and creates the
  build index; it yields one dynamic output per slice not yet finished.
- ``slice`` reads and writes one key range, holding one of the source's slots
  (``source.max_concurrent_syncs``) while it reads. It is retried alone under the sync's
  RetryPolicy and resumes from its own checkpoint.
- ``publish`` (in the index's pool) checks that every slice finished and every row is in the
  build, then swaps it in. In partition ``incremental`` it runs the incremental sync, and
  ``plan`` yields no slice.

Steps hand nothing to each other through files: the plan and each slice's checkpoints are
observations of the index asset in the instance's event log (PostgreSQL in production), and
the outputs between steps carry no value. Any executor can run the steps, the k8s one
included, with no shared disk.

No ``from __future__ import annotations`` here: Dagster reads the op functions' annotations.
"""

import inspect
from collections.abc import Iterator
from typing import Any

import dagster as dg

from oracle_meili.config import IndexConfig, Orchestration
from oracle_meili.defs.assets import SYNC_PARTITIONS, freshness_policy, run_failure, synced
from oracle_meili.defs.jobs import SYNC_RETRY_POLICY
from oracle_meili.defs.names import DEFAULT_NAMES, Names, pool_name, sliced_step_name
from oracle_meili.defs.resources import bound_runner, meilisearch_of, resource_keys
from oracle_meili.defs.state import DagsterRunState
from oracle_meili.defs.throttle import SourceSlots, source_slot
from oracle_meili.defs.translator import default_index_spec
from oracle_meili.engine.slice_plan import SlicedPlan, unfinished
from oracle_meili.errors import SyncError
from oracle_meili.progress import ProgressReporter

SLICE_KEY = "slice_{}"


def build_sliced_index_asset(
    index: IndexConfig,
    orchestration: Orchestration | None = None,
    source_slots: SourceSlots | None = None,
    *,
    spec: dg.AssetSpec | None = None,
    names: Names = DEFAULT_NAMES,
) -> dg.AssetsDefinition:
    """The asset of an index with ``parallel`` above 1 (see the module docstring), as the
    translator's ``spec`` describes it."""
    orchestration = orchestration or Orchestration()
    spec = spec or default_index_spec(index, orchestration, names.source_kind)
    name = spec.key.to_python_identifier()
    tables = {f"table_{n}": dep.asset_key for n, dep in enumerate(spec.deps)}
    plan_op = plan_step(index, names)
    slice_op = slice_step(index, names, source_slots)
    publish_op = publish_step(index, names)

    def compose(**_tables: Any) -> Any:
        planned, slices = plan_op(tables=list(_tables.values()))
        return publish_op(planned, slices.map(slice_op).collect())

    # Dagster reads the graph's inputs (the source tables, as Nothing deps) from the signature.
    compose.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [inspect.Parameter(n, inspect.Parameter.KEYWORD_ONLY) for n in tables]
    )
    compose.__name__ = name
    return dg.graph_multi_asset(
        name=name,
        outs={
            "index": dg.AssetOut.from_spec(
                # Its dependencies are the graph's inputs (`ins`), not the spec's.
                spec.replace_attributes(
                    deps=[], freshness_policy=freshness_policy(orchestration.freshness)
                ),
                io_manager_key=names.step_io,
            )
        },
        ins={n: dg.AssetIn(key=key, dagster_type=dg.Nothing) for n, key in tables.items()},
        partitions_def=SYNC_PARTITIONS,
    )(compose)


def plan_step(index: IndexConfig, names: Names) -> dg.OpDefinition:
    """The ``plan`` step: plans the full sync (or resumes its plan), one output per slice
    still to read."""
    needs, step_io = resource_keys(names), names.step_io

    @dg.op(
        name=names(sliced_step_name(index, "plan")),
        required_resource_keys=needs,
        ins={"tables": dg.In(dg.Nothing)},
        out={
            "plan": dg.Out(io_manager_key=step_io),
            "slices": dg.DynamicOut(io_manager_key=step_io),
        },
        pool=pool_name(index),
        retry_policy=SYNC_RETRY_POLICY,
        description=f"Plan the key ranges of a full sync of `{index.name}`.",
    )
    def plan_op(
        context: dg.OpExecutionContext,
    ) -> Iterator[dg.Output[None] | dg.DynamicOutput[None]]:
        yield dg.Output(None, "plan")
        if context.partition_key != "full":
            return
        url = meilisearch_of(context, names).settings().url
        state = DagsterRunState(context, meilisearch_url=url, names=names)
        try:
            refuse_running_plan(context, state.plan(index.name))
            with bound_runner(context, names).session() as session:
                plan, done = session.plan_full(index, state, owner=context.run_id)
        except Exception as e:
            raise run_failure(e) from e
        left = unfinished(plan, done)
        if len(left) < plan.slices:
            context.log.info(
                f"{index.name}: {plan.slices - len(left)} slice(s) finished already; not read again"
            )
        for number in left:
            yield dg.DynamicOutput(None, mapping_key=SLICE_KEY.format(number), output_name="slices")

    return plan_op


def slice_step(
    index: IndexConfig, names: Names, source_slots: SourceSlots | None
) -> dg.OpDefinition:
    """The ``slice`` step: reads one key range into the build index."""
    needs, step_io = resource_keys(names), names.step_io

    @dg.op(
        name=names(sliced_step_name(index, "slice")),
        required_resource_keys=needs,
        out=dg.Out(io_manager_key=step_io),
        retry_policy=SYNC_RETRY_POLICY,
        description=f"Read one key range of `{index.name}` into the build index.",
    )
    def slice_op(context: dg.OpExecutionContext, planned: Any) -> None:
        number = slice_number(context.get_mapping_key())
        url = meilisearch_of(context, names).settings().url
        state = DagsterRunState(context, meilisearch_url=url, names=names)
        try:
            plan = current_plan(state, index)
            resume = state.slice_checkpoints(index.name, plan.build_index).get(number)
            with (
                source_slot(
                    context, source_slots, holder=f"{index.name}/{SLICE_KEY.format(number)}"
                ),
                bound_runner(context, names).session() as session,
            ):
                done = session.load_slice(
                    index,
                    plan,
                    number,
                    resume=resume,
                    on_checkpoint=state.save_checkpoint,
                    on_progress=ProgressReporter(f"{index.name} slice {number}", context.log.info),
                )
        except Exception as e:
            raise run_failure(e) from e
        context.log.info(
            f"{index.name}: slice {number} of {plan.slices} finished, {done.rows_read:,} rows read"
        )

    return slice_op


def publish_step(index: IndexConfig, names: Names) -> dg.OpDefinition:
    """The ``publish`` step: checks every slice and swaps the build in (or, in partition
    ``incremental``, runs the incremental sync)."""
    needs, step_io = resource_keys(names), names.step_io

    @dg.op(
        name=names(sliced_step_name(index, "publish")),
        required_resource_keys=needs,
        out=dg.Out(io_manager_key=step_io),
        pool=pool_name(index),
        retry_policy=SYNC_RETRY_POLICY,
        description=f"Check every slice of `{index.name}` and publish the build "
        "(or, in partition incremental, run the incremental sync).",
    )
    def publish_op(
        context: dg.OpExecutionContext, planned: Any, slices: list[Any]
    ) -> Iterator[dg.Output[None]]:
        url = meilisearch_of(context, names).settings().url
        state = DagsterRunState(context, meilisearch_url=url, names=names)
        try:
            with bound_runner(context, names, state=state).session() as session:
                if context.partition_key == "full":
                    plan = current_plan(state, index)
                    result = session.complete_full(
                        index, plan, state.slice_checkpoints(index.name, plan.build_index)
                    )
                else:
                    result = session.sync(
                        index,
                        "incremental",
                        on_progress=ProgressReporter(index.name, context.log.info),
                    )
                fields = session.document_fields(index)
        except Exception as e:
            raise run_failure(e) from e
        metadata = synced(context, index, result, fields, meilisearch_url=url, names=names)
        yield dg.Output(None, metadata=metadata)

    return publish_op


def slice_number(mapping_key: str | None) -> int:
    """The slice a dynamic step reads, from its mapping key ``slice_<n>``."""
    prefix = SLICE_KEY.format("")
    if mapping_key is None or not mapping_key.startswith(prefix):
        raise dg.Failure(f"not a slice step: mapping key {mapping_key!r}", allow_retries=False)
    return int(mapping_key.removeprefix(prefix))


def current_plan(state: DagsterRunState, index: IndexConfig) -> SlicedPlan:
    """The plan the run's slices follow (the latest one kept)."""
    plan = state.plan(index.name)
    if plan is None:
        raise SyncError(f"index {index.name!r}: no full-sync plan found; run the full sync again")
    return plan


def refuse_running_plan(context: dg.OpExecutionContext, plan: SlicedPlan | None) -> None:
    """Stop a full sync while another run is still loading the plan kept in the instance:
    two syncs must not write into one build index, nor drop each other's."""
    if plan is None or plan.owner is None or plan.owner == context.run_id:
        return
    run = context.instance.get_run_by_id(plan.owner)
    if run is not None and not run.is_finished:
        raise SyncError(
            f"index {plan.index!r}: a full sync is already running in run {plan.owner} "
            f"(status {run.status.value}); the live index was not changed"
        )
