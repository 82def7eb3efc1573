"""One answer to "may this succeed later?", read by both retry layers.

Every error class says itself whether it is retryable (``retryable``); tenacity and the
Dagster asset both read that, so no error falls between two lists (a SQL error retried by
the jobs' RetryPolicy, say).
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa
import tenacity

from oracle_meili import errors
from oracle_meili.defs.assets import run_failure
from oracle_meili.engine.completeness import ShortReadError
from oracle_meili.engine.reconcile import ReconcileRefusedError
from oracle_meili.retry import retrying


def every_error_class() -> list[type[errors.OracleMeiliError]]:
    found: list[type[errors.OracleMeiliError]] = []
    pending: list[type[errors.OracleMeiliError]] = [errors.OracleMeiliError]
    while pending:
        cls = pending.pop()
        found.append(cls)
        pending.extend(cls.__subclasses__())
    return sorted(set(found), key=lambda c: c.__name__)


def instance_of(cls: type[errors.OracleMeiliError]) -> errors.OracleMeiliError:
    if issubclass(cls, errors.DocumentError):
        return cls("bad row", index="products", key=7, column="name")
    if issubclass(cls, errors.MeilisearchTaskError):
        return cls(index="products", task_uid=3, status="failed", code="x", message="bad")
    return cls("it failed")


RETRYABLE = {
    errors.SourceTransientError,
    errors.SourceUnavailableError,
    errors.MeilisearchUnavailableError,
    errors.MeilisearchTransientError,
}


def engine_retries(error: BaseException) -> bool:
    retry = retrying(3)
    state = tenacity.RetryCallState(retry_object=retry, fn=None, args=(), kwargs={})
    state.set_exception((type(error), error, None))
    return bool(retry.retry(state))


def test_every_error_class_is_known() -> None:
    names = {cls.__name__ for cls in every_error_class()}
    # New classes show up here, so that their retryability is decided, not inherited blindly.
    assert {ShortReadError.__name__, ReconcileRefusedError.__name__} <= names
    assert len(names) >= 14


@pytest.mark.parametrize("cls", every_error_class(), ids=lambda c: c.__name__)
def test_both_layers_give_the_same_answer(cls: type[errors.OracleMeiliError]) -> None:
    error = instance_of(cls)
    expected = cls in RETRYABLE
    assert error.retryable is expected
    assert engine_retries(error) is expected
    failure = run_failure(error)
    assert failure.allow_retries is expected
    assert str(error) in (failure.description or "")


@pytest.mark.parametrize(
    "error",
    [
        sa.exc.ProgrammingError("SELECT nope", {}, Exception("ORA-00942: table does not exist")),
        ValueError("a bug"),
    ],
)
def test_anything_unexpected_is_final_in_both_layers(error: Exception) -> None:
    assert engine_retries(error) is False
    assert run_failure(error).allow_retries is False
