"""Fixtures shared by the domain tests: a fixed clock, a store on a real file, the services."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from loopcore.clock import FixedClock
from loopcore.history import HistoryService
from loopcore.loops.sessions import LoopService
from loopcore.plans.service import PlanService
from loopcore.store import SqliteStore, open_store


@pytest.fixture
def clock() -> FixedClock:
    """A clock that moves only when a test advances it."""
    return FixedClock(1_700_000_000.0)


@pytest.fixture
def store(tmp_path: Path, clock: FixedClock) -> Iterator[SqliteStore]:
    """A migrated store on a temporary database file."""
    s, _ = open_store(tmp_path / "loopcore.db", clock)
    yield s
    s.close()


@pytest.fixture
def plans(store: SqliteStore, clock: FixedClock) -> PlanService:
    """The plan service on the test store."""
    return PlanService(store, clock)


@pytest.fixture
def loops(store: SqliteStore, clock: FixedClock) -> LoopService:
    """The loop service on the test store."""
    return LoopService(store, clock)


@pytest.fixture
def history(store: SqliteStore, clock: FixedClock) -> HistoryService:
    """The prompt-history service on the test store."""
    return HistoryService(store, clock)
