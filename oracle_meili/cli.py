"""``oracle-meili``: the sync engine from the shell. State (watermarks, checkpoints,
history) lives in the Dagster instance when ``DAGSTER_HOME`` names one, else in
``sync_state.json``; ``--state FILE`` or ``--dagster`` choose.

Exit status 0 on success; on failure a one-line reason on stderr and status 1 (2 for usage
errors). ``--debug`` shows the traceback.
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import sys
from collections.abc import Sequence
from pathlib import Path

from oracle_meili import demo
from oracle_meili.cli_commands import (
    apply_settings_command,
    demo_command,
    follow_command,
    meilisearch_command,
    reconcile_command,
    reshard_command,
    sync_command,
)
from oracle_meili.cli_reports import check_command, history_command, status_command
from oracle_meili.config import demo_environment
from oracle_meili.errors import OracleMeiliError
from oracle_meili.state_stores import DEFAULT_STATE

log = logging.getLogger("oracle_meili")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    # A second terminal beside `./dev demo` reaches the demo's servers, instance and
    # configuration through the file it writes; the environment and .env come first.
    for name, value in demo_environment().items():
        os.environ.setdefault(name, value)
    level = args.log_level or os.environ.get("LOG_LEVEL", "INFO").upper()
    if level not in LOG_LEVELS:
        print(f"oracle-meili: LOG_LEVEL must be one of {', '.join(LOG_LEVELS)}", file=sys.stderr)
        return 2
    # force=True: the level applies even when logging was configured before (tests, embedding).
    logging.basicConfig(
        level=level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
        force=True,
    )
    # The Dagster instance's storage migrations log every step at INFO: not ours to show.
    logging.getLogger("alembic").setLevel(logging.DEBUG if level == "DEBUG" else logging.WARNING)
    try:
        result: int = args.handler(args)
        return result
    except (OracleMeiliError, OSError) as e:
        if args.debug:
            raise
        print(f"oracle-meili: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("oracle-meili: interrupted", file=sys.stderr)
        return 130


def _parser() -> argparse.ArgumentParser:
    # The module's docstring, without its reStructuredText quotes (a terminal shows them).
    description = re.sub(r"``([^`]+)``", r"\1", __doc__ or "")
    parser = argparse.ArgumentParser(prog="oracle-meili", description=description)
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    parser.add_argument("--log-level", choices=LOG_LEVELS, help="default: $LOG_LEVEL or INFO")
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    def command(name: str, handler: object, help: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help, description=help)
        sub.set_defaults(handler=handler)
        return sub

    def with_config(sub: argparse.ArgumentParser) -> None:
        sub.add_argument("--config", help="YAML configuration (default: $ORACLE_MEILI_CONFIG)")
        state = sub.add_mutually_exclusive_group()
        state.add_argument(
            "--state",
            help=f"state file (default: the Dagster instance when DAGSTER_HOME is set, "
            f"else {DEFAULT_STATE})",
        )
        state.add_argument(
            "--dagster",
            action="store_true",
            help="keep state in the Dagster instance ($DAGSTER_HOME): watermarks, "
            "checkpoints and history shared with Dagster runs",
        )

    sync = command("sync", sync_command, "sync one index from its source")
    with_config(sync)
    sync.add_argument("--index", required=True, help="the index to sync (its name)")
    sync.add_argument(
        "--mode",
        choices=["full", "incremental"],
        required=True,
        help="full: rebuild the index with zero downtime; incremental: what changed since "
        "the watermark",
    )

    reconcile_cmd = command(
        "reconcile", reconcile_command, "delete documents whose rows are gone from the source"
    )
    reconcile_cmd.add_argument(
        "--config", help="YAML configuration (default: $ORACLE_MEILI_CONFIG)"
    )
    reconcile_cmd.add_argument("--index", required=True, help="the index to reconcile")
    reconcile_cmd.add_argument("--dry-run", action="store_true", help="count orphans only")
    reconcile_cmd.add_argument(
        "--force",
        action="store_true",
        help="delete even more than the index's max_delete_share (default 10 %%) of it",
    )

    reshard_cmd = command(
        "reshard", reshard_command, "move documents to their shard after meilisearch.shards changed"
    )
    reshard_cmd.add_argument("--config", help="YAML configuration (default: $ORACLE_MEILI_CONFIG)")
    reshard_cmd.add_argument("--index", required=True, help="the index to reshard")
    reshard_cmd.add_argument(
        "--from",
        dest="leaving",
        action="append",
        default=[],
        metavar="NAME=URL",
        help="a server removed from the shards, whose documents are moved off it "
        "(its key: MEILI_API_KEY_<NAME>); repeatable",
    )

    apply = command(
        "apply-settings",
        apply_settings_command,
        "give the live index its configured settings, built from its own documents",
    )
    with_config(apply)
    apply.add_argument("--index", required=True, help="the index whose settings to apply")
    apply.add_argument(
        "--in-place",
        action="store_true",
        help="apply query-time settings to the live index directly (an error for others)",
    )

    check = command(
        "check",
        check_command,
        "compare an index with its source, document by document, and run its search checks",
    )
    check.add_argument("--config", help="YAML configuration (default: $ORACLE_MEILI_CONFIG)")
    check.add_argument("--index", required=True, help="the index to check")
    check.add_argument("--json", action="store_true", help="print the report as one JSON line")

    status = command(
        "status",
        status_command,
        "last successful sync per index, and whether its settings are the configured ones",
    )
    with_config(status)
    status.add_argument("--index", help="one index (default: all)")

    history = command("history", history_command, "recent syncs of an index, newest first")
    with_config(history)
    history.add_argument("--index", required=True, help="the index whose syncs to list")
    history.add_argument("--limit", type=int, default=20, help="how many syncs (default: 20)")

    demo_cmd = command("demo", demo_command, "create the embedded demo source (SQLite)")
    demo_cmd.add_argument(
        "--rows",
        type=int,
        default=demo.DEFAULT_ROWS,
        help="products to create (default: %(default)s)",
    )
    demo_cmd.add_argument(
        "--path", default=str(demo.DEFAULT_PATH), help="the SQLite file (default: %(default)s)"
    )

    follow_cmd = command("follow", follow_command, "keep indexes in sync continuously")
    with_config(follow_cmd)
    follow_cmd.add_argument("--index", help="one index (default: all)")
    follow_cmd.add_argument(
        "--interval",
        type=float,
        default=0.5,
        help="seconds between change probes (default %(default)s: the probe is one MAX(cursor))",
    )

    server = command("meilisearch", meilisearch_command, "run the pinned Meilisearch locally")
    server.add_argument(
        "--data-dir", default=".state/meilisearch", help="its data (default: %(default)s)"
    )
    server.add_argument(
        "--port", type=int, default=7700, help="on 127.0.0.1 (default: %(default)s)"
    )
    server.add_argument("--log", type=Path, help="server log file (default: in the data dir)")
    return parser


if __name__ == "__main__":
    sys.exit(main())
