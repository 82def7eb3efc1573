"""Engines for the source, and the probe engines the change sensor keeps open."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import sqlalchemy as sa

from oracle_meili.adapters.database import KeptEngines


class Opener:
    """Counts how often an engine is opened and closed."""

    def __init__(self, path: Path) -> None:
        self.url = f"sqlite:///{path}"
        self.opened = self.closed = 0

    @contextmanager
    def __call__(self) -> Iterator[sa.Engine]:
        self.opened += 1
        engine = sa.create_engine(self.url)
        try:
            yield engine
        finally:
            engine.dispose()
            self.closed += 1


def probe(kept: KeptEngines, opener: Opener) -> int:
    with kept.engine("db", opener) as engine, engine.connect() as c:
        return int(c.execute(sa.text("SELECT 1")).scalar_one())


def test_probes_share_one_engine_until_it_idles(tmp_path: Path) -> None:
    """a one-second sensor must not log on to Oracle every second."""
    opener = Opener(tmp_path / "a.db")
    kept = KeptEngines(idle_seconds=3600)
    assert [probe(kept, opener) for _ in range(3)] == [1, 1, 1]
    assert (opener.opened, opener.closed) == (1, 0)
    kept.idle_seconds = 0  # everything is idle now: the next use closes and reopens
    probe(kept, opener)
    assert (opener.opened, opener.closed) == (2, 1)
    kept.close()
    assert opener.closed == 2


def test_a_failed_probe_drops_its_engine(tmp_path: Path) -> None:
    opener = Opener(tmp_path / "b.db")
    kept = KeptEngines()
    with (
        pytest.raises(sa.exc.OperationalError),
        kept.engine("db", opener) as engine,
        engine.connect() as c,
    ):
        c.execute(sa.text("SELECT * FROM no_such_table"))
    assert (opener.opened, opener.closed) == (1, 1)
    probe(kept, opener)
    assert opener.opened == 2
    kept.close()
