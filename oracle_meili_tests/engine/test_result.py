"""What a sync reports about its freshness: how far the index is behind its source, and how
old the newest change it holds is."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import sqlalchemy as sa
from hypothesis import given
from hypothesis import strategies as st

from oracle_meili.config import AppConfig
from oracle_meili.engine.result import SyncResult, behind_seconds, held_newest
from oracle_meili.engine.runner import Runner
from oracle_meili.engine.state import StateFile
from oracle_meili.engine.watermark import encode_watermark

times = st.datetimes(min_value=dt.datetime(2000, 1, 1), max_value=dt.datetime(2100, 1, 1))
zones = st.sampled_from([None, dt.UTC, dt.timezone(dt.timedelta(hours=9))])


@given(newest=times, held=times, zone=zones)
def test_behind_is_the_newest_change_less_the_watermark_never_negative(
    newest: dt.datetime, held: dt.datetime, zone: dt.tzinfo | None
) -> None:
    newest, held = newest.replace(tzinfo=zone), held.replace(tzinfo=zone)
    behind = behind_seconds(newest, encode_watermark(held))
    assert behind is not None and behind >= 0
    assert behind == max(0.0, (newest - held).total_seconds())
    assert behind_seconds(held, encode_watermark(held)) == 0


@given(held=times, value=st.one_of(st.integers(), st.text(), st.none()))
def test_behind_is_unknown_unless_both_are_comparable_times(
    held: dt.datetime, value: object
) -> None:
    assert behind_seconds(value, encode_watermark(held)) is None
    assert behind_seconds(held, encode_watermark(5)) is None
    assert behind_seconds(held, None) is None
    # One stamped with a zone and one without are not compared.
    assert behind_seconds(held.replace(tzinfo=dt.UTC), encode_watermark(held)) is None


def test_a_sync_reports_how_far_behind_the_index_is(
    app_config: AppConfig, demo_db: Path, tmp_path: Path
) -> None:
    index = app_config.indexes[0]
    runner = Runner(app_config.source, app_config.meilisearch, state=StateFile(tmp_path / "s"))
    with runner.session() as session:
        result = session.sync(index, "full")
        assert result.behind_seconds == 0 and result.caught_up  # it holds the newest change
        # A change 90 s after the watermark, committed after the sync read its rows.
        engine = sa.create_engine(f"sqlite:///{demo_db}")
        held = dt.datetime.fromisoformat(str(result.watermark).split(":", 1)[1])
        with engine.begin() as c:
            c.execute(
                sa.text("UPDATE PRODUCTS SET UPDATED_AT = :t WHERE PRODUCT_ID = 1"),
                {"t": held + dt.timedelta(seconds=90)},
            )
        engine.dispose()
        assert session.freshness(index, result.watermark) == (False, 90)
        again = session.sync(index, "incremental")
        assert again.behind_seconds == 0 and again.caught_up is True


def test_the_newest_change_age_is_the_watermark_to_the_end_of_the_sync() -> None:
    end = dt.datetime(2026, 12, 6, 9, 0, tzinfo=dt.UTC)
    result = SyncResult(
        index="i", mode="incremental", started_at=end, finished_at=end, rows_read=0,
        documents_upserted=0, documents_deleted=0, index_document_count=0,
        watermark=encode_watermark(dt.datetime(2026, 12, 6, 8, 58)), previous_watermark=None,
    )  # fmt: skip
    assert result.newest_change_age_seconds == 120


@given(
    values=st.one_of(
        st.tuples(st.integers(), st.integers()),
        st.tuples(times, times),
        st.tuples(st.text(min_size=1), st.text(min_size=1)),
    )
)
def test_an_index_holds_the_newest_change_when_its_watermark_is_not_below_it(
    values: tuple[int, int] | tuple[dt.datetime, dt.datetime] | tuple[str, str],
) -> None:
    newest, held = values  # a pair of one type, as one cursor column gives
    assert held_newest(newest, encode_watermark(held)) == (newest <= held)  # type: ignore[operator]
    assert held_newest(None, encode_watermark(held))  # an empty source
    assert not held_newest(newest, None)  # never synced


def test_an_incremental_sync_says_which_rows_it_read_again(
    app_config: AppConfig, demo_db: Path, tmp_path: Path
) -> None:
    """With a look-back window, an incremental sync reads the window again: it reports those
    rows as read again, and a row changed since as not."""
    index = app_config.indexes[0].model_copy(update={"lookback_seconds": 3600.0})
    runner = Runner(app_config.source, app_config.meilisearch, state=StateFile(tmp_path / "s"))
    with runner.session() as session:
        full = session.sync(index, "full")
        quiet = session.sync(index, "incremental")
        assert quiet.rows_read > 0 and quiet.rows_reread == quiet.rows_read  # nothing new
        held = dt.datetime.fromisoformat(str(full.watermark).split(":", 1)[1])
        engine = sa.create_engine(f"sqlite:///{demo_db}")
        with engine.begin() as c:
            c.execute(
                sa.text("UPDATE PRODUCTS SET UPDATED_AT = :t WHERE PRODUCT_ID = 1"),
                {"t": held + dt.timedelta(seconds=5)},
            )
        engine.dispose()
        changed = session.sync(index, "incremental")
        assert changed.rows_read == changed.rows_reread + 1
