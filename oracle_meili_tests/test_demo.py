"""The embedded demo source."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from oracle_meili.demo import create_demo, demo_rows


def test_demo_is_deterministic() -> None:
    assert list(demo_rows(50)) == list(demo_rows(50))
    assert list(demo_rows(5, seed=1)) != list(demo_rows(5, seed=2))


def test_demo_catalogue_has_korean_english_nulls_and_soft_deletes(tmp_path: Path) -> None:
    path = create_demo(tmp_path / "d.db", rows=2000)
    engine = sa.create_engine(f"sqlite:///{path}")
    with engine.connect() as c:
        count, korean, deleted, null_descriptions = c.execute(
            sa.text(
                "SELECT COUNT(*), SUM(LANG = 'ko'), SUM(IS_DELETED = 'Y'), "
                "SUM(DESCRIPTION IS NULL) FROM PRODUCTS"
            )
        ).one()
    engine.dispose()
    assert count == 2000
    assert 800 < korean < 1200
    assert 0 < deleted < 100 and 0 < null_descriptions < 150


def test_recreating_replaces_the_database(tmp_path: Path) -> None:
    create_demo(tmp_path / "d.db", rows=30)
    path = create_demo(tmp_path / "d.db", rows=10)
    engine = sa.create_engine(f"sqlite:///{path}")
    with engine.connect() as c:
        assert c.execute(sa.text("SELECT COUNT(*) FROM PRODUCTS")).scalar_one() == 10
    engine.dispose()
