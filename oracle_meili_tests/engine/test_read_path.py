"""The columnar read path against the row path (issue #12): byte-identical documents.

Random SQLite tables with a column of every type of the contract (integers up to and beyond
2^53, floats, NUMERIC decimals stored as INTEGER or REAL, text with escapes and Korean,
blank-padded CHAR, booleans, DATE and DATETIME texts in several forms, one not ISO, BLOBs),
NULLs everywhere, bad ids, tiny batch sizes, both binary policies, epoch fields on and off:
the columnar path must give exactly the row path's (stored key, line) pairs, skip exactly the
same rows and read every row once.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from oracle_meili.adapters.arrow_pages import ArrowPages
from oracle_meili.adapters.keyset import StoredKey
from oracle_meili.adapters.source import TableSource
from oracle_meili.config import IndexConfig
from oracle_meili.engine.checkpoint import FullSyncCheckpoint
from oracle_meili.engine.full import full_sync
from oracle_meili.engine.pipeline import Counter, SkippedRows
from oracle_meili.engine.read_path import ReadPath, choose_read_path, full_sync_lines
from oracle_meili.errors import DocumentError, SourceError
from oracle_meili_tests.conftest import MakeIndex
from oracle_meili_tests.harness import SyncHarness

COLUMNS = {
    "ID": "INTEGER",
    "SKU": "VARCHAR(40)",
    "QTY": "INTEGER",
    "RATIO": "REAL",
    "PRICE": "NUMERIC(12, 2)",
    "NAME": "TEXT",
    "CODE": "CHAR(6)",
    "ACTIVE": "BOOLEAN",
    "BORN": "DATE",
    "UPDATED_AT": "DATETIME",
    "PHOTO": "BLOB",
}
BASE = dt.datetime(2026, 11, 30, 9, 0, 0)


def stored_datetime(seconds: int, micro: int, style: int) -> str:
    value = BASE + dt.timedelta(seconds=seconds, microseconds=micro)
    if style == 0:
        return value.isoformat(sep=" ")
    if style == 1:
        return value.strftime("%Y-%m-%d %H:%M:%S.%f")  # SQLAlchemy's own form
    if style == 2:
        return value.strftime("%Y-%m-%d %H:%M:%S.") + f"{value.microsecond // 1000:03d}"
    if style == 3:
        return value.isoformat(sep="T")
    if style == 4:
        return value.strftime("%Y-%m-%d")  # a date alone, in a DATETIME column
    return value.strftime("%Y-%m-%d %H:%M")  # no seconds: another form fromisoformat reads


TEXTS = st.one_of(
    st.sampled_from(["", " ", 'a"b\\c', "tab\tnew\nline", "가나다", "é", "\x00\x1f\x7f", "/"]),
    st.text(max_size=12),
)
ROW = st.fixed_dictionaries(
    {
        "SKU": st.one_of(st.none(), TEXTS),
        "QTY": st.one_of(st.none(), st.integers(-(2**60), 2**60), st.integers(-5, 5)),
        "RATIO": st.one_of(st.none(), st.floats(allow_nan=False, allow_infinity=False)),
        "PRICE": st.one_of(
            st.none(),
            st.integers(-1000, 1000),
            st.sampled_from([0.1, 2.5, 19.99, 3.0, 1e-3, 12.345, 1e15]),
        ),
        "NAME": st.one_of(st.none(), TEXTS),
        "CODE": st.one_of(st.none(), st.sampled_from(["AB", "AB    ", "가", " X ", ""])),
        "ACTIVE": st.one_of(st.none(), st.sampled_from([0, 1])),
        "BORN": st.one_of(st.none(), st.sampled_from(["1999-12-31", "2026-02-28", "1970-01-01"])),
        "UPDATED_AT": st.one_of(
            st.none(),
            st.builds(
                stored_datetime,
                st.integers(-(10**8), 10**8),
                st.sampled_from([0, 1, 500_000, 123_000, 999_999]),
                st.integers(0, 5),
            ),
        ),
        "PHOTO": st.one_of(st.none(), st.binary(max_size=8)),
    }
)
KEYS = st.one_of(
    st.integers(-(2**62), 2**62),
    st.from_regex(r"[A-Za-z0-9_-]{1,8}", fullmatch=True),
    st.sampled_from(["bad id", "", "é"]),  # not valid ids: the row path names or skips them
)


def make_table(path: Path, rows: list[dict[str, Any]], key_type: str) -> sa.Engine:
    engine = sa.create_engine(f"sqlite:///{path}")
    columns = {**COLUMNS, "ID": key_type}
    with engine.begin() as connection:
        connection.exec_driver_sql("DROP TABLE IF EXISTS ITEMS")
        ddl = ", ".join(f"{name} {kind}" for name, kind in columns.items())
        connection.exec_driver_sql(f"CREATE TABLE ITEMS ({ddl}, PRIMARY KEY (ID))")
        if rows:
            names = ", ".join(columns)
            marks = ", ".join("?" for _ in columns)
            connection.exec_driver_sql(
                f"INSERT INTO ITEMS ({names}) VALUES ({marks})",
                [tuple(row[c] for c in columns) for row in rows],
            )
    return engine


def columnar_index(**settings: Any) -> IndexConfig:
    """The test table's index, on the columnar path, with ``settings`` over the defaults."""
    return IndexConfig.model_validate(
        {
            "name": "items",
            "table": "ITEMS",
            "primary_key": "ID",
            "read_path": "columnar",
            **settings,
        }
    )


def read(
    source: TableSource, index: IndexConfig, *, columnar: bool, after: StoredKey | None = None
) -> tuple[ReadPath, list[tuple[StoredKey, bytes]], SkippedRows, int]:
    """A full sync's read by the columnar path (as the index asks) or by the row path, the
    reference; what each produced."""
    if not columnar:
        rows = index.model_copy(update={"read_path": "rows"})
        source = TableSource(source.engine, rows, selectable=source.selectable)
    skipped = SkippedRows()
    counter = Counter()
    path, lines = full_sync_lines(
        source,
        source.document_shape(),
        after=after,
        batch_size=index.batch_size,
        counter=counter,
        on_progress=None,
        on_bad_row=index.on_bad_row,
        skipped=skipped,
        max_bytes=10_000,
    )
    read_lines = list(lines)
    if not columnar:
        assert path.name == "rows"
    return path, read_lines, skipped, counter.rows


def outcome(
    source: TableSource, index: IndexConfig, *, columnar: bool
) -> tuple[str, Any, Any, int]:
    """What a read gives: its lines and skips, or the error a failing row raises."""
    try:
        _, lines, skipped, rows = read(source, index, columnar=columnar)
    except DocumentError as e:
        return "error", str(e), None, 0
    return "lines", lines, (skipped.count, skipped.sample), rows


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    rows=st.lists(ROW, max_size=25),
    keys=st.lists(KEYS, min_size=25, max_size=25, unique_by=lambda k: (type(k), k)),
    key_type=st.sampled_from(["INTEGER", "VARCHAR(20)"]),
    batch_size=st.integers(1, 7),
    epoch_fields=st.booleans(),
    binary=st.sampled_from(["base64", "omit"]),
    on_bad_row=st.sampled_from(["fail", "skip"]),
)
def test_columnar_documents_are_the_row_paths_byte_for_byte(
    tmp_path: Path,
    rows: list[dict[str, Any]],
    keys: list[Any],
    key_type: str,
    batch_size: int,
    epoch_fields: bool,
    binary: str,
    on_bad_row: str,
) -> None:
    # A text key column stores every key as text; an INTEGER one only the integers.
    if key_type == "INTEGER":
        keys = [k for k in keys if isinstance(k, int)]
    else:
        keys = [str(k) for k in keys]
    keys = list(dict.fromkeys(keys))
    rows = [{**row, "ID": key} for row, key in zip(rows, keys, strict=False)]
    engine = make_table(tmp_path / "items.db", rows, key_type)
    try:
        index = columnar_index(
            batch_size=batch_size, epoch_fields=epoch_fields, binary=binary, on_bad_row=on_bad_row
        )
        source = TableSource(engine, index)
        path, _, _ = choose_read_path(source, source.document_shape(), max_bytes=10_000)
        assert path.name == "columnar", path.describe()
        reference = outcome(source, index, columnar=False)
        columnar = outcome(source, index, columnar=True)
        assert columnar == reference
        if reference[0] == "lines":
            assert reference[3] == len(rows)
    finally:
        engine.dispose()


def test_the_path_is_chosen_from_the_source_and_its_columns(tmp_path: Path) -> None:
    engine = make_table(tmp_path / "items.db", [], "INTEGER")
    try:
        plain = IndexConfig.model_validate(
            {"name": "i", "table": "ITEMS", "primary_key": "ID", "read_path": "columnar"}
        )
        source = TableSource(engine, plain)
        path, _, _ = choose_read_path(source, source.document_shape(), max_bytes=10_000)
        assert (path.name, path.describe()) == (
            "columnar",
            "columnar path (every column has a columnar form)",
        )
        default = plain.model_copy(update={"read_path": "rows"})
        assert IndexConfig.model_validate({"name": "i", "table": "T", "primary_key": "ID"}) == (
            default.model_copy(update={"table": "T"})
        )
        source = TableSource(engine, default)
        path, _, _ = choose_read_path(source, source.document_shape(), max_bytes=10_000)
        assert path.describe() == "row path (read_path: rows, the default)"
        zoned = plain.model_copy(update={"timezone": "Asia/Seoul"})
        source = TableSource(engine, zoned)
        path, _, _ = choose_read_path(source, source.document_shape(), max_bytes=10_000)
        assert path.describe() == "row path (`timezone` is set (zone rules per value))"
        with engine.begin() as connection:
            connection.exec_driver_sql("CREATE TABLE PAIRS (A INTEGER, B TEXT, PRIMARY KEY (A, B))")
        composite = plain.model_copy(update={"table": "PAIRS", "primary_key": ("A", "B")})
        source = TableSource(engine, composite)
        path, _, _ = choose_read_path(source, source.document_shape(), max_bytes=10_000)
        assert path.name == "rows" and "composite" in path.reason
    finally:
        engine.dispose()
    memory = sa.create_engine("sqlite://")
    with memory.begin() as connection:
        connection.exec_driver_sql("CREATE TABLE T (ID INTEGER PRIMARY KEY, J JSON)")
    source = TableSource(memory, plain.model_copy(update={"table": "T"}))
    path, _, _ = choose_read_path(source, source.document_shape(), max_bytes=10_000)
    assert path.name == "rows"


def test_a_resumed_read_starts_after_the_stored_key(tmp_path: Path) -> None:
    """Checkpoints resume the columnar path where the row path would."""
    rows = [{**dict.fromkeys(COLUMNS), "ID": i, "NAME": f"n{i}"} for i in range(1, 30)]
    engine = make_table(tmp_path / "items.db", rows, "INTEGER")
    try:
        index = columnar_index(batch_size=4)
        source = TableSource(engine, index)
        for after in [None, (1,), (13,), (29,)]:
            _, expected, _, _ = read(source, index, columnar=False, after=after)
            _, got, _, _ = read(source, index, columnar=True, after=after)
            assert got == expected
            assert len(got) == 29 - (after[0] if after else 0)
    finally:
        engine.dispose()


@pytest.mark.parametrize("binary", ["base64", "omit"])
def test_well_formed_pages_never_leave_the_columnar_path(tmp_path: Path, binary: str) -> None:
    """Every type of the contract, in the forms writers store: no page falls back, and
    the lines are still the row path's (so the property test above compares real work)."""
    rows = [
        {
            "ID": i,
            "SKU": f"SKU-{i}",
            "QTY": i * 7 - 20,
            "RATIO": i / 3,
            "PRICE": [19.99, 3, 0.5, None][i % 4],
            "NAME": ["무선 이어폰", 'say "hi"\n', "", None][i % 4],
            "CODE": ["AB    ", "가", None, "X"][i % 4],
            "ACTIVE": [0, 1, None][i % 3],
            "BORN": ["1999-12-31", None, "1970-01-01"][i % 3],
            "UPDATED_AT": [
                stored_datetime(i * 1000, 0, 0),
                stored_datetime(-i * 10**6, 123_000, 1),
                stored_datetime(i, 500_000, 2),
                stored_datetime(i, 999_999, 3),
                None,
            ][i % 5],
            "PHOTO": [b"\x00\xff", None, b""][i % 3],
        }
        for i in range(1, 40)
    ]
    engine = make_table(tmp_path / "items.db", rows, "INTEGER")
    try:
        index = columnar_index(batch_size=6, epoch_fields=True, binary=binary)
        source = TableSource(engine, index)
        _, expected, _, _ = read(source, index, columnar=False)
        path, got, _, _ = read(source, index, columnar=True)
        assert (path.pages, path.row_pages, path.fallback_reasons) == (7, 0, [])
        assert got == expected
        assert len(got) == 39
    finally:
        engine.dispose()


def test_an_interrupted_columnar_sync_resumes_from_its_checkpoint(
    sync: SyncHarness, make_index: MakeIndex, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The source lost mid-read on the columnar path: the live index stays, the checkpoint
    names the build index, and the resume reads on from it, still by columns."""
    index = make_index(batch_size=50, read_path="columnar")
    small = sync.meili.model_copy(update={"max_payload_bytes": 6000, "max_tasks_in_flight": 1})
    live = sync.full(index)
    assert live.read_path is not None and live.read_path.startswith("columnar path")
    calls = {"pages": 0}
    real_fetch = ArrowPages.fetch

    def lost_after_four(self: ArrowPages, statement: Any, *, rows: int) -> Any:
        calls["pages"] += 1
        if calls["pages"] == 5:
            raise SourceError("connection lost (injected)")
        return real_fetch(self, statement, rows=rows)

    monkeypatch.setattr(ArrowPages, "fetch", lost_after_four)
    checkpoints: list[FullSyncCheckpoint] = []
    with pytest.raises(SourceError, match="connection lost"):
        full_sync(
            index,
            source=TableSource(sync.engine, index),
            client=sync.client,
            meili=small,
            on_checkpoint=checkpoints.append,
        )
    assert sync.client.document_count(index.name) == live.index_document_count
    last = checkpoints[-1]
    assert 0 < last.rows_acknowledged <= 200 and sync.client.index_exists(last.build_index)

    monkeypatch.setattr(ArrowPages, "fetch", real_fetch)
    progress: list[int] = []
    result = full_sync(
        index,
        source=TableSource(sync.engine, index),
        client=sync.client,
        meili=small,
        resume=last,
        on_checkpoint=lambda checkpoint: None,
        on_progress=progress.append,
    )
    assert progress[0] == last.acknowledge_in_flight().rows_acknowledged + 50
    assert result.read_path == "columnar path (every column has a columnar form)"
    assert result.index_document_count == result.rows_read == sync.live_count()
    assert sync.client.index_uids(prefix=index.name) == [index.name]
    assert sync.check(index).consistent


def test_a_page_that_starts_with_nulls_stays_columnar(tmp_path: Path) -> None:
    """The driver types a column by its first batch of values: one batch per page, so 1,500
    leading NULLs do not send a 3,000-row page to the row path."""
    rows: list[dict[str, Any]] = []
    for i in range(1, 3001):
        row: dict[str, Any] = {**dict.fromkeys(COLUMNS), "ID": i}
        if i > 1500:
            row.update(
                NAME=f"n{i}", UPDATED_AT="2026-01-01 00:00:00.5", PRICE=i / 4, QTY=i,
                RATIO=i / 3, PHOTO=b"x", ACTIVE=1, BORN="2000-01-01",
            )  # fmt: skip
        rows.append(row)
    engine = make_table(tmp_path / "items.db", rows, "INTEGER")
    try:
        index = columnar_index(batch_size=3000, epoch_fields=True)
        source = TableSource(engine, index)
        _, expected, _, _ = read(source, index, columnar=False)
        path, got, _, _ = read(source, index, columnar=True)
        assert (path.pages, path.row_pages) == (1, 0), path.fallback_reasons
        assert got == expected and len(got) == 3000
    finally:
        engine.dispose()
