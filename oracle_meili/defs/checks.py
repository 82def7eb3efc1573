"""Consistency of each index with its source, as Dagster asset checks (PERF-002).

No ``from __future__ import annotations``: Dagster reads the check function's annotations.
"""

from collections.abc import Iterator

import dagster as dg

from oracle_meili.config import IndexConfig
from oracle_meili.defs.names import (
    CONTENT_PARITY,
    COUNT_PARITY,
    DEFAULT_NAMES,
    NO_ORPHANS,
    Names,
    consistency_checks_name,
    pool_name,
)
from oracle_meili.defs.resources import bound_runner, resource_keys
from oracle_meili.engine.consistency import REQUIRED_PERCENT, ConsistencyReport
from oracle_meili.progress import ProgressReporter


def build_consistency_checks(
    index: IndexConfig, names: Names = DEFAULT_NAMES
) -> dg.AssetChecksDefinition:
    """Three checks on the index's asset, computed by one pass over the index."""
    key = names.index_key(index)

    @dg.multi_asset_check(
        name=names(consistency_checks_name(index)),
        required_resource_keys=resource_keys(names),
        # In the index's pool: never beside a sync of it (a swap mid-check would compare
        # the wrong index).
        pool=pool_name(index),
        # Each check can be executed on its own from the Checks tab; the pass over the
        # index and the table is the same, only the requested results are reported.
        can_subset=True,
        specs=[
            dg.AssetCheckSpec(COUNT_PARITY, asset=key, description="Documents = live rows."),
            dg.AssetCheckSpec(
                CONTENT_PARITY,
                asset=key,
                description=f"At least {REQUIRED_PERCENT} % of live rows match their document.",
            ),
            dg.AssetCheckSpec(NO_ORPHANS, asset=key, description="No document without a row."),
        ],
    )
    def _consistency(context: dg.AssetCheckExecutionContext) -> Iterator[dg.AssetCheckResult]:
        with bound_runner(context, names).session() as session:
            report = session.check(
                index, on_progress=ProgressReporter.per_side(index.name, context.log.info)
            )
        context.log.info(report.summary())
        wanted = {check.name for check in context.selected_asset_check_keys}
        for result in _results(key, report):
            if result.check_name in wanted:
                yield result

    return _consistency


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
