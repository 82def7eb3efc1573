"""Where the command line keeps sync state: a state file, or the Dagster instance.

The instance is the default when one is configured, so that the CLI, ``follow`` and
Dagster's runs share watermarks and history without a flag.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from contextlib import contextmanager

from oracle_meili.config import AppConfig, IndexConfig, environment
from oracle_meili.engine.follow import Exclusive
from oracle_meili.engine.locks import IndexBusyError, IndexLocks
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
    """How a sync, ``follow`` and ``apply-settings`` keep from overlapping others on one
    index: with the Dagster instance, each holds the index's pool, as a sync run does; with
    a state file, a lock file per index beside it."""
    if isinstance(state, StateFile):
        return IndexLocks(state.path.resolve().parent)
    from oracle_meili.defs.state import DagsterInstanceState
    from oracle_meili.defs.throttle import follower_exclusion

    assert isinstance(state, DagsterInstanceState)
    return follower_exclusion(state.instance)


@contextmanager
def holding_index(
    args: argparse.Namespace, config: AppConfig, index: IndexConfig
) -> Iterator[StateStore]:
    """The state store, with ``index`` held against other syncs and ``apply-settings`` of
    it (see :func:`exclusion_of`) until the block ends.

    Raises:
        IndexBusyError: another process holds it.
    """
    with state_store(args, config) as state, exclusion_of(state)(index) as held:
        if not held:
            raise IndexBusyError(
                f"index {index.name!r}: another process is syncing it or applying its "
                "settings; run this again when it has finished"
            )
        yield state
