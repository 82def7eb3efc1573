"""The errors oracle-meili raises. Every one says which index, row or setting is at fault."""

from __future__ import annotations


class OracleMeiliError(Exception):
    """Base class of every error this package raises on purpose.

    ``retryable`` says whether the same call may succeed later. It is the one answer both
    retry layers read: the engine's own retries (tenacity, oracle_meili.retry) and Dagster's
    run retries (``Failure(allow_retries=...)`` under the jobs' RetryPolicy).
    """

    retryable: bool = False


class ConfigError(OracleMeiliError):
    """A setting is missing or invalid; raised when the configuration is loaded."""


class SourceError(OracleMeiliError):
    """The source database could not be read."""


class SourceConnectionError(SourceError):
    """The source database could not be reached or refused the login."""


class SourceTransientError(SourceError):
    """The source connection was lost or the database was busy; worth another try."""

    retryable = True


class SourceUnavailableError(SourceConnectionError, SourceTransientError):
    """The source database is restarting, failing over or out of reach: worth another try."""

    retryable = True


class SnapshotTooOldError(SourceError):
    """The SCN a consistent read needs is gone from undo (ORA-01555, ORA-08180, ...)."""


class DocumentError(OracleMeiliError):
    """A row cannot become a Meilisearch document (bad id, unsupported value)."""

    def __init__(self, message: str, *, index: str, key: object = None, column: str | None = None):
        parts = [f"index {index!r}"]
        if key is not None:
            parts.append(f"primary key {key!r}")
        if column is not None:
            parts.append(f"column {column!r}")
        super().__init__(f"{', '.join(parts)}: {message}")
        self.index = index
        self.key = key
        self.column = column


class MeilisearchError(OracleMeiliError):
    """Meilisearch could not be reached or answered with an error."""


class MeilisearchUnavailableError(MeilisearchError):
    """Meilisearch did not answer (connection refused, timeout, unhealthy)."""

    retryable = True


class MeilisearchTransientError(MeilisearchError):
    """Meilisearch answered 5xx or 429: worth another try."""

    retryable = True


class MeilisearchTaskError(MeilisearchError):
    """A Meilisearch task finished as failed or canceled.

    Carries the index, task uid, Meilisearch error code and message, so that a run failure in
    the Dagster UI or the CLI names exactly which task broke and why.
    """

    def __init__(
        self,
        *,
        index: str,
        task_uid: int | str,
        status: str,
        code: str,
        message: str,
        batch: str | None = None,
    ):
        where = f" ({batch})" if batch else ""
        super().__init__(
            f"index {index!r}: Meilisearch task {task_uid}{where} {status}: [{code}] {message}"
        )
        self.batch = batch
        self.index = index
        self.task_uid = task_uid
        self.status = status
        self.code = code
        self.message = message


class SyncError(OracleMeiliError):
    """A sync could not complete; the live index and the watermark were left as they were."""
