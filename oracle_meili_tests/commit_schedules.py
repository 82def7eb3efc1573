"""Schedules of commits for the change-rule tests: a table whose cursor has one-second
resolution, a clock the test moves, and the steps hypothesis draws.

A row is stamped with the clock's second less a lateness and committed now, so it carries a
cursor at or below the newest one already synced (a tie in the same second, or a late commit
inside the look-back window) as often as above it. Every commit keeps the look-back's premise:
it lands at most ``lookback_seconds`` after its cursor value, which is never in the future.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from hypothesis import strategies as st

from oracle_meili.adapters.meili import MeiliClient
from oracle_meili.config import IndexConfig

LOOKBACK_SECONDS = 5
INTERVAL_SECONDS = 0.5
START = dt.datetime(2026, 12, 6, 9, 0, tzinfo=dt.UTC)


class Clock:
    """A clock that moves only when told: the probe's, the syncs' and the database's."""

    def __init__(self) -> None:
        self.at = START

    def __call__(self) -> dt.datetime:
        return self.at

    def advance(self, seconds: float) -> None:
        self.at += dt.timedelta(seconds=seconds)


@dataclass(frozen=True)
class Commit:
    """Insert a row (``row`` None) or update one, stamped ``lateness`` seconds back."""

    row: int | None
    lateness: int


@dataclass(frozen=True)
class Wait:
    seconds: float


@dataclass(frozen=True)
class Poll:
    """One probe (and the syncs it finds due)."""


Step = Commit | Wait | Poll

steps = st.lists(
    st.one_of(
        st.builds(
            Commit,
            row=st.none() | st.integers(0, 30),
            lateness=st.integers(0, LOOKBACK_SECONDS - 1),
        ),
        st.builds(Wait, seconds=st.sampled_from([0.2, INTERVAL_SECONDS, 1.0, 2.5, 4.0])),
        st.just(Poll()),
    ),
    min_size=1,
    max_size=25,
)


def index_config(name: str) -> IndexConfig:
    return IndexConfig.model_validate(
        {
            "name": name,
            "table": "EVENTS",
            "primary_key": "ID",
            "cursor": "UPDATED_AT",
            "lookback_seconds": LOOKBACK_SECONDS,
            "batch_size": 3,
            "settings": {"searchableAttributes": ["name"]},
        }
    )


@dataclass
class EventsTable:
    """The ``EVENTS`` table in a SQLite file, written on ``clock``'s time; what each row
    holds now, to compare with the index."""

    engine: sa.Engine
    clock: Callable[[], dt.datetime]
    rows: dict[int, str] = field(default_factory=dict)
    changes: int = 0

    @classmethod
    def create(cls, path: Path, clock: Callable[[], dt.datetime]) -> EventsTable:
        engine = sa.create_engine(f"sqlite:///{path}")
        with engine.begin() as c:
            # Text stamps with one-second resolution, as a DATE column holds them.
            c.exec_driver_sql(
                "CREATE TABLE EVENTS (ID INTEGER PRIMARY KEY, NAME TEXT NOT NULL, "
                "UPDATED_AT DATETIME NOT NULL)"
            )
            c.exec_driver_sql("CREATE INDEX EVENTS_UPDATED_AT ON EVENTS (UPDATED_AT)")
        return cls(engine, clock)

    def commit(self, step: Commit, *, stamp: dt.datetime | None = None) -> dt.datetime:
        """Commit the step; its cursor value is ``stamp`` when given (returned)."""
        self.changes += 1
        if stamp is None:
            stamp = self.clock().replace(tzinfo=None, microsecond=0)
            stamp -= dt.timedelta(seconds=step.lateness)
        name = f"change{self.changes}x"
        ids = sorted(self.rows)
        row = ids[step.row % len(ids)] if step.row is not None and ids else len(ids) + 1
        with self.engine.begin() as c:
            c.execute(
                sa.text(
                    "INSERT INTO EVENTS (ID, NAME, UPDATED_AT) VALUES (:i, :n, :t) "
                    "ON CONFLICT (ID) DO UPDATE SET NAME = :n, UPDATED_AT = :t"
                ),
                {"i": row, "n": name, "t": stamp.strftime("%Y-%m-%d %H:%M:%S")},
            )
        self.rows[row] = name
        return stamp


def run(schedule: list[Step], table: EventsTable, poll: Callable[[], Any]) -> None:
    """Play the schedule, then stay quiet for the look-back window and one probe interval,
    polling as the automation would: nothing after the last commit may help it."""
    clock = table.clock
    assert isinstance(clock, Clock), "a schedule runs on a clock the test moves"
    for step in schedule:
        if isinstance(step, Commit):
            _ = table.commit(step)
        elif isinstance(step, Wait):
            clock.advance(step.seconds)
        else:
            poll()
    for _ in range(math.ceil((LOOKBACK_SECONDS + INTERVAL_SECONDS) / INTERVAL_SECONDS) + 1):
        clock.advance(INTERVAL_SECONDS)
        poll()


def assert_searchable(client: MeiliClient, index: str, rows: dict[int, str]) -> None:
    """The index holds exactly the rows, and a search for each row's latest name finds
    that row first."""
    documents = [d for page in client.documents(index, chunk=1000) for d in page] if rows else []
    assert {d["id"]: d["name"] for d in documents} == rows
    for row, name in rows.items():
        hits = client.search(index, name)["hits"]
        assert hits and hits[0]["id"] == row, f"a search for {name!r} found {hits}"
