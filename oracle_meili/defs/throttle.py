"""At most ``source.max_concurrent_syncs`` syncs read the source at once, whichever indexes
they are for: a slot of the source's Dagster pool, held while a sync reads and writes.

The sync step already holds its index's own pool (``oracle_meili/<index>``), which Dagster
claims before the step starts; an op belongs to one pool only, so the source's slot is
claimed inside the step through the same instance storage Dagster's pools use. The run
that holds it shows in the UI's concurrency page, and Dagster frees it when the run ends,
however it ends.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass

import dagster as dg
import sqlalchemy as sa

from oracle_meili.adapters.database import source_identity
from oracle_meili.config import IndexConfig, SourceConfig
from oracle_meili.defs.dagster_private import (
    claim_slot,
    free_run_slots,
    free_slot,
    pool_is_limited,
    pool_limit,
    pool_run_ids,
    set_pool_limit,
)
from oracle_meili.defs.names import pool_name


@dataclass(frozen=True)
class SourceSlots:
    """The source's pool and how many syncs may hold a slot of it at once."""

    pool: str
    limit: int

    @classmethod
    def of(cls, source: SourceConfig) -> SourceSlots | None:
        """The source's slots, or None when ``max_concurrent_syncs`` is not set."""
        if source.max_concurrent_syncs is None:
            return None
        return cls(f"oracle_meili/source/{source_identity(source)}", source.max_concurrent_syncs)


def ensure_pool_limit(instance: dg.DagsterInstance, pool: str, limit: int) -> None:
    """Give ``pool`` the configured ``limit``. Steps of one run start at once (the slices):
    when two create the pool's row at the same moment, the second's insert fails on the
    unique key; the limit is then the one the other set, read back."""
    for _ in range(3):
        if pool_limit(instance, pool) == limit:
            return
        try:
            set_pool_limit(instance, pool, limit)
            return
        except sa.exc.IntegrityError:
            continue
    set_pool_limit(instance, pool, limit)


@contextmanager
def source_slot(
    context: dg.AssetExecutionContext | dg.OpExecutionContext,
    slots: SourceSlots | None,
    *,
    holder: str,
) -> Iterator[None]:
    """Hold one of the source's slots (waiting for one) for the duration of the block."""
    if slots is None:
        yield
        return
    # The configuration is the limit's one source of truth.
    ensure_pool_limit(context.instance, slots.pool, slots.limit)
    # A label of its own: freeing this slot must not free the index pool's slot of the step.
    why = f"{slots.limit} sync(s) read the source at once (source.max_concurrent_syncs)"
    with pool_slot(context, slots.pool, holder=f"{holder}/source_slot", why=why):
        yield


@contextmanager
def pool_slot(
    context: dg.AssetExecutionContext | dg.OpExecutionContext,
    pool: str,
    *,
    holder: str,
    why: str,
) -> Iterator[None]:
    """Hold a slot of ``pool`` (waiting for one, and saying ``why`` once) for the block: for
    an op whose pool depends on its run's configuration (one job for every index)."""
    instance = context.instance
    if not pool_is_limited(instance, pool):
        yield
        return
    waited = False
    while (wait := claim_slot(instance, pool, context.run_id, holder)) is not None:
        if not waited:
            context.log.info(f"waiting for a slot of {pool}: {why}")
            waited = True
        time.sleep(wait)
    try:
        yield
    finally:
        free_slot(instance, context.run_id, holder)


@contextmanager
def slot_if_free(
    instance: dg.DagsterInstance, pool: str, *, run_id: str, holder: str
) -> Iterator[bool]:
    """Hold a slot of ``pool`` for the block if one is free now; yields whether it was.

    For a run that syncs many indexes one after another (the follow run): it tries again at
    its next poll rather than wait here. A claim that fails leaves nothing queued, so it
    never stands before a sync run waiting for the same slot."""
    if not pool_is_limited(instance, pool):
        yield True  # no limit on this pool: nothing to hold
        return
    if claim_slot(instance, pool, run_id, holder) is not None:
        free_slot(instance, run_id, holder)  # off the queue
        yield False
        return
    try:
        yield True
    finally:
        free_slot(instance, run_id, holder)


# The claims of `oracle-meili follow` processes (no Dagster run): host and pid name them.
FOLLOWER_PREFIX = "oracle-meili-follow:"


def follower_exclusion(
    instance: dg.DagsterInstance,
) -> Callable[[IndexConfig], AbstractContextManager[bool]]:
    """For ``oracle-meili follow`` with Dagster state: each sync holds the index's pool,
    as a sync run does, so neither overlaps the other. The claims are this process's (host
    and pid); those of a follower on this host that died (kill -9) are freed first, since no
    run ends for them and Dagster's run monitoring never frees them."""
    host = socket.gethostname()
    for run_id in pool_run_ids(instance):
        if run_id.startswith(f"{FOLLOWER_PREFIX}{host}:"):
            pid = int(run_id.rsplit(":", 1)[1])
            if not process_alive(pid):
                free_run_slots(instance, run_id)
    me = f"{FOLLOWER_PREFIX}{host}:{os.getpid()}"

    @contextmanager
    def exclusive(index: IndexConfig) -> Iterator[bool]:
        with slot_if_free(instance, pool_name(index), run_id=me, holder=index.name) as held:
            yield held

    return exclusive


def process_alive(pid: int) -> bool:
    """Whether a process ``pid`` runs on this host (signal 0: nothing is sent)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
