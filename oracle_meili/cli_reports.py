"""The ``oracle-meili`` commands that read: ``check``, ``status`` and ``history``."""

from __future__ import annotations

import argparse
import logging
from typing import Any

import orjson

from oracle_meili.config import IndexConfig, load_config
from oracle_meili.engine.runner import Runner
from oracle_meili.engine.search_checks import SearchCheckOutcome
from oracle_meili.engine.session import Session
from oracle_meili.engine.settings_drift import SettingDifference
from oracle_meili.errors import OracleMeiliError
from oracle_meili.progress import ProgressReporter
from oracle_meili.state_stores import describe_store, state_store

log = logging.getLogger("oracle_meili")
# One line of `history`: times in ISO 8601 (UTC), then the mode, outcome and origin.
HISTORY_ROW = "{:<32}  {:<32}  {:<11}  {:<9}  {:<12}  {}"


def check_command(args: argparse.Namespace) -> int:
    """Print the consistency report, the settings that differ from the configuration and
    the search checks' outcomes; exit 1 unless the index is consistent, has its configured
    settings and passes its search checks."""
    config = load_config(args.config)
    index = config.index(args.index)
    with Runner(config.source, config.meilisearch).session() as session:
        report = session.check(
            index,
            on_progress=ProgressReporter.per_side(index.name, log.info),
        )
        drift = session.settings_drift(index)
        searches = session.search_checks(index)
    if args.json:
        report_json = report.to_json()
        report_json["settings_drift"] = [
            {"key": d.key, "server": d.server, "configured": d.configured, "live": d.live}
            for d in drift
        ]
        report_json["search_checks"] = [search_json(o) for o in searches]
        print(orjson.dumps(report_json).decode())
    else:
        print(report.summary())
        print(settings_line(index, drift))
        for difference in drift:
            print(f"{index.name}:   {describe_difference(difference)}")
        for outcome in searches:
            print(f"{index.name}: {outcome.describe()}")
    return 0 if report.consistent and not drift and all(o.passed for o in searches) else 1


def search_json(outcome: SearchCheckOutcome) -> dict[str, Any]:
    return {
        "name": outcome.name,
        "q": outcome.check.q,
        "passed": outcome.passed,
        "total_hits": outcome.total_hits,
        "top_ids": list(outcome.top_ids),
        "problems": list(outcome.problems),
    }


def settings_line(index: IndexConfig, drift: list[SettingDifference]) -> str:
    """Whether the live index has its configured settings, in one line."""
    if not drift:
        return f"{index.name}: settings as configured"
    keys = sorted({d.key for d in drift})
    return (
        f"{index.name}: settings differ from the configuration: {', '.join(keys)} "
        "(a full sync or `oracle-meili apply-settings` applies them)"
    )


def describe_difference(difference: SettingDifference) -> str:
    return (
        f"{difference.key} on {difference.server}: configured "
        f"{orjson.dumps(difference.configured).decode()}, live "
        f"{orjson.dumps(difference.live).decode()}"
    )


def status_command(args: argparse.Namespace) -> int:
    """Each index's last successful sync, and whether its live settings are the configured
    ones."""
    config = load_config(args.config)
    names = [args.index] if args.index else [i.name for i in config.indexes]
    indexes = [config.index(name) for name in names]
    for index in indexes:
        successes = [
            e for e in recorded_history(args, index.name, 200) if e["outcome"] == "succeeded"
        ]
        last = successes[0] if successes else None
        if last is None:
            print(f"{index.name}: never synced")
        else:
            print(
                f"{index.name}: last {last['mode']} sync finished {last['finished_at']}, "
                f"{last['index_document_count']} documents, watermark {last['watermark']}"
            )
    with Runner(config.source, config.meilisearch).session() as session:
        for index in indexes:
            print(live_settings_line(session, index))
    return 0


def live_settings_line(session: Session, index: IndexConfig) -> str:
    """The settings line of ``status``: unknown (saying why) when the index cannot be read."""
    try:
        if not session.client.index_exists(index.name):
            return f"{index.name}: no live index"
        return settings_line(index, session.settings_drift(index))
    except OracleMeiliError as e:
        return f"{index.name}: settings unknown ({e})"


def history_command(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    config.index(args.index)
    entries = recorded_history(args, args.index, args.limit)
    if not entries:
        print(f"{args.index}: no syncs recorded")
        return 0
    print(HISTORY_ROW.format("started", "finished", "mode", "outcome", "by", "what it did"))
    for e in entries:
        if e["outcome"] == "succeeded":
            again = f" ({e['rows_reread']} again)" if e.get("rows_reread") else ""
            detail = (
                f"read {e['rows_read']}{again}, upserted {e['documents_upserted']}, "
                f"deleted {e['documents_deleted']}, {e['index_document_count']} in index"
            )
            if e.get("rows_skipped"):
                detail += f", skipped {e['rows_skipped']} bad rows"
        else:
            detail = e["error"]
        # A Dagster run (its id's first part, as the UI shows it), or this command line
        # (`sync` or `follow`, outside any run).
        by = f"run {e['run_id'][:8]}" if e.get("run_id") else "CLI"
        print(HISTORY_ROW.format(
            e.get("started_at", ""), e["finished_at"], e["mode"], e["outcome"], by, detail
        ))  # fmt: skip
    return 0


def recorded_history(args: argparse.Namespace, index: str, limit: int) -> list[dict[str, Any]]:
    """Recent syncs of ``index``, newest first, from the chosen state store (named on
    stderr, so that an empty history says where it looked)."""
    with state_store(args, load_config(args.config)) as state:
        log.info("%s: reading %s", index, describe_store(state))
        return state.history(index, limit)
