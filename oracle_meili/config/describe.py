"""Pydantic's validation errors as a configuration error's words."""

from __future__ import annotations

from pydantic import ValidationError


def describe(error: ValidationError) -> str:
    """Render pydantic's first error as ``key: reason`` without echoing secret input.

    A missing key is reported together with any unknown key beside it: a misspelling
    (``primary_keys:``) then names both the key that is wrong and the one that is missing.
    """
    errors = error.errors()
    first = errors[0]
    where = ".".join(str(part) for part in first["loc"])
    reason = first["msg"].removeprefix("Value error, ")
    message = f"{where}: {reason}" if where else reason
    unknown = [
        ".".join(str(part) for part in e["loc"]) for e in errors if e["type"] == "extra_forbidden"
    ]
    if first["type"] == "missing" and unknown:
        message += f" (unknown key(s): {', '.join(unknown)}; misspelled?)"
    return message
