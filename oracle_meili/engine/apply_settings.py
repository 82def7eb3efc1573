"""Applying an index's configured settings with no downtime and no read of the source.

Most settings changes make Meilisearch re-index the whole index, and its other tasks wait
meanwhile. So ``apply-settings`` builds a new index with the configured settings from the
live index's own documents (their vectors included), checks that it holds as many
documents, runs the index's search checks on it, and swaps it in: searches are answered by
the live index throughout, and the source is never read. The caller keeps syncs of the
index out meanwhile (the index's pool in Dagster, a lock file with a state file): a sync
during the copy would write to an index about to be replaced.

With ``in_place``, settings that Meilisearch applies at query time
(:data:`IN_PLACE_SETTINGS`, measured on the pinned version by
``bench/settings_in_place.py``) are applied to the live index directly.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import orjson

from oracle_meili.adapters.backend import SearchBackend
from oracle_meili.adapters.payloads import TaskWindow
from oracle_meili.config import IndexConfig
from oracle_meili.config.index_settings import MEILISEARCH_DEFAULTS
from oracle_meili.engine.build import BuildTarget
from oracle_meili.engine.consistency import require_index
from oracle_meili.engine.publish import publish, try_delete
from oracle_meili.engine.search_checks import require_search_checks
from oracle_meili.engine.settings_drift import settings_drift
from oracle_meili.errors import ConfigError, SyncError

log = logging.getLogger(__name__)
# Documents read from the live index per request, and requests at once: two readers took
# 0.40 s for 100,000 documents where one took 0.65 s (the server serializes each page).
COPY_PAGE = 5_000
COPY_READERS = 2
# Settings Meilisearch 1.21 applies without re-indexing: their settings task takes
# milliseconds whatever the index's size (docs/configuration.md gives the measurement).
IN_PLACE_SETTINGS = frozenset(
    {
        "displayedAttributes",
        "rankingRules",
        "synonyms",
        "typoTolerance",
        "pagination",
        "faceting",
        "searchCutoffMs",
    }
)


@dataclass(frozen=True)
class ApplySettingsResult:
    """What ``apply-settings`` changed, and how."""

    index: str
    # ``copy``: a new index built from the live one's documents and swapped in;
    # ``in_place``: applied to the live index; ``unchanged``: nothing differed.
    how: Literal["copy", "in_place", "unchanged"]
    changed: tuple[str, ...]
    documents: int
    search_checks: tuple[str, ...]
    duration_seconds: float


def apply_settings(
    index: IndexConfig,
    client: SearchBackend,
    *,
    in_place: bool = False,
    on_progress: Callable[[int], None] | None = None,
) -> ApplySettingsResult:
    """Give the live index ``index``'s configured settings (see the module docstring).

    ``on_progress(documents)`` is called after each page copied.

    Raises:
        ConfigError: ``in_place`` with a setting Meilisearch re-indexes for.
        SyncError: the new index lacks documents or fails a search check; it is deleted
            and the live index is unchanged.
    """
    started = time.monotonic()
    client.check_health()
    client.prepare_writes()
    require_index(client, index.name)
    changed = tuple(sorted({d.key for d in settings_drift(index, client)}))
    documents = client.document_count(index.name)
    if not changed:
        log.info("index %r has its configured settings already", index.name)
        return ApplySettingsResult(
            index.name, "unchanged", (), documents, (), time.monotonic() - started
        )
    if in_place:
        apply_in_place(index, client, changed)
        return ApplySettingsResult(
            index.name, "in_place", changed, documents, (), time.monotonic() - started
        )
    checks = rebuild(index, client, on_progress=on_progress)
    return ApplySettingsResult(
        index.name, "copy", changed, documents, checks, time.monotonic() - started
    )


def apply_in_place(index: IndexConfig, client: SearchBackend, changed: tuple[str, ...]) -> None:
    """Apply ``changed`` settings to the live index (each must be query-time only)."""
    reindexing = [key for key in changed if key not in IN_PLACE_SETTINGS]
    if reindexing:
        raise ConfigError(
            f"index {index.name!r}: --in-place cannot apply {', '.join(reindexing)}: "
            "Meilisearch re-indexes the whole index for them, blocking its other tasks; "
            "apply them without --in-place (a new index, swapped in)"
        )
    configured = index.meilisearch_settings
    # A setting no longer configured goes back to Meilisearch's default.
    settings = {key: configured.get(key, MEILISEARCH_DEFAULTS[key]) for key in changed}
    client.wait(client.update_settings(index.name, settings), index.name)
    log.info("index %r: %s applied in place", index.name, ", ".join(changed))


def rebuild(
    index: IndexConfig, client: SearchBackend, *, on_progress: Callable[[int], None] | None
) -> tuple[str, ...]:
    """Build a new index with the configured settings from the live one's documents, check
    it and swap it in; the search checks' outcomes."""
    primary_key = client.primary_key(index.name)
    # Other builds are left alone: one may be an interrupted full sync's, kept for its
    # resume (the next full sync deletes those it does not resume).
    build = BuildTarget.fresh(index.name, started=dt.datetime.now(dt.UTC)).uid
    client.create_index(build, primary_key=primary_key, settings=index.meilisearch_settings)
    try:
        copy_documents(client, live=index.name, build=build, primary_key=primary_key,
                       on_progress=on_progress)  # fmt: skip
        live, built = client.document_count(index.name), client.document_count(build)
        if built != live:
            raise SyncError(
                f"index {index.name!r}: the new index holds {built} documents, the live one "
                f"{live}; the live index was not changed"
            )
        outcomes = (
            require_search_checks(client, index, uid=build, id_field=primary_key)
            if index.search_checks
            else []
        )
        publish(client, live=index.name, build=build)
    except BaseException:
        try_delete(client, build)
        raise
    log.info("index %r: settings applied through a new index (%d documents)", index.name, live)
    return tuple(o.describe() for o in outcomes)


def copy_documents(
    client: SearchBackend,
    *,
    live: str,
    build: str,
    primary_key: str,
    on_progress: Callable[[int], None] | None,
) -> int:
    """Every document of ``live``, with its vectors, into ``build``: pages read one at a
    time, sent as NDJSON payloads of at most ``max_payload_bytes``, a bounded window of
    tasks in flight. How many were copied."""
    window = TaskWindow(client, build, limit=client.config.max_tasks_in_flight)
    limit = client.config.max_payload_bytes
    payload = bytearray()
    copied = 0

    def send() -> None:
        window.add(client.add_documents(build, payload, primary_key=primary_key))
        payload.clear()  # the task holds what it sent: the request body was read whole

    pages = client.documents(live, chunk=COPY_PAGE, retrieve_vectors=True, readers=COPY_READERS)
    for page in pages:
        for document in page:
            # Vectors come back as {"embeddings": [...], "regenerate": false}, which
            # Meilisearch takes back as they are.
            line = orjson.dumps(document) + b"\n"
            if payload and len(payload) + len(line) > limit:
                send()
            payload.extend(line)
        copied += len(page)
        if on_progress is not None:
            on_progress(copied)
    if payload:
        send()
    window.wait_all()
    return copied
