"""Documents shaped for search: renames, exclusions, ``_geo``, ``_vectors``, JSON held as
text and the transform, on both encoders, and every error they raise."""

from __future__ import annotations

import array
import inspect
from decimal import Decimal
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from oracle_meili.config import IndexConfig
from oracle_meili.documents import build_shape, encode_document, to_document
from oracle_meili.errors import ConfigError, DocumentError
from oracle_meili_tests import transforms
from oracle_meili_tests.documents.helpers import document_of, line_of
from oracle_meili_tests.test_docs import blocks

COLUMNS = ["ITEM_ID", "NAME", "LAT", "LNG", "TAGS", "EMBEDDING", "STATUS"]


def index(**shaping: Any) -> IndexConfig:
    return IndexConfig.model_validate(
        {"name": "items", "table": "ITEMS", "primary_key": "ITEM_ID", **shaping}
    )


def both(shape: Any, row: tuple[Any, ...]) -> dict[str, Any]:
    """The document, after checking that both encoders write it alike (keys in order)."""
    careful = document_of(shape, row)
    fast: dict[str, Any] = orjson.loads(line_of(shape, row))
    assert list(fast.items()) == list(orjson.loads(orjson.dumps(careful)).items())
    return fast


def test_renamed_and_excluded_columns() -> None:
    shape = build_shape(
        index(fields={"ITEM_ID": "id", "NAME": "title"}, exclude=["STATUS", "lat"]), COLUMNS
    )
    document = both(shape, (7, "무선 이어폰", 1, 2, None, None, "x"))
    assert document == {"id": 7, "title": "무선 이어폰", "lng": 2, "tags": None, "embedding": None}
    assert shape.id_field == "id"  # the renamed key is the document id


def test_geo_point_from_two_columns() -> None:
    shape = build_shape(index(geo={"lat": "LAT", "lng": "LNG"}), COLUMNS)
    row = (1, "서울역점", Decimal("37.5547"), Decimal("126.9707"), None, None, "open")
    assert both(shape, row)["_geo"] == {"lat": 37.5547, "lng": 126.9707}
    # A NULL in either column: no point.
    assert "_geo" not in both(shape, (2, "x", None, Decimal("126.9"), None, None, None))


@pytest.mark.parametrize(
    ("lat", "lng", "column"), [(91, 0, "lat"), (0, -180.5, "lng"), ("n/a", 0, "lat")]
)
def test_a_point_out_of_range_is_a_bad_row_naming_its_column(
    lat: Any, lng: Any, column: str
) -> None:
    shape = build_shape(index(geo={"lat": "LAT", "lng": "LNG"}), COLUMNS)
    for encode in (encode_document, to_document):
        with pytest.raises(
            DocumentError, match=rf"index 'items'.*key 3.*column '{column}'.*geo\.{column}"
        ):
            encode(shape, (3, "x", lat, lng, None, None, None))


def test_vectors_from_an_oracle_vector_or_json_text() -> None:
    shape = build_shape(index(vectors={"mini": {"column": "EMBEDDING", "dimensions": 3}}), COLUMNS)
    from_oracle = both(shape, (1, "a", None, None, None, array.array("f", [0.5, 1, -2]), None))
    assert from_oracle["_vectors"] == {"mini": [0.5, 1.0, -2.0]}
    assert "embedding" not in from_oracle  # the numbers are not a searchable field
    assert both(shape, (2, "b", None, None, None, "[1, 2, 3]", None))["_vectors"] == {
        "mini": [1.0, 2.0, 3.0]
    }
    assert both(shape, (3, "c", None, None, None, None, None))["_vectors"] == {"mini": None}


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("[1, 2]", "2 numbers, the embedder has 3 dimensions"),
        ('[1, "x", 3]', "not a finite number"),
        ("[1, true, 3]", "not a finite number"),
        ("[1, 2", "invalid JSON"),
        (42, "a int is not a vector"),
    ],
)
def test_a_bad_vector_is_a_bad_row_naming_its_column(value: Any, message: str) -> None:
    shape = build_shape(index(vectors={"mini": {"column": "EMBEDDING", "dimensions": 3}}), COLUMNS)
    for encode in (encode_document, to_document):
        with pytest.raises(DocumentError, match=rf"key 5.*column 'embedding'.*{message}"):
            encode(shape, (5, "x", None, None, None, value, None))


def test_json_text_clob_or_blob_is_parsed() -> None:
    shape = build_shape(index(json_fields=["TAGS"]), COLUMNS)
    nested = [{"sku": "A-1", "qty": 2}, {"sku": "한글", "qty": 1}]
    text = orjson.dumps(nested).decode()
    assert both(shape, (1, "a", None, None, text, None, None))["tags"] == nested
    assert both(shape, (2, "b", None, None, text.encode(), None, None))["tags"] == nested
    assert both(shape, (3, "c", None, None, None, None, None))["tags"] is None
    with pytest.raises(DocumentError, match=r"key 4.*column 'tags'.*invalid JSON"):
        encode_document(shape, (4, "d", None, None, "{not json", None, None))


def test_transform_adds_changes_or_drops() -> None:
    added = build_shape(
        index(transform="oracle_meili_tests.transforms:add_label"), ["ITEM_ID", "NAME", "CATEGORY"]
    )
    assert both(added, (1, "Earbuds", "audio"))["label"] == "Earbuds (audio)"
    dropping = build_shape(
        index(transform="oracle_meili_tests.transforms:drop_discontinued"), COLUMNS
    )
    assert encode_document(dropping, (1, "a", None, None, None, None, "discontinued")) is None
    assert to_document(dropping, (1, "a", None, None, None, None, "discontinued")) is None
    assert both(dropping, (2, "b", None, None, None, None, "open"))["item_id"] == 2


@pytest.mark.parametrize(
    ("function", "message"),
    [
        ("fail", r"transform failed: KeyError: 'price_band'"),
        ("change_id", r"changed the document id field 'item_id' to 0"),
    ],
)
def test_a_failing_transform_is_a_bad_row_named_by_its_key(function: str, message: str) -> None:
    shape = build_shape(index(transform=f"oracle_meili_tests.transforms:{function}"), COLUMNS)
    with pytest.raises(DocumentError, match=rf"index 'items'.*key 9.*{message}"):
        encode_document(shape, (9, "x", None, None, None, None, None))


@pytest.mark.parametrize(
    ("shaping", "message"),
    [
        ({"exclude": ["item_id"]}, r"exclude: item_id is a primary_key column"),
        (
            {"fields": {"NAME": "title", "STATUS": "title"}},
            r"fields: columns NAME, STATUS all become 'title'",
        ),
        ({"fields": {"NAME": "_geo"}}, r"fields: _geo is Meilisearch's own field"),
        (
            {"transform": "oracle_meili_tests.nowhere:f"},
            r"transform: cannot import 'oracle_meili_tests.nowhere'",
        ),
        ({"transform": "oracle_meili_tests.transforms:missing"}, r"has no callable 'missing'"),
        (
            {"transform": "oracle_meili_tests.transforms:not_callable"},
            r"has no callable 'not_callable'",
        ),
        ({"transform": "no_colon"}, r"give 'package.module:function'"),
        ({"vectors": {"mini": {"column": "EMBEDDING", "dimensions": 0}}}, r"dimensions"),
    ],
)
def test_shaping_settings_are_checked_when_the_configuration_loads(
    shaping: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        index(**shaping)


@pytest.mark.parametrize(
    ("shaping", "message"),
    [
        (
            {"fields": {"PRICE": "price_krw"}},
            r"index 'items': fields column 'PRICE' is not in ITEMS",
        ),
        ({"exclude": ["NOPE"]}, r"index 'items': exclude column 'NOPE' is not in ITEMS"),
        ({"geo": {"lat": "LATITUDE", "lng": "LNG"}}, r"geo.lat column 'LATITUDE' is not in ITEMS"),
        ({"json_fields": ["ITEMS_JSON"]}, r"json_fields column 'ITEMS_JSON'"),
        ({"vectors": {"mini": {"column": "VEC", "dimensions": 3}}}, r"vectors.mini column 'VEC'"),
        ({"fields": {"NAME": "status"}}, r"columns NAME, STATUS all become the field 'status'"),
    ],
)
def test_shaping_against_the_source_columns_names_the_index_and_column(
    shaping: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        build_shape(index(**shaping), COLUMNS)


def test_settings_declare_geo_and_the_embedders() -> None:
    shaped = index(
        geo={"lat": "LAT", "lng": "LNG"},
        vectors={"mini": {"column": "EMBEDDING", "dimensions": 3}},
        settings={"filterableAttributes": ["status"], "sortableAttributes": ["_geo"]},
    )
    assert shaped.meilisearch_settings == {
        "filterableAttributes": ["status", "_geo"],
        "sortableAttributes": ["_geo"],  # already there: not twice
        "embedders": {"mini": {"source": "userProvided", "dimensions": 3}},
    }
    assert index().meilisearch_settings == {}


numbers = st.one_of(
    st.none(),
    st.integers(-200, 200),
    st.floats(-200, 200),
    st.decimals(-200, 200, places=4),
    st.just("37.5"),
)


@given(
    st.lists(
        st.tuples(
            st.integers(0, 3),
            st.text(max_size=5),
            numbers,
            numbers,
            st.sampled_from([None, "[]", '{"a": [1, "b"]}', b"[1.5]"]),
            st.one_of(
                st.none(),
                st.lists(st.floats(-1, 1), min_size=2, max_size=2).map(
                    lambda v: array.array("d", v)
                ),
            ),
            st.sampled_from(["open", "discontinued", None]),
        ),
        min_size=1,
        max_size=6,
    ),
    st.booleans(),
)
def test_both_encoders_shape_alike(rows: list[tuple[Any, ...]], transform: bool) -> None:
    """Ties (equal ids), mixed number types and NULLs: the fast encoder and the reference
    write the same shaped document, or the same bad row, or both drop the row."""
    shape = build_shape(
        index(
            fields={"NAME": "title"},
            exclude=["STATUS"] if not transform else [],
            geo={"lat": "LAT", "lng": "LNG"},
            json_fields=["TAGS"],
            vectors={"v": {"column": "EMBEDDING", "dimensions": 2}},
            transform="oracle_meili_tests.transforms:drop_discontinued" if transform else None,
        ),
        COLUMNS,
    )
    for row in rows:
        assert _outcome(encode_document, shape, row) == _outcome(_reference_line, shape, row)


def _reference_line(shape: Any, row: tuple[Any, ...]) -> bytes | None:
    document = to_document(shape, row)
    return None if document is None else orjson.dumps(document, option=orjson.OPT_APPEND_NEWLINE)


def _outcome(encode: Any, shape: Any, row: tuple[Any, ...]) -> bytes | str | None:
    """The line, None for a dropped row, or the bad row's message."""
    try:
        return encode(shape, row)  # type: ignore[no-any-return]
    except DocumentError as error:
        return str(error)


def test_the_transform_in_the_docs_is_the_one_the_tests_run() -> None:
    """docs/configuration.md shows ``drop_discontinued``; its configuration example names it."""
    (shown,) = [b for b in blocks("python") if "def drop_discontinued" in b.text]
    assert shown.text.strip() == inspect.getsource(transforms.drop_discontinued).strip()
