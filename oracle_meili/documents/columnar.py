"""Whole pages to NDJSON lines, a column at a time (the columnar read path).

The documents are byte for byte those of :func:`~oracle_meili.documents.encode.encode_document`
(the row path, the reference): same fields in the same order, same value forms. Each column
is converted by a polars expression; each field is JSON-encoded by polars (whose number and
string forms are orjson's), and the lines are the fields joined. Where a page holds anything
this path does not reproduce exactly (a value of an unexpected storage class, an integer
beyond 2^53, a bad id, a document over the payload limit, a date/time text in another
form), :class:`NotColumnar` hands the page to the row path, which encodes it, or fails or
skips the row with its usual error.

Which columns this path takes is decided once per sync by :func:`columnar_plan`, from the
source's SQLAlchemy column types; an index with any other column stays on the row path.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import orjson
import polars as pl
import sqlalchemy as sa

if TYPE_CHECKING:
    import pyarrow as pa

from oracle_meili.documents.shape import EPOCH_SUFFIX, DocumentShape
from oracle_meili.documents.values import MAX_EXACT_INT

ColumnKind = Literal["int", "bool", "float", "decimal", "text", "datetime", "date", "binary"]

# A date/time text as SQLite keeps it, which `datetime.fromisoformat` (SQLAlchemy's parser)
# reads exactly as this path does; any other form sends the page to the row path.
_DATETIME_TEXT = r"^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(\.\d{1,6})?$"
_DATE_TEXT = r"^\d{4}-\d{2}-\d{2}$"
_VALID_STRING_ID = r"^[A-Za-z0-9_-]{1,511}$"
_MICROS = 1_000_000


class NotColumnar(Exception):
    """This page needs the row path (the message says why, for the debug log)."""


@dataclass(frozen=True)
class ColumnarPlan:
    """How each column of one index's pages is encoded on the columnar path."""

    shape: DocumentShape
    kinds: tuple[ColumnKind, ...]
    # The scale SQLAlchemy formats each decimal column's values with (``%.<scale>f``).
    decimal_scales: tuple[int | None, ...]
    max_bytes: int


def column_kind(column_type: sa.types.TypeEngine[Any]) -> ColumnKind | None:
    """The columnar kind of a SQLite column's SQLAlchemy type (None: the row path only)."""
    if isinstance(column_type, sa.Boolean):
        return "bool"
    if isinstance(column_type, sa.Integer):
        return "int"
    if isinstance(column_type, sa.Float):
        return "float" if not column_type.asdecimal else None
    if isinstance(column_type, sa.Numeric):
        return "decimal" if column_type.asdecimal else "float"
    if isinstance(column_type, sa.String):  # VARCHAR, CHAR, TEXT, CLOB: TEXT affinity
        return "text"
    if isinstance(column_type, sa.DateTime):
        return "datetime"
    if isinstance(column_type, sa.Date):
        return "date"
    if isinstance(column_type, sa.LargeBinary):
        return "binary"
    return None


def columnar_plan(
    shape: DocumentShape, column_types: list[sa.types.TypeEngine[Any]], *, max_bytes: int
) -> tuple[ColumnarPlan | None, str]:
    """The plan for an index, or None with the reason it stays on the row path."""
    kinds: list[ColumnKind] = []
    for field, column_type in zip(shape.fields, column_types, strict=True):
        kind = column_kind(column_type)
        if kind is None:
            return None, f"column {field} ({column_type!r}) has no columnar form"
        kinds.append(kind)
    if shape.composite:
        return None, "a composite primary key (its ids are encoded per row)"
    if kinds[shape.key_positions[0]] not in ("int", "text"):
        return None, "a primary key that is neither an integer nor text (its id is encoded)"
    if shape.timezone is not None:
        return None, "`timezone` is set (zone rules per value)"
    scales = tuple(
        _decimal_scale(column_type) if kind == "decimal" else None
        for kind, column_type in zip(kinds, column_types, strict=True)
    )
    return ColumnarPlan(shape, tuple(kinds), scales, max_bytes), "every column has a columnar form"


def _decimal_scale(column_type: sa.types.TypeEngine[Any]) -> int:
    # What SQLAlchemy's Numeric result processor formats SQLite's stored numbers with.
    scale = getattr(column_type, "_effective_decimal_return_scale", None)
    return int(scale) if scale is not None else 10


def encode_page(plan: ColumnarPlan, table: pa.Table) -> list[bytes]:
    """The NDJSON line of each row of ``table`` (the page's own columns, in field order).

    Raises:
        NotColumnar: the page needs the row path.
    """
    try:
        return _encode_page(plan, table)
    except pl.exceptions.PolarsError as e:  # a text that does not parse, and the like
        raise NotColumnar(str(e)) from e


@dataclass
class _Field:
    """One field of a page: a typed value that polars JSON-encodes together with its
    neighbours (``plain``), or its JSON text made here (``text``); the JSON text of its
    epoch field, for a date/time."""

    plain: pl.Expr | None = None
    text: pl.Expr | None = None
    epoch: pl.Expr | None = None


def _encode_page(plan: ColumnarPlan, table: pa.Table) -> list[bytes]:
    shape = plan.shape
    frame = pl.from_arrow(table, rechunk=False)
    assert isinstance(frame, pl.DataFrame)
    names = frame.columns
    # The line is built of pieces `,"field":value,...` (or "" where the row path leaves a
    # field out of that document); runs of plain fields are encoded by polars in one go.
    pieces: list[pl.Expr] = []
    epochs: list[pl.Expr] = []
    run: list[pl.Expr] = []

    def flush() -> None:
        if run:
            encoded = pl.struct(run).struct.json_encode()
            inner = encoded.str.strip_prefix("{").str.strip_suffix("}")
            pieces.append(pl.concat_str(pl.lit(","), inner))
            run.clear()

    for position, (field, kind) in enumerate(zip(shape.fields, plan.kinds, strict=True)):
        source = frame.get_column(names[position])
        key = orjson.dumps(field).decode()
        # (A driver types an all-NULL column as it likes: ADBC says Int64.)
        if source.dtype == pl.Null or source.null_count() == len(source):
            run.append(pl.lit(None).alias(field))  # null, and as on the row path no epoch
            continue
        present = pl.col(source.name).is_not_null()
        if kind == "binary" and shape.binary == "omit":
            # The row path leaves a binary value out of the document, but keeps a NULL.
            _require(source.dtype == pl.Binary, position, plan, source.dtype)
            flush()
            pieces.append(pl.when(present).then(pl.lit("")).otherwise(pl.lit(f",{key}:null")))
            continue
        converted = _column(plan, position, kind, source)
        if converted.plain is not None:
            run.append(converted.plain.alias(field))
        else:
            assert converted.text is not None
            flush()
            pieces.append(pl.concat_str(pl.lit(f",{key}:"), converted.text))
        if converted.epoch is not None and shape.epoch_fields:
            # The row path adds an epoch field only beside a value, never beside a NULL; its
            # careful path (taken for `binary: omit`) puts it right after its field, its fast
            # path after all the fields.
            epoch_key = orjson.dumps(field + EPOCH_SUFFIX).decode()
            piece = (
                pl.when(present)
                .then(pl.concat_str(pl.lit(f",{epoch_key}:"), converted.epoch))
                .otherwise(pl.lit(""))
            )
            if shape.binary == "omit":
                flush()
                pieces.append(piece)
            else:
                epochs.append(piece)
    flush()
    _check_id(plan, frame)
    body = pl.concat_str([*pieces, *epochs]).str.strip_prefix(",")
    line = frame.select(pl.concat_str(pl.lit("{"), body, pl.lit("}\n")).alias("line"))
    lines = line.get_column("line")
    if bool((lines.str.len_bytes() > plan.max_bytes).any()):
        raise NotColumnar("a document over the payload limit")
    return [text.encode() for text in lines.to_list()]


def _json(expression: pl.Expr) -> pl.Expr:
    """Each value's JSON text, as polars encodes it (orjson's forms; null for null)."""
    return (
        pl.struct(expression.alias("v"))
        .struct.json_encode()
        .str.strip_prefix('{"v":')
        .str.strip_suffix("}")
    )


def _column(plan: ColumnarPlan, position: int, kind: ColumnKind, source: pl.Series) -> _Field:
    """A column's values as the type contract makes them, and its epoch field's."""
    column = pl.col(source.name)
    dtype = source.dtype
    if kind == "int":
        _require(dtype.is_integer(), position, plan, dtype)
        if bool((source.abs() > MAX_EXACT_INT).any()):
            raise NotColumnar("an integer beyond 2^53")
        return _Field(plain=column)
    if kind == "bool":
        _require(dtype.is_integer() or dtype == pl.Boolean, position, plan, dtype)
        return _Field(plain=column.cast(pl.Boolean))
    if kind == "float":
        _require(dtype.is_float(), position, plan, dtype)
        # NaN and infinity have no JSON form: null, as on the row path.
        return _Field(plain=pl.when(column.is_finite()).then(column))
    if kind == "decimal":
        return _Field(text=_decimals(plan, position, source))
    if kind == "text":
        _require(dtype == pl.String, position, plan, dtype)
        if position in plan.shape.char_positions:
            column = column.str.strip_chars_end(" ")
        return _Field(plain=column)
    if kind == "binary":
        _require(dtype == pl.Binary, position, plan, dtype)
        return _Field(plain=column.bin.encode("base64"))
    _require(dtype == pl.String, position, plan, dtype)
    if kind == "date":
        _require_form(source, _DATE_TEXT, position, plan)
        day = column.str.strptime(pl.Date, "%Y-%m-%d", strict=True)
        return _Field(plain=column, epoch=(day.cast(pl.Int64) * 86_400).cast(pl.String))
    _require_form(source, _DATETIME_TEXT, position, plan)
    whole = column.str.slice(0, 19).str.replace("T", " ", literal=True)
    # Parsed to check the text is a real date and time (as fromisoformat does) and for the
    # epoch; the ISO text itself is the stored text rearranged.
    parsed = whole.str.strptime(pl.Datetime("us"), "%Y-%m-%d %H:%M:%S", strict=True)
    micros = column.str.slice(20).str.pad_end(6, "0").cast(pl.Int64, strict=False).fill_null(0)
    seconds = pl.concat_str(column.str.slice(0, 10), pl.lit("T"), column.str.slice(11, 8))
    fraction = pl.concat_str(pl.lit("."), micros.cast(pl.String).str.zfill(6))
    iso = pl.when(micros > 0).then(pl.concat_str(seconds, fraction)).otherwise(seconds)
    since_epoch = parsed.dt.epoch("us") + micros
    # Whole seconds are integers, others floats, as epoch_seconds gives them.
    epoch = (
        pl.when(since_epoch % _MICROS == 0)
        .then((since_epoch // _MICROS).cast(pl.String))
        .otherwise(_json(_divided(since_epoch, _MICROS, len(source))))
    )
    return _Field(plain=iso, epoch=epoch)


def _divided(numerator: pl.Expr, denominator: int, rows: int) -> pl.Expr:
    """``numerator / denominator`` correctly rounded, as Python divides two integers (both
    below 2^53 here, so exact as floats). NOTE: polars turns a division by a constant into
    a multiplication by its reciprocal, which can be an ulp off; a divisor column is divided
    by."""
    divisor = pl.lit(pl.Series("divisor", [float(denominator)] * rows, dtype=pl.Float64))
    return numerator.cast(pl.Float64) / divisor


# Below this, a decimal's stored number times 10^scale is within 2^-13 of its exact value.
_EXACT_PRODUCT = 2**40


def _decimals(plan: ColumnarPlan, position: int, source: pl.Series) -> pl.Expr:
    """A decimal column as SQLAlchemy and the type contract make it: the stored number
    formatted at the column's scale (``%.<scale>f``, exact rounding), then an integer when
    that is integral, else the float of that text.

    Done on whole columns: ``k``, the stored number times 10^scale rounded, is that text's
    digits whenever the product is clearly not halfway between two integers (checked);
    a page with any other value goes to the row path."""
    field = plan.shape.fields[position]
    if not source.dtype.is_numeric():
        raise NotColumnar(f"column {field} holds {source.dtype}")
    scale = plan.decimal_scales[position] or 0
    factor = 10**scale
    values = source.cast(pl.Float64).drop_nulls()
    products = values * factor
    rounded = products.round(0)
    if bool((products.abs() >= _EXACT_PRODUCT).any()) or bool(
        ((products - rounded).abs() >= 0.49).any()
    ):
        raise NotColumnar(f"column {field} holds a value this path cannot round exactly")
    k = (pl.col(source.name).cast(pl.Float64) * factor).round(0).cast(pl.Int64)
    magnitude = k.abs()
    sign = pl.when(k < 0).then(pl.lit("-")).otherwise(pl.lit(""))
    integral = pl.concat_str(sign, (magnitude // factor).cast(pl.String))
    fractional = _json(_divided(k, factor, len(source)))
    text = pl.when(k % factor == 0).then(integral).otherwise(fractional)
    return pl.when(k.is_null()).then(pl.lit("null")).otherwise(text)


def _check_id(plan: ColumnarPlan, frame: pl.DataFrame) -> None:
    """Ids the row path would accept as they are; anything else goes to the row path, which
    names the row at fault."""
    shape = plan.shape
    position = shape.key_positions[0]
    key = frame.get_column(frame.columns[position])
    if key.null_count():
        raise NotColumnar("a NULL primary key")
    if key.dtype == pl.String:
        if position in shape.char_positions:
            key = key.str.strip_chars_end(" ")
        if not bool(key.str.contains(_VALID_STRING_ID).all()):
            raise NotColumnar("a key that is not a valid document id")
    elif not key.dtype.is_integer():
        raise NotColumnar(f"a key of type {key.dtype}")


def _require(ok: bool, position: int, plan: ColumnarPlan, dtype: Any) -> None:
    if not ok:
        raise NotColumnar(
            f"column {plan.shape.fields[position]} ({plan.kinds[position]}) arrived as {dtype}"
        )


def _require_form(source: pl.Series, pattern: str, position: int, plan: ColumnarPlan) -> None:
    values = source.drop_nulls()
    if not bool(values.str.contains(pattern).all()):
        raise NotColumnar(
            f"column {plan.shape.fields[position]} holds a date/time text in another form"
        )
