"""Opening the store restores state and reports what it found."""

from __future__ import annotations

from pathlib import Path

from loopcore.clock import FixedClock
from loopcore.loops.sessions import LoopService
from loopcore.plans.service import PlanService
from loopcore.store import open_store

REGEX = {"type": "regex", "required": ["ok"]}


def test_restore_returns_expired_leases_and_counts_state(where: str | Path) -> None:
    """Expired claims go back to pending (journalled); plans and loops are counted."""
    clock = FixedClock(1000.0)
    store, _ = open_store(where, clock)
    plans = PlanService(store, clock)
    plan_id = plans.create("p", "g", [{"id": "a", "title": "A"}, {"id": "b", "title": "B"}]).plan.id
    plans.next_task(plan_id, agent="x", lease_s=10)
    plans.next_task(plan_id, agent="y", lease_s=10_000)
    archived = plans.create("p", "old", [{"id": "a", "title": "A"}]).plan.id
    plans.archive(archived)
    LoopService(store, clock).start("p", "goal", REGEX)
    store.close()

    clock.advance(60)
    store, report = open_store(where, clock)
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


def test_restore_releases_expired_leases_of_several_plans(where: str | Path) -> None:
    """Every plan's expired claims are released once, journalled, the plan's version bumped."""
    clock = FixedClock(1000.0)
    store, _ = open_store(where, clock)
    plans = PlanService(store, clock)
    tasks = [{"id": t, "title": t.upper()} for t in ("a", "b", "c")]
    ids = [plans.create("p", f"g{i}", tasks).plan.id for i in range(3)]
    for plan_id in ids[:2]:
        for agent in ("x", "y"):
            plans.next_task(plan_id, agent=agent, lease_s=10)
    versions = {p: plans.status(p).plan.version for p in ids}
    store.close()

    clock.advance(60)
    store, report = open_store(where, clock)
    plans = PlanService(store, clock)
    after = {p: plans.status(p, verbose=True) for p in ids}
    expired = {p: [e.task_id for e in plans.journal(p) if e.kind == "lease_expired"] for p in ids}
    store.close()
    assert report.leases_expired == 4
    assert expired == {ids[0]: ["a", "b"], ids[1]: ["a", "b"], ids[2]: []}
    assert {p: s.plan.version - versions[p] for p, s in after.items()} == {
        ids[0]: 2,
        ids[1]: 2,
        ids[2]: 0,
    }
    assert all(t.status == "pending" for s in after.values() for t in s.tasks)
