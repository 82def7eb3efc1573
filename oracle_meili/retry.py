"""Retries of transient failures, with exponential backoff and jitter (seed TEST-090, TEST-091).

Retried (each is safe to repeat: reads, status polls, idempotent document uploads):
- Meilisearch unreachable or timing out, HTTP 5xx and 429 answers
  (:class:`MeilisearchUnavailableError`, :class:`MeilisearchTransientError`);
- the source connection lost or the database busy (:class:`SourceTransientError`).

Never retried, because the same call would fail the same way: configuration errors, bad
rows (:class:`DocumentError`), failed Meilisearch tasks (:class:`MeilisearchTaskError`: a
bad document or setting), other Meilisearch 4xx answers (auth, not found, invalid
request), SQL errors, and a count mismatch after a full sync (:class:`SyncError`).
"""

from __future__ import annotations

import logging

import tenacity

from oracle_meili.errors import (
    MeilisearchTransientError,
    MeilisearchUnavailableError,
    SourceTransientError,
)

log = logging.getLogger(__name__)

TRANSIENT_ERRORS = (MeilisearchUnavailableError, MeilisearchTransientError, SourceTransientError)
DEFAULT_RETRIES = 3
INITIAL_WAIT_SECONDS = 0.5
MAX_WAIT_SECONDS = 10.0


def retrying(retries: int = DEFAULT_RETRIES) -> tenacity.Retrying:
    """``retries`` more attempts after the first, for transient errors only."""
    return tenacity.Retrying(
        retry=tenacity.retry_if_exception_type(TRANSIENT_ERRORS),
        stop=tenacity.stop_after_attempt(retries + 1),
        wait=tenacity.wait_exponential_jitter(
            multiplier=INITIAL_WAIT_SECONDS, max=MAX_WAIT_SECONDS
        ),
        before_sleep=_log_retry,
        reraise=True,
    )


def _log_retry(state: tenacity.RetryCallState) -> None:
    error = state.outcome.exception() if state.outcome else None
    wait = state.next_action.sleep if state.next_action else 0.0
    log.warning("attempt %d failed (%s); retrying in %.1f s", state.attempt_number, error, wait)
