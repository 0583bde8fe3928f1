"""The ``Store`` contract, checked on both backends (the ``store`` fixture is parametrised).

Read-check-write under the plan lock loses no update; a nested write is a
savepoint; 16 agents claiming on one plan never get the same task (from their
answers and from the journal).
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import replace

import pytest

from loopcore.clock import FixedClock
from loopcore.errors import StoreError
from loopcore.plans import PlanService
from loopcore.store import Store


def _plan(plans: PlanService, n: int) -> str:
    tasks = [{"id": f"t{i:03d}", "title": f"task {i}"} for i in range(n)]
    return plans.create("proj", "goal", tasks).plan.id


def test_read_check_write_under_the_plan_lock_loses_no_update(
    store: Store, clock: FixedClock
) -> None:
    """8 threads x 10 increments of the plan's version through get_plan(lock=True) + save_plan."""
    plan_id = _plan(PlanService(store, clock), 1)
    errors: list[BaseException] = []

    def bump() -> None:
        try:
            for _ in range(10):
                with store.write() as tx:
                    plan = tx.get_plan(plan_id, lock=True)
                    assert plan is not None
                    tx.save_plan(replace(plan, version=plan.version + 1))
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=bump) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with store.read() as tx:
        plan = tx.get_plan(plan_id)
    assert plan is not None and plan.version == 1 + 80


def test_a_failed_nested_write_rolls_back_only_itself(store: Store, clock: FixedClock) -> None:
    """The savepoint's changes go, the enclosing transaction's stay and commit."""
    plan_id = _plan(PlanService(store, clock), 2)
    with store.write() as tx:
        tx.append_journal("outer", at=1.0, project="proj", plan_id=plan_id)
        with pytest.raises(RuntimeError), store.write() as inner:
            inner.append_journal("inner", at=2.0, project="proj", plan_id=plan_id)
            raise RuntimeError("refused")
        with store.read() as same:  # a read inside a write joins it
            kinds = [e.kind for e in same.read_journal(plan_id=plan_id)]
        assert "outer" in kinds and "inner" not in kinds
    with store.read() as tx:
        kinds = [e.kind for e in tx.read_journal(plan_id=plan_id)]
    assert kinds.count("outer") == 1 and "inner" not in kinds


def test_a_write_inside_a_read_is_refused(store: Store) -> None:
    with store.read(), pytest.raises(StoreError, match=r"inside read"), store.write():
        pass


def test_an_exception_in_a_write_leaves_nothing(store: Store, clock: FixedClock) -> None:
    plan_id = _plan(PlanService(store, clock), 1)
    with pytest.raises(ValueError), store.write() as tx:
        tx.append_journal("lost", at=1.0, project="proj", plan_id=plan_id)
        tx.delete_plan(plan_id)
        raise ValueError("boom")
    with store.read() as tx:
        assert tx.get_plan(plan_id) is not None
        assert "lost" not in [e.kind for e in tx.read_journal(plan_id=plan_id)]


def test_sixteen_agents_claiming_on_one_plan_never_share_a_task(
    store: Store, clock: FixedClock
) -> None:
    """Each of 16 threads claims until nothing is ready; every task is claimed exactly once."""
    plans = PlanService(store, clock)
    plan_id = _plan(plans, 64)
    claims: list[tuple[str, str]] = []
    errors: list[BaseException] = []
    lock = threading.Lock()
    start = threading.Barrier(16)

    def agent(name: str) -> None:
        try:
            start.wait()
            while True:
                answer = plans.next_task(plan_id, agent=name, lease_s=3600)
                if answer.kind != "task" or answer.task is None:
                    return
                assert answer.task.claimed_by == name
                with lock:
                    claims.append((answer.task.id, name))
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=agent, args=(f"agent-{i}",)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    per_task = Counter(task for task, _ in claims)
    assert len(per_task) == 64 and set(per_task.values()) == {1}
    with store.read() as tx:
        journal = tx.read_journal(plan_id=plan_id, limit=1000)
        tasks = tx.list_tasks(plan_id)
    claimed = [(e.task_id, e.detail["agent"]) for e in journal if e.kind == "claimed"]
    assert sorted(claimed, key=str) == sorted(claims, key=str)
    assert {t.id: t.claimed_by for t in tasks} == dict(claims)
    assert {t.status for t in tasks} == {"in_progress"}
