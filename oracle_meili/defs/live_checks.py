"""Checks of each live index that read only it: ``settings_match`` (its settings are the
configured ones) and its search checks (``search_checks:``).

No ``from __future__ import annotations``: Dagster reads the check function's annotations.
"""

from collections.abc import Iterator, Sequence

import dagster as dg

from oracle_meili.config import IndexConfig, search_check_names
from oracle_meili.defs.names import (
    CAUGHT_UP,
    CONTENT_PARITY,
    COUNT_PARITY,
    DEFAULT_NAMES,
    NO_ORPHANS,
    SEARCH_CHECKS,
    SETTINGS_CHECKS,
    SETTINGS_MATCH,
    Names,
)
from oracle_meili.defs.resources import bound_runner, resource_keys
from oracle_meili.engine.search_checks import SearchCheckOutcome
from oracle_meili.engine.settings_drift import SettingDifference
from oracle_meili.errors import ConfigError, OracleMeiliError

_RESERVED = frozenset({CAUGHT_UP, COUNT_PARITY, CONTENT_PARITY, NO_ORPHANS, SETTINGS_MATCH})


def build_settings_checks(
    indexes: Sequence[IndexConfig], names: Names = DEFAULT_NAMES
) -> dg.AssetChecksDefinition:
    """``settings_match`` on every index: one definition for all, like the other checks."""
    by_key = {names.index_key(i): i for i in indexes}

    @dg.multi_asset_check(
        name=names(SETTINGS_CHECKS),
        required_resource_keys=resource_keys(names),
        can_subset=True,
        specs=[
            dg.AssetCheckSpec(
                SETTINGS_MATCH,
                asset=key,
                description="The live index has the configured settings (on every shard).",
            )
            for key in by_key
        ],
    )
    def _settings(context: dg.AssetCheckExecutionContext) -> Iterator[dg.AssetCheckResult]:
        failed: list[str] = []
        with bound_runner(context, names).session() as session:
            for check in sorted(context.selected_asset_check_keys, key=str):
                index = by_key[check.asset_key]
                try:
                    drift = session.settings_drift(index)
                except OracleMeiliError as e:
                    context.log.error(f"{index.name}: the settings could not be read: {e}")
                    failed.append(f"{index.name}: {e}")
                    continue
                yield settings_result(check.asset_key, drift)
        if failed:
            raise dg.Failure("the settings checks of " + "; ".join(failed))

    return _settings


def settings_result(key: dg.AssetKey, drift: list[SettingDifference]) -> dg.AssetCheckResult:
    """``settings_match``: a warning naming each key that differs, with both values (a
    changed ``settings:`` waits for a full sync or ``apply-settings``)."""
    return dg.AssetCheckResult(
        asset_key=key,
        check_name=SETTINGS_MATCH,
        passed=not drift,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "differing_keys": ", ".join(sorted({d.key for d in drift})) or "none",
            "differences": dg.MetadataValue.json(
                [
                    {"key": d.key, "server": d.server, "configured": d.configured, "live": d.live}
                    for d in drift
                ]
            ),
        },
    )


def build_search_checks(
    indexes: Sequence[IndexConfig], names: Names = DEFAULT_NAMES
) -> dg.AssetChecksDefinition | None:
    """One check per search check of every index, in one definition (like the consistency
    checks); None when no index has search checks.

    Raises:
        ConfigError: a search check is named like one of oracle-meili's own checks.
    """
    by_key = {names.index_key(i): i for i in indexes if i.search_checks}
    if not by_key:
        return None
    specs = [spec for key, index in by_key.items() for spec in _specs(key, index)]

    @dg.multi_asset_check(
        name=names(SEARCH_CHECKS),
        required_resource_keys=resource_keys(names),
        can_subset=True,
        specs=specs,
    )
    def _searches(context: dg.AssetCheckExecutionContext) -> Iterator[dg.AssetCheckResult]:
        selected = context.selected_asset_check_keys
        failed: list[str] = []
        with bound_runner(context, names).session() as session:
            for key in sorted({check.asset_key for check in selected}, key=str):
                index = by_key[key]
                wanted = {check.name for check in selected if check.asset_key == key}
                try:
                    outcomes = session.search_checks(index)
                except OracleMeiliError as e:
                    context.log.error(f"{index.name}: the search checks could not run: {e}")
                    failed.append(f"{index.name}: {e}")
                    continue
                for outcome in outcomes:
                    if outcome.name in wanted:
                        context.log.info(f"{index.name}: {outcome.describe()}")
                        yield search_check_result(key, outcome)
        if failed:
            raise dg.Failure("the search checks of " + "; ".join(failed))

    return _searches


def _specs(key: dg.AssetKey, index: IndexConfig) -> list[dg.AssetCheckSpec]:
    names = search_check_names(index.search_checks)
    specs = []
    for name, check in zip(names, index.search_checks, strict=True):
        if name in _RESERVED:
            raise ConfigError(
                f"index {index.name!r}: search check {name!r} is named like an oracle-meili "
                "check; give it another name"
            )
        specs.append(
            dg.AssetCheckSpec(name, asset=key, description=f"The search {check.q!r} still works.")
        )
    return specs


def search_check_result(key: dg.AssetKey, outcome: SearchCheckOutcome) -> dg.AssetCheckResult:
    """A search check's result, with what came back: the hits' count, the first hits' ids
    and (with ``show``) the field the check shows."""
    metadata: dict[str, dg.RawMetadataValue] = {
        "query": outcome.check.q,
        "total_hits": outcome.total_hits,
        "top_ids": dg.MetadataValue.json(list(outcome.top_ids)),
        "problems": "; ".join(outcome.problems) or "none",
        "duration_seconds": dg.MetadataValue.float(round(outcome.duration_seconds, 4)),
    }
    if outcome.check.show is not None:
        metadata[f"top_{outcome.check.show}"] = dg.MetadataValue.json(list(outcome.shown))
    return dg.AssetCheckResult(
        asset_key=key,
        check_name=outcome.name,
        passed=outcome.passed,
        metadata=metadata,
        description=outcome.describe(),
    )
