"""Where the command line keeps sync state: a state file, or the Dagster instance.

The instance is the default when one is configured, so that the CLI, ``follow`` and
Dagster's runs share watermarks and history without a flag.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from contextlib import contextmanager

from oracle_meili.config import AppConfig, environment
from oracle_meili.engine.follow import Exclusive, always
from oracle_meili.engine.state import StateFile, StateStore

DEFAULT_STATE = "sync_state.json"


@contextmanager
def state_store(args: argparse.Namespace, config: AppConfig) -> Iterator[StateStore]:
    """Where state lives, the same choice for sync, follow, status and history: ``--state
    FILE``; or the Dagster instance, with ``--dagster`` or by default when ``DAGSTER_HOME``
    names one (in the environment, ``.env`` or the running demo's ``.state/demo.env``);
    else ``sync_state.json``."""
    home = environment().get("DAGSTER_HOME")
    if args.state is not None or not (args.dagster or home):
        yield StateFile(args.state or DEFAULT_STATE)
        return
    # Imported here: Dagster is loaded only when its instance is asked for.
    from oracle_meili.defs.names import Names, source_kind
    from oracle_meili.defs.state import instance_state

    names = Names(source_kind=source_kind(config.source.url))
    with instance_state(home, meilisearch_url=config.meilisearch.url, names=names) as state:
        yield state


def describe_store(state: StateStore) -> str:
    """Which store this is, for a message."""
    if isinstance(state, StateFile):
        return f"state file {state.path}"
    return "the Dagster instance in $DAGSTER_HOME"


def exclusion_of(state: StateStore) -> Exclusive:
    """How ``follow`` keeps its syncs from overlapping others: with the Dagster instance,
    each sync holds the index's pool, as a sync run does; with a state file, nothing does
    (only one process should sync an index)."""
    if isinstance(state, StateFile):
        return always
    from oracle_meili.defs.state import DagsterInstanceState
    from oracle_meili.defs.throttle import follower_exclusion

    assert isinstance(state, DagsterInstanceState)
    return follower_exclusion(state.instance)
