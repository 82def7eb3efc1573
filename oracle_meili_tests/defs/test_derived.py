"""Classes derived from a settings record have its fields, by name, default and
description; secrets as text or left out; constraints left to the record."""

from __future__ import annotations

import dagster as dg
import pytest
from pydantic import BaseModel, Field, SecretStr, ValidationError

from oracle_meili.config.base import Record
from oracle_meili.defs.derived import derived_class


class Settings(Record):
    name: str = Field(description="A name.")
    token: SecretStr = Field(description="A secret.")
    size: int = Field(default=4, ge=1, description="A size.")


def test_a_derived_resource_has_every_field_of_the_record() -> None:
    made = derived_class("Made", dg.Config, Settings, module=__name__, doc="Made here.")
    assert list(made.model_fields) == ["name", "token", "size"]
    assert made.model_fields["size"].default == 4
    assert made.model_fields["size"].description == "A size."
    assert (made.__name__, made.__module__, made.__doc__) == ("Made", __name__, "Made here.")
    # The secret is text (an EnvVar in definitions); the constraint is the record's.
    given = made(name="n", token="t", size=0)
    with pytest.raises(ValidationError, match="size"):
        Settings.model_validate(given.model_dump())


def test_an_optional_form_leaves_secrets_out_and_takes_any_subset() -> None:
    made = derived_class(
        "Form", BaseModel, Settings, module=__name__, doc="", optional=True, secrets="leave out"
    )
    assert list(made.model_fields) == ["name", "size"]
    assert made().model_dump(exclude_unset=True) == {}
    assert made(size=2).model_dump(exclude_unset=True) == {"size": 2}


def test_fields_given_otherwise_replace_or_add() -> None:
    made = derived_class(
        "Other",
        BaseModel,
        Settings,
        module=__name__,
        doc="",
        leave_out=frozenset({"token"}),
        fields={"size": (str, Field(default="x")), "older": (int | None, Field(default=None))},
    )
    assert list(made.model_fields) == ["name", "size", "older"]
    assert made.model_fields["size"].default == "x"
