"""Pydantic's validation errors as a configuration error's words."""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import ValidationError
from pydantic_core import ErrorDetails


def describe(error: ValidationError) -> str:
    """Render pydantic's first error as ``key: reason`` without echoing secret input.

    A missing key is reported together with any unknown key beside it: a misspelling
    (``primary_keys:``) then names both the key that is wrong and the one that is missing.
    """
    errors = error.errors()
    first = errors[0]
    where = ".".join(str(part) for part in first["loc"])
    reason = _reason(first)
    message = f"{where}: {reason}" if where else reason
    unknown = [
        ".".join(str(part) for part in e["loc"]) for e in errors if e["type"] == "extra_forbidden"
    ]
    if first["type"] == "missing" and unknown:
        message += f" (unknown key(s): {', '.join(unknown)}; misspelled?)"
    return message


def describe_under(section: str, error: ValidationError) -> str:
    """:func:`describe` with the section's name before the key (``meilisearch.url: ...``),
    or before the reason when no single key is at fault."""
    located = bool(error.errors()[0]["loc"])
    return f"{section}{'.' if located else ': '}{describe(error)}"


def describe_origin(
    section: str,
    error: ValidationError,
    in_file: Mapping[str, str],
    variables: Mapping[str, str],
) -> str:
    """The first error of a record built from a file's section over the environment, named
    where its value came from: a key of the file first (``in_file``: field to key), then a
    variable (``variables``: field to name); else as :func:`describe_under` does."""
    errors = error.errors()
    located = [(str(e["loc"][0]) if e["loc"] else "", e) for e in errors]
    for field, e in located:
        if field in in_file:
            within = "".join(f".{part}" for part in e["loc"][1:])
            return f"{section}.{in_file[field]}{within}: {_reason(e)}"
    for field, e in located:
        if field in variables and e["type"] != "missing":
            return f"{section}: {variables[field]}: {_reason(e)}"
    return describe_under(section, error)


def _reason(error: ErrorDetails) -> str:
    return str(error["msg"]).removeprefix("Value error, ")
