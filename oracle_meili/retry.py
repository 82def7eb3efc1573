"""Retries of transient failures, with exponential backoff and jitter.

Retried (each is safe to repeat: reads, status polls, idempotent document uploads):
- Meilisearch unreachable or timing out, HTTP 5xx and 429 answers
  (:class:`MeilisearchUnavailableError`, :class:`MeilisearchTransientError`);
- the source connection lost or the database busy (:class:`SourceTransientError`);
- the source database restarting, failing over or out of reach
  (:class:`SourceUnavailableError`, Oracle codes in ``oracle.TRANSIENT_CODES``): retried
  with a longer backoff, for up to :data:`OUTAGE_SECONDS`, since a restart takes minutes.

Never retried, because the same call would fail the same way: configuration errors, bad
rows (:class:`DocumentError`), failed Meilisearch tasks (:class:`MeilisearchTaskError`: a
bad document or setting), other Meilisearch 4xx answers (auth, not found, invalid
request), SQL errors, and a count mismatch after a full sync (:class:`SyncError`).
"""

from __future__ import annotations

import logging

import tenacity

from oracle_meili.errors import (
    OracleMeiliError,
    SourceUnavailableError,
)

log = logging.getLogger(__name__)


def is_retryable(error: BaseException | None) -> bool:
    """Whether the same call may succeed later: the error's own ``retryable`` answer."""
    return isinstance(error, OracleMeiliError) and error.retryable


DEFAULT_RETRIES = 3
INITIAL_WAIT_SECONDS = 0.5
MAX_WAIT_SECONDS = 10.0
# A database outage (restart, failover): waits of 1, 2, 4, ... up to 30 s, for 2 minutes.
OUTAGE_SECONDS = 120.0
OUTAGE_INITIAL_WAIT_SECONDS = 1.0
OUTAGE_MAX_WAIT_SECONDS = 30.0


def retrying(retries: int = DEFAULT_RETRIES) -> tenacity.Retrying:
    """``retries`` more attempts after the first, for transient errors only; a database
    outage is retried for :data:`OUTAGE_SECONDS` instead (when ``retries`` is not 0)."""
    short = tenacity.wait_exponential_jitter(multiplier=INITIAL_WAIT_SECONDS, max=MAX_WAIT_SECONDS)
    long = tenacity.wait_exponential_jitter(
        multiplier=OUTAGE_INITIAL_WAIT_SECONDS, max=OUTAGE_MAX_WAIT_SECONDS
    )

    def outage(state: tenacity.RetryCallState) -> bool:
        error = state.outcome.exception() if state.outcome is not None else None
        return isinstance(error, SourceUnavailableError)

    def wait(state: tenacity.RetryCallState) -> float:
        return long(state) if outage(state) else short(state)

    def stop(state: tenacity.RetryCallState) -> bool:
        if retries > 0 and outage(state):
            return (state.seconds_since_start or 0.0) >= OUTAGE_SECONDS
        return state.attempt_number >= retries + 1

    return tenacity.Retrying(
        retry=tenacity.retry_if_exception(is_retryable),
        stop=stop,
        wait=wait,
        before_sleep=_log_retry,
        reraise=True,
    )


def _log_retry(state: tenacity.RetryCallState) -> None:
    error = state.outcome.exception() if state.outcome else None
    wait = state.next_action.sleep if state.next_action else 0.0
    log.warning("attempt %d failed (%s); retrying in %.1f s", state.attempt_number, error, wait)
