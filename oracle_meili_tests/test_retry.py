"""Which errors are retried, and for how long."""

from __future__ import annotations

import tenacity

from oracle_meili.errors import (
    SourceError,
    SourceTransientError,
    SourceUnavailableError,
)
from oracle_meili.retry import DEFAULT_RETRIES, OUTAGE_MAX_WAIT_SECONDS, OUTAGE_SECONDS, retrying


def state_after(
    retry: tenacity.Retrying, error: BaseException, *, attempt: int, elapsed: float
) -> tenacity.RetryCallState:
    state = tenacity.RetryCallState(retry_object=retry, fn=None, args=(), kwargs={})
    state.attempt_number = attempt
    state.set_exception((type(error), error, None))
    state.outcome_timestamp = state.start_time + elapsed
    return state


def test_a_database_outage_is_retried_for_minutes_with_a_long_backoff() -> None:
    """A restart or failover takes minutes: it is retried for minutes, not for seconds."""
    retry = retrying()
    outage = SourceUnavailableError("ORA-12514: listener does not know of service")
    early = state_after(retry, outage, attempt=DEFAULT_RETRIES + 1, elapsed=10)
    assert not retry.stop(early)  # more attempts than the default, still retried
    assert retry.stop(state_after(retry, outage, attempt=9, elapsed=OUTAGE_SECONDS))
    waits = [retry.wait(state_after(retry, outage, attempt=n, elapsed=0)) for n in (1, 4, 9)]
    assert 1.0 <= waits[0] <= 2.0 and waits[1] >= 8.0
    assert waits[2] <= OUTAGE_MAX_WAIT_SECONDS + 1


def test_other_transient_errors_keep_the_short_backoff() -> None:
    retry = retrying()
    busy = SourceTransientError("database is locked")
    assert not retry.stop(state_after(retry, busy, attempt=DEFAULT_RETRIES, elapsed=1))
    assert retry.stop(state_after(retry, busy, attempt=DEFAULT_RETRIES + 1, elapsed=1))


def test_retries_zero_means_no_retry_even_for_an_outage() -> None:
    retry = retrying(0)
    outage = SourceUnavailableError("ORA-01034: ORACLE not available")
    assert retry.stop(state_after(retry, outage, attempt=1, elapsed=0))


def test_sql_errors_are_final() -> None:
    retry = retrying()
    state = state_after(retry, SourceError("ORA-00942: table does not exist"), attempt=1, elapsed=0)
    assert not retry.retry(state)
