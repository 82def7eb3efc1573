"""Rows to Meilisearch documents: the type contract and the document id rules.

Values are converted by their Python type, as python-oracledb and SQLAlchemy return them
(see the table in docs/type-contract.md). Anything else fails loudly, naming the index, the
row's primary key and the column. Modules: ``shape`` (fields and keys of an index),
``values`` (the type contract), ``ids`` (document ids), ``encode`` (NDJSON lines).
"""

from oracle_meili.documents.encode import encode_document, to_document
from oracle_meili.documents.ids import (
    DocumentId,
    composite_id,
    decode_composite_id,
    document_id,
    single_id,
)
from oracle_meili.documents.shape import (
    COMPOSITE_ID_FIELD,
    EPOCH_SUFFIX,
    DocumentShape,
    build_shape,
)
from oracle_meili.documents.values import (
    MAX_EXACT_INT,
    JsonValue,
    UnsupportedValue,
    convert_value,
    epoch_seconds,
    localize,
)

__all__ = [
    "COMPOSITE_ID_FIELD",
    "EPOCH_SUFFIX",
    "MAX_EXACT_INT",
    "DocumentId",
    "DocumentShape",
    "JsonValue",
    "UnsupportedValue",
    "build_shape",
    "composite_id",
    "convert_value",
    "decode_composite_id",
    "document_id",
    "encode_document",
    "epoch_seconds",
    "localize",
    "single_id",
    "to_document",
]
