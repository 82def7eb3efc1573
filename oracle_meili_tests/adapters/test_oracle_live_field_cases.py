"""The field's cases against a real Oracle, opt-in (see test_oracle_live.py for how to run them)."""

# ruff: noqa: F811 (the fixtures come from test_oracle_live.py and are named as parameters)

# mypy: disable-error-code="no-untyped-call"
# (SQLAlchemy's Oracle type constructors carry no annotations.)
from __future__ import annotations

import os
from typing import Any

import pytest
import sqlalchemy as sa

from oracle_meili.adapters.meili import MeiliClient
from oracle_meili.adapters.source import TableSource
from oracle_meili.config import IndexConfig, MeilisearchConfig
from oracle_meili.demo import populate
from oracle_meili.engine.full import full_sync
from oracle_meili.errors import SourceConnectionError
from oracle_meili_tests.adapters.test_oracle_live import (  # noqa: F401
    engine,
    full,
    incremental,
    live_rows,
    products_index,
    settings,
    table_name,
)

pytestmark = [
    pytest.mark.oracle,
    pytest.mark.skipif(
        not os.environ.get("ORACLE_TEST_DSN"),
        reason="needs a real Oracle: set ORACLE_TEST_DSN, ORACLE_TEST_USER, ORACLE_TEST_PASSWORD",
    ),
]


def test_plain_number_key_above_2_53(
    engine: sa.Engine, table_name: str, meili_config: MeilisearchConfig, meili_client: MeiliClient
) -> None:
    """`ID NUMBER` (no precision) was fetched as a float: every row failed."""
    with engine.begin() as c:
        c.execute(
            sa.text(f'CREATE TABLE "{table_name}" (ID NUMBER PRIMARY KEY, NAME VARCHAR2(20))')
        )
        c.execute(
            sa.text(f'INSERT INTO "{table_name}" VALUES (:i, :n)'),
            [{"i": 2**53 + k, "n": f"n{k}"} for k in range(1, 8)] + [{"i": 7, "n": "small"}],
        )
    index = IndexConfig.model_validate(
        {"name": f"live_{table_name.lower()}", "table": table_name, "primary_key": "ID",
         "batch_size": 2}
    )  # fmt: skip
    assert full(engine, index, meili_config).index_document_count == 8
    assert meili_client.document(index.name, 2**53 + 1)["name"] == "n1"
    assert meili_client.document(index.name, 2**53 + 7)["name"] == "n7"


def test_query_source_timestamp_cursor_with_a_bulk_update_in_one_second(
    engine: sa.Engine, table_name: str, meili_config: MeilisearchConfig
) -> None:
    """an untyped bind went out as DATE; `batch_size` rows in one second looped."""
    with engine.begin() as c:
        c.execute(
            sa.text(
                f'CREATE TABLE "{table_name}" (ID NUMBER(10) PRIMARY KEY, '
                "NAME VARCHAR2(20), CHANGED TIMESTAMP(6))"
            )
        )
        c.execute(
            sa.text(f'INSERT INTO "{table_name}" VALUES (:i, :n, SYSTIMESTAMP)'),
            [{"i": i, "n": f"n{i}"} for i in range(1, 41)],
        )
        c.execute(sa.text(f'UPDATE "{table_name}" SET CHANGED = SYSTIMESTAMP'))  # one instant
    query = f'SELECT ID, NAME, CHANGED FROM "{table_name}"'
    index = IndexConfig.model_validate(
        {"name": f"live_{table_name.lower()}", "query": query, "primary_key": "ID",
         "cursor": "CHANGED", "batch_size": 5}
    )  # fmt: skip
    result = incremental(engine, index, meili_config, None)
    assert result.rows_read == result.index_document_count == 40


def test_varchar_keys_under_a_linguistic_logon_sort(
    engine: sa.Engine, table_name: str, meili_config: MeilisearchConfig
) -> None:
    """ORDER BY linguistic while `>` binary skipped or repeated string keys."""
    keys = ["a", "A", "b", "B", "ä", "Ä", "z", "Z", "0", "9", "가", "_x", "-y"]
    with engine.begin() as c:
        c.execute(sa.text(f'CREATE TABLE "{table_name}" (K VARCHAR2(10) PRIMARY KEY, N NUMBER)'))
        c.execute(
            sa.text(f'INSERT INTO "{table_name}" VALUES (:k, :n)'),
            [{"k": k, "n": n} for n, k in enumerate(keys)],
        )
    index = IndexConfig.model_validate(
        {"name": f"live_{table_name.lower()}", "table": table_name, "primary_key": ["K", "N"],
         "batch_size": 2}
    )  # fmt: skip
    result = full(engine, index, meili_config)
    assert result.rows_read == result.index_document_count == len(keys)


def test_tstz_cursor_in_several_zones(
    engine: sa.Engine,
    table_name: str,
    meili_config: MeilisearchConfig,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Rows stamped in several zones, the process in yet another."""
    monkeypatch.setenv("TZ", "America/Los_Angeles")
    with engine.begin() as c:
        c.execute(
            sa.text(
                f'CREATE TABLE "{table_name}" (ID NUMBER(10) PRIMARY KEY, '
                "CHANGED TIMESTAMP WITH TIME ZONE)"
            )
        )
        stamps = ["2026-01-01 09:00:00 +09:00", "2026-01-01 00:00:00 +00:00",
                  "2025-12-31 19:00:00 -05:00", "2026-01-01 10:00:00 +09:00",
                  "2026-01-01 00:30:00 +00:00"]  # fmt: skip
        for i, stamp in enumerate(stamps, 1):
            c.execute(
                sa.text(
                    f'INSERT INTO "{table_name}" VALUES (:i, '
                    "TO_TIMESTAMP_TZ(:s, 'YYYY-MM-DD HH24:MI:SS TZH:TZM'))"
                ),
                {"i": i, "s": stamp},
            )
    index = IndexConfig.model_validate(
        {"name": f"live_{table_name.lower()}", "table": table_name, "primary_key": "ID",
         "cursor": "CHANGED", "batch_size": 1}
    )  # fmt: skip
    first = incremental(engine, index, meili_config, None)
    assert first.rows_read == 5  # rows 1-3 are one instant (00:00 UTC): a tie across zones
    assert first.watermark == "datetime:2026-01-01T01:00:00"  # 10:00 +09:00, as UTC
    with engine.begin() as c:
        c.execute(
            sa.text(
                f'UPDATE "{table_name}" SET CHANGED = '
                "TO_TIMESTAMP_TZ('2026-01-01 11:00:00 +09:00', 'YYYY-MM-DD HH24:MI:SS TZH:TZM') "
                "WHERE ID = 2"
            )
        )
    second = incremental(engine, index, meili_config, first.watermark)
    assert second.rows_read == 1


def test_char_keys_and_flags(
    engine: sa.Engine, table_name: str, meili_config: MeilisearchConfig, meili_client: MeiliClient
) -> None:
    """a CHAR(n) key came back padded; a CHAR(3) flag counted as live in SQL."""
    with engine.begin() as c:
        c.execute(sa.text(f'CREATE TABLE "{table_name}" (CODE CHAR(8) PRIMARY KEY, DEL CHAR(3))'))
        c.execute(
            sa.text(f'INSERT INTO "{table_name}" VALUES (:c, :d)'),
            [{"c": "AB", "d": "N"}, {"c": "CD", "d": "Y"}, {"c": "EF", "d": "N"}],
        )
    index = IndexConfig.model_validate(
        {"name": f"live_{table_name.lower()}", "table": table_name, "primary_key": "CODE",
         "soft_delete": {"column": "DEL", "deleted_value": "Y"}}
    )  # fmt: skip
    result = full(engine, index, meili_config)
    assert result.index_document_count == 2
    assert meili_client.document(index.name, "AB")["code"] == "AB"


def test_synonym_and_interval_year_to_month(
    engine: sa.Engine, table_name: str, meili_config: MeilisearchConfig, meili_client: MeiliClient
) -> None:
    """a synonym as `table`; INTERVAL YEAR TO MONTH was rejected."""
    synonym = f"{table_name}_S"
    with engine.begin() as c:
        c.execute(
            sa.text(
                f'CREATE TABLE "{table_name}" (ID NUMBER(10) PRIMARY KEY, '
                "TERM INTERVAL YEAR(2) TO MONTH)"
            )
        )
        c.execute(sa.text(f"INSERT INTO \"{table_name}\" VALUES (1, INTERVAL '1-6' YEAR TO MONTH)"))
        c.execute(sa.text(f'CREATE SYNONYM "{synonym}" FOR "{table_name}"'))
    try:
        index = IndexConfig.model_validate(
            {"name": f"live_{table_name.lower()}", "table": synonym, "primary_key": "ID"}
        )
        full(engine, index, meili_config)
        assert meili_client.document(index.name, 1)["term"] == 18  # months
    finally:
        with engine.begin() as c:
            c.execute(sa.text(f'DROP SYNONYM "{synonym}"'))


def test_resume_with_a_dead_scn_starts_afresh(
    engine: sa.Engine, table_name: str, meili_config: MeilisearchConfig, meili_client: MeiliClient
) -> None:
    """The closest reproducible equivalent of ORA-01555 on resume: a kept plan whose SCN
    is far older than any undo (Oracle answers ORA-08180/08181/01555/01466)."""
    import tempfile
    from dataclasses import replace
    from pathlib import Path

    from oracle_meili.engine.state import StateFile

    populate(engine, rows=300, table_name=table_name)
    index = products_index(table_name, consistent_snapshot=True, batch_size=50)
    small = meili_config.model_copy(update={"max_payload_bytes": 6000, "max_tasks_in_flight": 1})
    state = StateFile(Path(tempfile.mkdtemp()) / "state.json")

    class LostAfterTwo(TableSource):
        def read_all(self, *, batch_size: int, after: Any = None, upto: Any = None) -> Any:
            for number, batch in enumerate(
                super().read_all(batch_size=batch_size, after=after, upto=upto)
            ):
                if number == 2:
                    raise SourceConnectionError("connection lost (injected)")
                yield batch

    with pytest.raises(SourceConnectionError):
        full_sync(LostAfterTwo(engine, index), MeiliClient(small), state=state)
    kept = state.plan(index.name)
    assert kept is not None
    dead = replace(kept, scn=1)
    state.save_plan(dead)  # the same build: its checkpoints stay
    result = full_sync(TableSource(engine, index), MeiliClient(small), state=state)
    assert result.index_document_count == live_rows(engine, table_name)
    assert not meili_client.index_exists(dead.build_index)


@pytest.mark.slow
def test_full_sync_of_a_million_rows(
    engine: sa.Engine, table_name: str, meili_config: MeilisearchConfig
) -> None:
    populate(engine, rows=1_000_000, table_name=table_name)
    index = products_index(table_name, batch_size=10_000)
    assert full(engine, index, meili_config).index_document_count == live_rows(engine, table_name)
