"""Dagster classes whose fields are derived from the engine's settings records.

A resource or a Component's attributes hold the same settings as an engine record, by the
same names, defaults and descriptions (the descriptions show in the Dagster UI and in
``dg``'s schema). Deriving them keeps one declaration: a setting added to the record is a
field of each class derived from it. Constraints (``ge``, patterns, validators) are not
copied: the record checks them when the Dagster side builds it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal, TypeVar

import dagster as dg
from pydantic import BaseModel, Field, SecretStr, create_model

SecretForm = Literal["str", "leave out"]


T = TypeVar("T", bound=BaseModel)


def derived_class(
    name: str,
    base: type[T],
    record: type[BaseModel],
    *,
    module: str,
    doc: str,
    optional: bool = False,
    secrets: SecretForm = "str",
    leave_out: frozenset[str] = frozenset(),
    fields: Mapping[str, tuple[Any, Any]] | None = None,
) -> type[T]:
    """A subclass of ``base`` named ``name`` with a field for each of ``record``'s.

    Args:
        module: the module the class is assigned in (``__name__``), so that it is found by
            its name there.
        optional: every field may be left out (``None``): a form that something else fills in.
        secrets: ``SecretStr`` fields as ``str`` (given as ``dg.EnvVar``), or left out.
        leave_out: fields of ``record`` the class does not have.
        fields: fields given otherwise, or added, as ``(annotation, Field(...))`` by name.
    """
    definitions: dict[str, Any] = dict(fields or {})
    for field_name, info in record.model_fields.items():
        secret = info.annotation in (SecretStr, SecretStr | None)
        if field_name in leave_out or field_name in definitions or (secret and secrets != "str"):
            continue
        annotation: Any = info.annotation
        if secret:
            annotation = str if annotation is SecretStr else str | None
        required = info.is_required() and not optional
        default = ... if required else (None if optional else info.default)
        if optional and default is None:
            annotation = annotation | None
        definitions[field_name] = (annotation, Field(default, description=info.description))
    if issubclass(base, dg.Resolvable):
        # `dg`'s schema takes a field's description from its resolver when it has a default.
        definitions = {
            name: (Annotated[kind, dg.Resolver.default(description=info.description)], info)
            for name, (kind, info) in definitions.items()
        }
    # The record's order, then the fields it does not have (another spelling it takes).
    order = [*record.model_fields, *(fields or {})]
    definitions = {name: definitions[name] for name in dict.fromkeys(order) if name in definitions}
    made: type[T] = create_model(name, __base__=base, __module__=module, __doc__=doc, **definitions)
    return made
