"""How a Meilisearch request failed, in words an error message can carry."""

from __future__ import annotations

import socket

import requests
from meilisearch.errors import MeilisearchTimeoutError as ClientTimeoutError


def transient_status(status: int | None) -> bool:
    """A status worth another try: a server error, or too many requests."""
    return status is not None and (status >= 500 or status == 429)


def why_unreachable(error: BaseException) -> str:
    """The reason a server did not answer, in a few words, from the exception chain
    (``connection refused``, ``timed out``, ``unknown host``), or its first line."""
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, ConnectionRefusedError):
            return "connection refused"
        if isinstance(seen, TimeoutError | requests.Timeout | ClientTimeoutError):
            return "timed out"
        if isinstance(seen, socket.gaierror):
            return "unknown host"
        seen = seen.__cause__ or seen.__context__
    text = str(error)
    for needle, reason in (
        ("Connection refused", "connection refused"),
        ("timed out", "timed out"),
        ("Name or service not known", "unknown host"),
        ("Failed to resolve", "unknown host"),
    ):
        if needle in text:
            return reason
    return first_line(error)


def first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
