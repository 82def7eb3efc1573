"""The ``oracle-meili`` commands that write: ``sync``, ``apply-settings``, ``follow``,
``reconcile``, ``reshard``, and the demo's ``demo`` and ``meilisearch``."""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import os
import signal
import sys
import threading
from dataclasses import asdict
from pathlib import Path

import orjson

from oracle_meili import demo
from oracle_meili.adapters.server import meilisearch_server
from oracle_meili.config import environment, leaving_servers, load_config
from oracle_meili.engine.follow import follow
from oracle_meili.engine.result import SyncResult
from oracle_meili.engine.runner import Runner
from oracle_meili.errors import ConfigError
from oracle_meili.progress import ProgressReporter, terminal_progress
from oracle_meili.state_stores import exclusion_of, holding_index, state_store

log = logging.getLogger("oracle_meili")


def sync_command(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    index = config.index(args.index)
    with holding_index(args, config, index) as state:
        runner = Runner(config.source, config.meilisearch, state=state)
        result = runner.run(index, args.mode, on_progress=terminal_progress(index.name, log.info))
    if sys.stderr.isatty():
        print(file=sys.stderr)  # end the progress line
    print(orjson.dumps(result.to_json()).decode())
    return 0


def apply_settings_command(args: argparse.Namespace) -> int:
    """Give the live index its configured settings; one JSON line of what changed."""
    config = load_config(args.config)
    index = config.index(args.index)
    with (
        holding_index(args, config, index),
        Runner(config.source, config.meilisearch).session() as session,
    ):
        result = session.apply_settings(
            index,
            in_place=args.in_place,
            on_progress=lambda copied: log.info("%s: %d documents copied", index.name, copied),
        )
    print(orjson.dumps(asdict(result)).decode())
    return 0


def follow_command(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    indexes = [config.index(args.index)] if args.index else list(config.indexes)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())

    def report(result: SyncResult) -> None:
        log.info(
            "%s: read %d, upserted %d, deleted %d in %.2f s; watermark %s",
            result.index,
            result.rows_read,
            result.documents_upserted,
            result.documents_deleted,
            result.duration_seconds,
            result.watermark,
        )

    with state_store(args, config) as state:
        runner = Runner(config.source, config.meilisearch, state=state)
        log.info(
            "following %s every %.1f s (stop with SIGTERM or Ctrl-C)",
            ", ".join(i.name for i in indexes),
            args.interval,
        )
        syncs = follow(
            runner,
            indexes,
            interval_seconds=args.interval,
            stop=stop,
            exclusive=exclusion_of(state),
            on_sync=report,
        )
    log.info("stopped after %d syncs", syncs)
    return 0


def reconcile_command(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    index = config.index(args.index)
    with Runner(config.source, config.meilisearch).session() as session:
        result = session.reconcile(
            index,
            dry_run=args.dry_run,
            force=args.force,
            on_progress=ProgressReporter.per_side(index.name, log.info),
        )
    print(orjson.dumps(asdict(result)).decode())
    return 0


def reshard_command(args: argparse.Namespace) -> int:
    """Move documents to their shard after ``meilisearch.shards`` changed."""
    config = load_config(args.config)
    index = config.index(args.index)
    servers = {}
    for spec in args.leaving:
        name, separator, url = spec.partition("=")
        if not separator:
            raise ConfigError(f"--from: NAME=URL of a server leaving the shards (got {spec!r})")
        servers[name] = url
    leaving = leaving_servers(config.meilisearch, servers, environment())
    with Runner(config.source, config.meilisearch).session() as session:
        result = session.reshard(
            index,
            leaving=leaving,
            on_progress=lambda shard, moved: log.info(
                "%s: %d documents to move off %s", index.name, moved, shard
            ),
        )
    print(orjson.dumps(asdict(result)).decode())
    return 0


def demo_command(args: argparse.Namespace) -> int:
    # Changes spread up to this moment (naive UTC, as the demo's columns are).
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)
    path = demo.create_demo(args.path, rows=args.rows, until=now)
    deleted = demo.soft_deleted(path)
    print(
        f"demo source: {path} ({args.rows:,} products, {deleted:,} of them soft-deleted: "
        f"{args.rows - deleted:,} to index)"
    )
    return 0


def meilisearch_command(args: argparse.Namespace) -> int:
    """Run a local Meilisearch in the foreground until interrupted."""
    key = os.environ.get("MEILI_MASTER_KEY") or os.environ.get("MEILI_API_KEY")
    # Set before the server starts, so a SIGTERM at any moment stops it with this process.
    # NOTE: not signal.pause(): a signal that lands between the handler's check and the
    # pause() call would leave it waiting for ever; the event is looked at every 0.5 s.
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with meilisearch_server(
        data_dir=Path(args.data_dir), port=args.port, master_key=key, log_path=args.log
    ) as server:
        print(f"Meilisearch listening on {server.url}", flush=True)
        while not stop.wait(0.5):
            pass
    return 0
