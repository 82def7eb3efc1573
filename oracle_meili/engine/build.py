"""Where a full sync writes, and what becomes of it: a fresh build, a resumed build, or the
live index itself (``full_strategy: recreate``).

Each target knows how to get ready, to publish itself as the live index, and to discard
itself after a failure; the full sync only calls those three.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from dataclasses import dataclass

from oracle_meili.adapters.backend import SearchBackend, TaskRef
from oracle_meili.config import IndexConfig
from oracle_meili.engine.publish import BUILD_SEPARATOR, delete_stale_builds, publish, try_delete

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BuildTarget:
    """A new index ``uid`` that replaces the live one ``live`` once it is complete."""

    live: str
    uid: str
    # Rows already in ``uid``: those of the interrupted sync this one resumes.
    resumed_rows: int = 0

    @classmethod
    def fresh(cls, live: str, *, started: dt.datetime) -> BuildTarget:
        """A new build index ``<live>__<time>_<random>``."""
        return cls(live, f"{live}{BUILD_SEPARATOR}{started:%Y%m%dT%H%M%S}_{uuid.uuid4().hex[:6]}")

    @property
    def resumed(self) -> bool:
        return self.resumed_rows > 0

    def prepare(self, client: SearchBackend, index: IndexConfig, *, id_field: str) -> None:
        """Create the build index with the index's settings (a resumed one exists already)."""
        if self.resumed:
            log.info(
                "full sync of %r resumes into %r after %d acknowledged rows",
                self.live,
                self.uid,
                self.resumed_rows,
            )
            return
        # Build indexes left by a sync that was killed: only one sync of an index runs at a
        # time, so any that exist now are orphans.
        delete_stale_builds(client, self.live)
        client.create_index(self.uid, primary_key=id_field, settings=index.meilisearch_settings)

    def publish(self, client: SearchBackend) -> list[TaskRef]:
        """Swap the build in (or rename it when nothing is live); the task uids."""
        return publish(client, live=self.live, build=self.uid)

    def discard(self, client: SearchBackend) -> None:
        try_delete(client, self.uid)


@dataclass(frozen=True)
class RecreateTarget(BuildTarget):
    """The live index itself, deleted and loaded again: searches see it fill up."""

    def prepare(self, client: SearchBackend, index: IndexConfig, *, id_field: str) -> None:
        if client.index_exists(self.live):
            client.delete_index(self.live)
        client.create_index(self.live, primary_key=id_field, settings=index.meilisearch_settings)

    def publish(self, client: SearchBackend) -> list[TaskRef]:
        return []

    def discard(self, client: SearchBackend) -> None:
        """Nothing: the live index is the target, and a failed load leaves what it has."""
