"""Per-index locks between processes that share a state file: a sync, ``follow`` and
``apply-settings`` of one index never overlap.

A lock is an advisory ``flock`` on ``.oracle-meili-<index>.lock`` beside the state file,
taken without waiting. The kernel releases it when its holder exits, killed or not, so a
dead process never leaves an index locked. (With the Dagster instance as state, the
index's concurrency pool plays this part: see ``defs/throttle.py``.)
"""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

from oracle_meili.config import IndexConfig
from oracle_meili.errors import OracleMeiliError


class IndexBusyError(OracleMeiliError):
    """Another process holds the index (a sync, ``follow`` or ``apply-settings``)."""


class IndexLocks:
    """The per-index locks of the state files in a directory. Call with an index: a context
    manager that yields whether the lock was taken."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def __call__(self, index: IndexConfig) -> AbstractContextManager[bool]:
        return self._held(index)

    @contextmanager
    def _held(self, index: IndexConfig) -> Iterator[bool]:
        path = self.directory / f".oracle-meili-{index.name}.lock"
        with path.open("a") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                yield False
                return
            try:
                yield True
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)
