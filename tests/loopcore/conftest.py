"""Fixtures shared by the domain tests: a fixed clock, a store, the services.

``store`` is parametrised over both backends: a real SQLite file and a fresh
database on the session's throwaway PostgreSQL cluster (``tests/conftest.py``), so
every test that takes it (or a service built on it) runs against both. Tests that
are SQLite-specific open their own file with ``open_store(tmp_path / ...)``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from psycopg.rows import tuple_row

from loopcore.clock import FixedClock
from loopcore.history import HistoryService
from loopcore.loops.sessions import LoopService
from loopcore.plans.service import PlanService
from loopcore.store import PostgresStore, Store, open_store


@pytest.fixture
def clock() -> FixedClock:
    """A clock that moves only when a test advances it."""
    return FixedClock(1_700_000_000.0)


@pytest.fixture(params=["sqlite", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Path, clock: FixedClock) -> Iterator[Store]:
    """A migrated store: a temporary SQLite file, or a fresh PostgreSQL database."""
    if request.param == "postgres":
        where: str | Path = request.getfixturevalue("pg_url")
    else:
        where = tmp_path / "loopcore.db"
    s, _ = open_store(where, clock)
    yield s
    s.close()


@pytest.fixture
def plans(store: Store, clock: FixedClock) -> PlanService:
    """The plan service on the test store."""
    return PlanService(store, clock)


@pytest.fixture
def loops(store: Store, clock: FixedClock) -> LoopService:
    """The loop service on the test store."""
    return LoopService(store, clock)


@pytest.fixture
def history(store: Store, clock: FixedClock) -> HistoryService:
    """The prompt-history service on the test store."""
    return HistoryService(store, clock)


def query(store: Store, sql: str, params: tuple[object, ...] = ()) -> list[tuple[Any, ...]]:
    """Rows of a raw ``SELECT`` on either backend (``?`` placeholders), as tuples."""
    with store.read() as tx:
        if isinstance(store, PostgresStore):
            cur = tx._conn.cursor(row_factory=tuple_row)  # type: ignore[attr-defined]
            return list(cur.execute(sql.replace("?", "%s"), params).fetchall())
        return [tuple(r) for r in tx._conn.execute(sql, params).fetchall()]  # type: ignore[attr-defined]
