"""The store reads the dashboard needs: projects, recent ratings, the change marker."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from loopcore.clock import FixedClock
from loopcore.history import HistoryService
from loopcore.loops import LoopService
from loopcore.plans import PlanService
from loopcore.store import SqliteStore, open_store


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteStore]:
    s, _ = open_store(tmp_path / "x.db", FixedClock())
    yield s
    s.close()


def _marker(store: SqliteStore) -> tuple[int, int, int]:
    with store.read() as tx:
        return tx.change_marker()


def test_an_empty_database_has_no_projects_and_a_zero_marker(store: SqliteStore) -> None:
    """Nothing stored: no project, marker (0, 0, 0)."""
    with store.read() as tx:
        assert tx.list_projects() == []
    assert _marker(store) == (0, 0, 0)


def test_projects_come_from_plans_loops_and_intercepts(store: SqliteStore) -> None:
    """A plan, a loop and an intercept filed under three projects list all three, sorted."""
    PlanService(store).create("/b", "goal", [{"id": "a", "title": "A"}])
    LoopService(store).start("/c", "goal", {"type": "length", "min_words": 1})
    HistoryService(store).record_intercept("/a", "h", 0.5, "C", {"clarity": 0.5}, "proceed", None)
    with store.read() as tx:
        assert tx.list_projects() == ["/a", "/b", "/c"]


def test_every_kind_of_change_moves_the_marker(store: SqliteStore) -> None:
    """A plan change moves the journal part, an intercept and a rating their own parts."""
    history = HistoryService(store)
    PlanService(store).create("/p", "goal", [{"id": "a", "title": "A"}])
    after_plan = _marker(store)
    assert after_plan[0] > 0
    hid = history.record_intercept("/p", "h", 0.5, "C", {}, "proceed", None)
    after_intercept = _marker(store)
    assert after_intercept[1] > after_plan[1] and after_intercept[0] == after_plan[0]
    history.record_feedback(hid, 4, "fine")
    assert _marker(store)[2] > after_intercept[2]


def test_recent_feedback_is_per_project_newest_first(store: SqliteStore) -> None:
    """Ratings of another project's intercepts are not listed; the newest comes first."""
    history = HistoryService(store)
    mine = history.record_intercept("/p", "h1", 0.5, "C", {}, "proceed", None)
    theirs = history.record_intercept("/q", "h2", 0.5, "C", {}, "proceed", None)
    history.record_feedback(mine, 2, "first")
    history.record_feedback(theirs, 5, "other")
    history.record_feedback(mine, 4, "second")
    with store.read() as tx:
        got = tx.recent_feedback("/p", 10)
    assert [(f.rating, f.comment) for f in got] == [(4, "second"), (2, "first")]
