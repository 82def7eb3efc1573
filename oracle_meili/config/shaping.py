"""Per-index settings that shape documents for search: renamed and excluded columns, a geo
point, vectors, JSON held as text, and a Python hook (docs/configuration.md, "Shaping")."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, Sequence
from functools import cache
from typing import Any

from pydantic import Field, model_validator

from oracle_meili.config.base import Record

# Meilisearch's own fields: a renamed column may not take them.
RESERVED_FIELDS = frozenset({"_geo", "_vectors", "_geoDistance", "_rankingScore"})

Transform = Callable[[dict[str, Any]], dict[str, Any] | None]


class GeoColumns(Record):
    """The two columns of a point, sent as Meilisearch's ``_geo: {lat, lng}``."""

    lat: str = Field(description="Latitude column (degrees, -90 to 90).")
    lng: str = Field(description="Longitude column (degrees, -180 to 180).")


class VectorColumn(Record):
    """A column of embeddings for one ``userProvided`` embedder."""

    column: str = Field(description="An Oracle VECTOR column, or a JSON array held as text.")
    # Checked below, not by Field(ge=...): Dagster's Component model takes plain fields only.
    dimensions: int = Field(description="Numbers in each vector (1 to 65,536).")

    @model_validator(mode="after")
    def _check(self) -> VectorColumn:
        if not 1 <= self.dimensions <= 65_536:
            raise ValueError(f"dimensions: 1 to 65,536 (got {self.dimensions})")
        return self


def check_shaping(
    primary_key: Sequence[str],
    exclude: Sequence[str],
    fields: Mapping[str, str],
    transform: str | None,
) -> None:
    """What can be checked without the source's columns.

    Raises:
        ValueError: an excluded key column, Meilisearch's own field as a new name, two
            columns renamed to one field, or a transform that cannot be loaded.
    """
    keys = {c.upper() for c in primary_key}
    if excluded_keys := sorted(c for c in exclude if c.upper() in keys):
        raise ValueError(f"exclude: {', '.join(excluded_keys)} is a primary_key column")
    targets = list(fields.values())
    if reserved := sorted(RESERVED_FIELDS.intersection(targets)):
        raise ValueError(f"fields: {', '.join(reserved)} is Meilisearch's own field")
    if clashes := sorted({t for t in targets if targets.count(t) > 1}):
        columns = [c for c, t in fields.items() if t in clashes]
        raise ValueError(f"fields: columns {', '.join(columns)} all become {clashes[0]!r}")
    if transform is not None:
        load_transform(transform)


def load_transform(spec: str) -> Transform:
    """The callable ``package.module:function`` names.

    Raises:
        ValueError: the module cannot be imported, or has no such callable.
    """
    return _load(spec)


@cache
def _load(spec: str) -> Transform:
    module_name, _, attribute = spec.partition(":")
    if not module_name or not attribute:
        raise ValueError(f"transform: give 'package.module:function' (got {spec!r})")
    try:
        module = importlib.import_module(module_name)
    except Exception as error:  # an import error of any kind is the user's to see
        raise ValueError(
            f"transform: cannot import {module_name!r}: {type(error).__name__}: {error}"
        ) from None
    function = getattr(module, attribute, None)
    if not callable(function):
        raise ValueError(f"transform: {module_name!r} has no callable {attribute!r}")
    return function  # type: ignore[no-any-return]


def with_shaping_settings(
    settings: dict[str, Any], *, geo: bool, embedders: dict[str, int]
) -> dict[str, Any]:
    """The index's Meilisearch settings with what its shaping needs: ``_geo`` filterable and
    sortable (unless the settings already name it), and a ``userProvided`` embedder of the
    right dimensions for each ``vectors:`` entry (unless the settings declare that embedder)."""
    merged = dict(settings)
    if geo:
        for key in ("filterableAttributes", "sortableAttributes"):
            listed = list(merged.get(key) or [])
            if not any(_names_geo(entry) for entry in listed):
                merged[key] = [*listed, "_geo"]
    if embedders:
        declared = dict(merged.get("embedders") or {})
        for name, dimensions in sorted(embedders.items()):
            declared.setdefault(name, {"source": "userProvided", "dimensions": dimensions})
        merged["embedders"] = declared
    return merged


def _names_geo(entry: Any) -> bool:
    # An attribute name, or a granular filterable entry ({"attributePatterns": [...], ...}).
    if isinstance(entry, dict):
        return "_geo" in (entry.get("attributePatterns") or [])
    return bool(entry == "_geo")
