"""The store's reads use indexes, and priors fold row by row."""

from __future__ import annotations

import math
from pathlib import Path

from loopcore.clock import FixedClock
from loopcore.store import open_store
from loopcore.store.observations import LoopObservation
from loopcore.store.sqlite.history import RECENT_INTERCEPTS_SQL


def test_recent_intercepts_is_an_index_range_scan(tmp_path: Path) -> None:
    """The history read walks the (project, seq) index: its cost does not grow with history."""
    store, _ = open_store(tmp_path / "x.db", FixedClock())
    with store.read() as tx:
        plan = tx._conn.execute("EXPLAIN QUERY PLAN " + RECENT_INTERCEPTS_SQL, ("p", 5)).fetchall()
    store.close()
    detail = " ".join(str(row[-1]) for row in plan)
    assert "USING INDEX intercepts_by_project" in detail
    assert "TEMP B-TREE" not in detail


def test_the_rolling_confidence_read_uses_the_scored_index(tmp_path: Path) -> None:
    """Recent task confidences come from the partial index on scored tasks, without a sort."""
    store, _ = open_store(tmp_path / "x.db", FixedClock())
    sql = (
        "SELECT confidence FROM tasks WHERE plan_id = ? AND score_seq IS NOT NULL "
        "ORDER BY scored_at DESC, score_seq DESC LIMIT ?"
    )
    with store.read() as tx:
        plan = tx._conn.execute("EXPLAIN QUERY PLAN " + sql, ("pl", 200)).fetchall()
    store.close()
    detail = " ".join(str(row[-1]) for row in plan)
    assert "tasks_scored" in detail
    assert "TEMP B-TREE" not in detail


def test_observations_fold_into_welford_rows(tmp_path: Path) -> None:
    """Two observations give n=2 at iterations they share, the right means and Beta counts."""
    store, _ = open_store(tmp_path / "x.db", FixedClock())
    store.record_observation(
        LoopObservation(
            task_type="code", model="m", scores=(0.2, 0.6), threshold=0.5, converged=True
        )
    )
    store.record_observation(
        LoopObservation(task_type="code", model="m", scores=(0.4,), threshold=0.5, converged=False)
    )
    iterations, outcomes = store.load_prior_stats()
    store.close()
    by_i = {s.iteration: s for s in iterations}
    assert by_i[1].score.n == 2
    assert math.isclose(by_i[1].score.mean, 0.3)
    assert by_i[2].score.n == 1
    assert math.isclose(by_i[2].delta.mean, 0.4)
    (outcome,) = outcomes
    assert (outcome.loops, outcome.converged, outcome.alpha, outcome.beta) == (2, 1, 2.0, 2.0)
    assert math.isclose(outcome.iterations.mean, 1.5)
