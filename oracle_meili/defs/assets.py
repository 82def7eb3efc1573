"""One Dagster asset per configured index, built by a factory over the configuration.

No ``from __future__ import annotations`` here: Dagster reads the annotations of the asset
function at definition time.
"""

import datetime as dt
from typing import Any

import dagster as dg

from oracle_meili.adapters.columns import DocumentField
from oracle_meili.config import FreshnessConfig, IndexConfig, Orchestration
from oracle_meili.defs.dagster_private import reread_input_versions
from oracle_meili.defs.jobs import SYNC_RETRY_POLICY
from oracle_meili.defs.metadata import result_metadata, schema_metadata
from oracle_meili.defs.metadata_sets import TableMetadataSet
from oracle_meili.defs.names import CAUGHT_UP, DEFAULT_NAMES, Names, pool_name
from oracle_meili.defs.resources import bound_runner, meilisearch_of, resource_keys
from oracle_meili.defs.sources import newest_change_metadata, table_schema, versioned
from oracle_meili.defs.state import DagsterRunState
from oracle_meili.defs.throttle import SourceSlots, source_slot
from oracle_meili.defs.translator import default_index_spec
from oracle_meili.engine.result import SyncResult
from oracle_meili.engine.watermark import decode_watermark
from oracle_meili.progress import ProgressReporter
from oracle_meili.retry import is_retryable

SYNC_PARTITIONS = dg.StaticPartitionsDefinition(["full", "incremental"])


def run_failure(error: Exception) -> dg.Failure:
    """A failed step as Dagster should see it: retried under the job's RetryPolicy only when
    the error says the same run may succeed later (``OracleMeiliError.retryable``). Anything
    else, an unexpected exception included, would fail the same way again."""
    return dg.Failure(description=str(error), allow_retries=is_retryable(error))


def source_observation(table: dg.AssetKey, result: SyncResult, run_id: str) -> dg.AssetObservation:
    """The source table as a sync saw it: its newest change, its columns, and (a full sync,
    which read every live row) its live rows."""
    newest = decode_watermark(result.watermark)
    metadata: dict[str, Any] = dict(newest_change_metadata(newest))
    if result.source_columns:
        metadata.update(TableMetadataSet(column_schema=table_schema(result.source_columns)))
    if result.mode == "full":
        metadata.update(TableMetadataSet(row_count=result.rows_read))
    return dg.AssetObservation(
        asset_key=table,
        description=f"As the {result.mode} sync of {result.index} saw it (run {run_id}).",
        metadata=metadata,
        tags=versioned(newest),
    )


def freshness_policy(freshness: FreshnessConfig | None) -> dg.FreshnessPolicy | None:
    """The index's ``freshness:`` as Dagster's time-window policy (None when not set)."""
    if freshness is None:
        return None
    warn = freshness.warn_after_minutes
    return dg.FreshnessPolicy.time_window(
        fail_window=dt.timedelta(minutes=freshness.fail_after_minutes),
        warn_window=dt.timedelta(minutes=warn) if warn is not None else None,
    )


CAUGHT_UP_TEXT = (
    "Evaluated by every sync: when it ended, the index held its source's newest change (no "
    "change committed meanwhile was left for the next sync). Its metadata says how far "
    "behind it was."
)


def build_index_asset(
    index: IndexConfig,
    orchestration: Orchestration | None = None,
    source_slots: SourceSlots | None = None,
    *,
    spec: dg.AssetSpec | None = None,
    names: Names = DEFAULT_NAMES,
) -> dg.AssetsDefinition:
    """The asset for one index, as the translator's ``spec`` describes it: partition
    ``full`` rebuilds it, ``incremental`` updates it."""
    orchestration = orchestration or Orchestration()
    spec = spec or default_index_spec(index, orchestration, names.source_kind)

    @dg.asset(
        key=spec.key,
        deps=list(spec.deps),
        group_name=spec.group_name,
        kinds=set(spec.kinds),
        owners=list(spec.owners),
        tags=dict(spec.tags),
        description=spec.description,
        metadata=dict(spec.metadata),
        code_version=spec.code_version,
        partitions_def=SYNC_PARTITIONS,
        check_specs=[dg.AssetCheckSpec(CAUGHT_UP, asset=spec.key, description=CAUGHT_UP_TEXT)],
        pool=pool_name(index),
        required_resource_keys=resource_keys(names),
        # On the asset, not only on the job: a materialization launched from the UI retries
        # like one launched by a schedule or the sensor.
        retry_policy=SYNC_RETRY_POLICY,
        freshness_policy=freshness_policy(orchestration.freshness),
    )
    def _index_asset(context: dg.AssetExecutionContext) -> dg.MaterializeResult:  # type: ignore[type-arg]
        mode = context.partition_key
        if mode not in ("full", "incremental"):
            raise dg.Failure(f"unknown partition {mode!r}", allow_retries=False)
        settings = meilisearch_of(context, names).settings()
        state = DagsterRunState(context, meilisearch_url=settings.url, names=names)
        try:
            with (
                source_slot(context, source_slots, holder=index.name),
                bound_runner(context, names, state=state).session() as session,
            ):
                context.log.info(f"{index.name}: {mode} sync started")
                result = session.sync(
                    index, mode, on_progress=ProgressReporter(index.name, context.log.info)
                )
                fields = session.document_fields(index)
        except Exception as e:
            raise run_failure(e) from e
        return dg.MaterializeResult(
            metadata=synced(
                context, index, result, fields, meilisearch_url=settings.url, names=names
            ),
            check_results=[caught_up(result)],
        )

    return _index_asset


def caught_up(result: SyncResult) -> dg.AssetCheckResult:
    """The ``caught_up`` check of a sync: whether the index held its source's newest change
    when the sync ended. A warning, not an error: the change is the next sync's."""
    return dg.AssetCheckResult(
        check_name=CAUGHT_UP,
        passed=result.caught_up is not False,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "behind_seconds": result.behind_seconds,
            "watermark": result.watermark or "",
            "known": result.caught_up is not None,
        },
        description=None
        if result.caught_up is not None
        else "The source's newest change could not be read after the sync.",
    )


def synced(
    context: dg.AssetExecutionContext | dg.OpExecutionContext,
    index: IndexConfig,
    result: SyncResult,
    fields: tuple[DocumentField, ...],
    *,
    meilisearch_url: str,
    names: Names = DEFAULT_NAMES,
) -> dict[str, Any]:
    """Log a finished sync and observe its table; the materialization's metadata."""
    context.log.info(
        f"{index.name}: {result.mode} sync read {result.rows_read} rows"
        + (
            f" ({result.rows_reread} of them again, in the look-back window)"
            if result.rows_reread
            else ""
        )
        + f", upserted {result.documents_upserted}, deleted {result.documents_deleted} in "
        f"{result.duration_seconds:.1f} s; watermark {result.watermark}"
    )
    if index.table is not None:
        # What the sync saw of its table, so the source asset is observed from the first
        # sync on (a full sync read every live row; an incremental knows the newest change).
        observation = source_observation(names.table_key(index.table), result, context.run.run_id)
        if context.has_assets_def:
            # Stored at once, not with the step's events, and the step's input versions read
            # again: the materialization then records the table's version this sync read,
            # so that Dagster shows the index fresh (it read them when the step started).
            context.instance.report_runless_asset_event(observation)
            reread_input_versions(context)
        else:
            context.log_event(observation)
    return {
        **result_metadata(result, meilisearch_url=meilisearch_url),
        **schema_metadata(index.table, fields, names.table_key),
    }
