"""How one index's rows become documents: field names, key positions, id field, options."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from oracle_meili.config import BinaryPolicy, IndexConfig
from oracle_meili.config.shaping import Transform, load_transform
from oracle_meili.errors import ConfigError

COMPOSITE_ID_FIELD = "id"
EPOCH_SUFFIX = "_epoch"


@dataclass(frozen=True)
class DocumentShape:
    """How one index's rows become documents; built once per sync from the source columns."""

    index: str
    fields: tuple[str, ...]
    key_positions: tuple[int, ...]
    id_field: str
    char_positions: frozenset[int]
    binary: BinaryPolicy
    epoch_fields: bool
    # Columns known (from the source's column types) to hold dates or times; None when the
    # types are unknown (a `query:` source), and then every value is looked at.
    temporal_positions: tuple[int, ...] | None = None
    # The zone naive date/times are in (NOTE: Oracle DATE and TIMESTAMP carry none); None
    # leaves them naive in the document and takes them as UTC for epoch fields.
    timezone: dt.tzinfo | None = None

    # Shaping (docs/configuration.md, "Shaping"): positions left out of the document, the
    # latitude and longitude positions of `_geo`, each embedder's position and dimensions,
    # positions of JSON held as text, and the user's hook.
    excluded: frozenset[int] = frozenset()
    geo: tuple[int, int] | None = None
    vectors: tuple[tuple[str, int, int], ...] = ()
    json_positions: frozenset[int] = frozenset()
    transform: Transform | None = None

    @property
    def composite(self) -> bool:
        return len(self.key_positions) > 1

    @property
    def shaped(self) -> bool:
        """Whether anything beyond the type contract changes the document."""
        return bool(
            self.excluded or self.geo or self.vectors or self.json_positions or self.transform
        )


def _field_names(
    index: IndexConfig, columns: Sequence[str], lowered: tuple[str, ...]
) -> tuple[str, ...]:
    """Each column's field: its lower-cased name, or as ``fields:`` renames it."""
    renames = {_position(index, lowered, c, "fields"): name for c, name in index.fields.items()}
    fields = tuple(renames.get(i, f) for i, f in enumerate(lowered))
    clashes = sorted({f for f in fields if fields.count(f) > 1})
    if clashes:
        raise ConfigError(
            f"index {index.name!r}: columns "
            f"{', '.join(c for c, f in zip(columns, fields, strict=True) if f in clashes)} "
            f"all become the field {clashes[0]!r}; rename one with `fields:` or alias it in "
            "a `query:`"
        )
    return fields


def _id_field(index: IndexConfig, fields: tuple[str, ...], key_positions: tuple[int, ...]) -> str:
    """The documents' id field: the key's, or ``id`` for a composite key."""
    if len(key_positions) == 1:
        return fields[key_positions[0]]
    if COMPOSITE_ID_FIELD in fields:
        raise ConfigError(
            f"index {index.name!r}: a composite primary_key adds the field "
            f"{COMPOSITE_ID_FIELD!r}, but the source has a column of that name; "
            "rename it with `fields:` or alias it in a `query:`"
        )
    return COMPOSITE_ID_FIELD


def build_shape(
    index: IndexConfig,
    columns: Sequence[str],
    *,
    char_columns: Sequence[str] = (),
    temporal_columns: Sequence[str] | None = None,
) -> DocumentShape:
    """Map the source columns to document fields (lower-cased names, or as ``fields:``
    renames them) and resolve the index's shaping settings against the columns.

    Raises:
        ConfigError: a key column or a shaping column is missing, two columns share a field
            name, or a composite key's synthetic ``id`` field would clash with a column.
    """
    lowered = tuple(c.lower() for c in columns)
    fields = _field_names(index, columns, lowered)
    key_positions = tuple(
        _position(index, lowered, key, "primary_key") for key in index.primary_key
    )
    id_field = _id_field(index, fields, key_positions)
    lowered_chars = {c.lower() for c in char_columns}
    vectors = tuple(
        (embedder, _position(index, lowered, v.column, f"vectors.{embedder}"), v.dimensions)
        for embedder, v in sorted(index.vectors.items())
    )
    return DocumentShape(
        index=index.name,
        fields=fields,
        key_positions=key_positions,
        id_field=id_field,
        char_positions=frozenset(i for i, f in enumerate(lowered) if f in lowered_chars),
        binary=index.binary,
        epoch_fields=index.epoch_fields,
        temporal_positions=None
        if temporal_columns is None
        else tuple(i for i, c in enumerate(columns) if c in set(temporal_columns)),
        timezone=ZoneInfo(index.timezone) if index.timezone else None,
        # A vector column's numbers go to `_vectors` only (as a plain field they would be
        # indexed as searchable text).
        excluded=frozenset(_position(index, lowered, c, "exclude") for c in index.exclude)
        | {position for _, position, _ in vectors},
        geo=None
        if index.geo is None
        else (
            _position(index, lowered, index.geo.lat, "geo.lat"),
            _position(index, lowered, index.geo.lng, "geo.lng"),
        ),
        vectors=vectors,
        json_positions=frozenset(
            _position(index, lowered, c, "json_fields") for c in index.json_fields
        ),
        transform=load_transform(index.transform) if index.transform else None,
    )


def _position(index: IndexConfig, fields: tuple[str, ...], column: str, key: str) -> int:
    try:
        return fields.index(column.lower())
    except ValueError:
        raise ConfigError(
            f"index {index.name!r}: {key} column {column!r} is not in {index.source_label} "
            f"(columns: {', '.join(fields)})"
        ) from None
