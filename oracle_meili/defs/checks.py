"""Consistency of each index with its source, as Dagster asset checks (PERF-002).

No ``from __future__ import annotations``: Dagster reads the check function's annotations.
"""

from collections.abc import Iterator, Sequence

import dagster as dg

from oracle_meili.config import IndexConfig
from oracle_meili.defs.names import (
    CONSISTENCY_CHECKS,
    CONTENT_PARITY,
    COUNT_PARITY,
    DEFAULT_NAMES,
    NO_ORPHANS,
    Names,
    pool_name,
)
from oracle_meili.defs.resources import bound_runner, resource_keys
from oracle_meili.defs.throttle import pool_slot
from oracle_meili.engine.consistency import REQUIRED_PERCENT, ConsistencyReport
from oracle_meili.errors import OracleMeiliError
from oracle_meili.progress import ProgressReporter


def build_consistency_checks(
    indexes: Sequence[IndexConfig], names: Names = DEFAULT_NAMES
) -> dg.AssetChecksDefinition:
    """Three checks on each index's asset, computed by one pass over the index: one check
    definition for every index (one op, like the jobs), so that loading the code location
    does not build an op per index."""
    by_key = {names.index_key(index): index for index in indexes}

    @dg.multi_asset_check(
        name=names(CONSISTENCY_CHECKS),
        required_resource_keys=resource_keys(names),
        # Each check can be executed on its own from the Checks tab; the pass over the
        # index and the table is the same, only the requested results are reported.
        can_subset=True,
        specs=[spec for key in by_key for spec in _specs(key)],
    )
    def _consistency(context: dg.AssetCheckExecutionContext) -> Iterator[dg.AssetCheckResult]:
        selected = context.selected_asset_check_keys
        failed: list[str] = []
        for key in sorted({check.asset_key for check in selected}, key=str):
            index = by_key[key]
            try:
                report = _check(context, index, names)
            except OracleMeiliError as e:
                context.log.error(f"{index.name}: the checks could not run: {e}")
                failed.append(f"{index.name}: {e}")
                continue
            context.log.info(report.summary())
            wanted = {check.name for check in selected if check.asset_key == key}
            for result in _results(key, report):
                if result.check_name in wanted:
                    yield result
        if failed:
            raise dg.Failure("the checks of " + "; ".join(failed))

    return _consistency


def _specs(key: dg.AssetKey) -> list[dg.AssetCheckSpec]:
    return [
        dg.AssetCheckSpec(COUNT_PARITY, asset=key, description="Documents = live rows."),
        dg.AssetCheckSpec(
            CONTENT_PARITY,
            asset=key,
            description=f"At least {REQUIRED_PERCENT} % of live rows match their document.",
        ),
        dg.AssetCheckSpec(NO_ORPHANS, asset=key, description="No document without a row."),
    ]


def _check(
    context: dg.AssetCheckExecutionContext, index: IndexConfig, names: Names
) -> ConsistencyReport:
    """One pass over the index and its table, in the index's pool: never beside a sync of it
    (a swap mid-check would compare the wrong index)."""
    op_context = context.op_execution_context
    why = "a sync of the index holds it"
    holder = f"{CONSISTENCY_CHECKS}/{index.name}"
    with (
        pool_slot(op_context, pool_name(index), holder=holder, why=why),
        bound_runner(context, names).session() as session,
    ):
        return session.check(
            index, on_progress=ProgressReporter.per_side(index.name, context.log.info)
        )


def _results(key: dg.AssetKey, report: ConsistencyReport) -> Iterator[dg.AssetCheckResult]:
    """The three checks' results from one consistency report."""
    yield dg.AssetCheckResult(
        asset_key=key,
        check_name=COUNT_PARITY,
        passed=report.index_documents == report.source_rows,
        metadata={
            "source_rows": report.source_rows,
            "index_documents": report.index_documents,
            "missing": report.missing,
        },
    )
    yield dg.AssetCheckResult(
        asset_key=key,
        check_name=CONTENT_PARITY,
        passed=report.consistent_percent >= REQUIRED_PERCENT,
        metadata={
            "consistent_percent": dg.MetadataValue.float(round(report.consistent_percent, 4)),
            "matching": report.matching,
            "mismatched": report.mismatched,
            "mismatch_sample": dg.MetadataValue.json(list(report.mismatch_sample)),
        },
    )
    yield dg.AssetCheckResult(
        asset_key=key,
        check_name=NO_ORPHANS,
        passed=report.orphans == 0,
        metadata={
            "orphans": report.orphans,
            "orphan_sample": dg.MetadataValue.json(list(report.orphan_sample)),
        },
    )
