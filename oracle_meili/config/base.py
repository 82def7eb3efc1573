"""The base of every settings record."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Record(BaseModel):
    """A frozen settings record that refuses unknown keys."""

    model_config = ConfigDict(frozen=True, extra="forbid")
