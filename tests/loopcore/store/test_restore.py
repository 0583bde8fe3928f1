"""Opening the store restores state and reports what it found."""

from __future__ import annotations

from pathlib import Path

from loopcore.clock import FixedClock
from loopcore.loops.sessions import LoopService
from loopcore.plans.service import PlanService
from loopcore.store import open_store

REGEX = {"type": "regex", "required": ["ok"]}


def test_restore_returns_expired_leases_and_counts_state(tmp_path: Path) -> None:
    """Expired claims go back to pending (journalled); plans and loops are counted."""
    clock = FixedClock(1000.0)
    store, _ = open_store(tmp_path / "x.db", clock)
    plans = PlanService(store, clock)
    plan_id = plans.create("p", "g", [{"id": "a", "title": "A"}, {"id": "b", "title": "B"}]).plan.id
    plans.next_task(plan_id, agent="x", lease_s=10)
    plans.next_task(plan_id, agent="y", lease_s=10_000)
    archived = plans.create("p", "old", [{"id": "a", "title": "A"}]).plan.id
    plans.archive(archived)
    LoopService(store, clock).start("p", "goal", REGEX)
    store.close()

    clock.advance(60)
    store, report = open_store(tmp_path / "x.db", clock)
    status = PlanService(store, clock).status(plan_id, verbose=True)
    journal = PlanService(store, clock).journal(plan_id)
    store.close()
    assert report.leases_expired == 1
    assert (report.active_plans, report.archived_plans) == (1, 1)
    assert (report.open_loops, report.stopped_loops, report.intercepts) == (1, 0, 0)
    assert {t.id: t.status for t in status.tasks} == {"a": "pending", "b": "in_progress"}
    assert [
        (e.kind, e.task_id, e.detail["agent"]) for e in journal if e.kind == "lease_expired"
    ] == [("lease_expired", "a", "x")]
