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


def test_task_context_reads_the_plan_the_task_and_the_scoring_facts_in_one_go(
    store: Store, clock: FixedClock
) -> None:
    """The others' newest scores come back exact and newest first; the count leaves the
    task itself out; an unknown task still finds its plan, an unknown plan finds nothing."""
    plans = PlanService(store, clock)
    plan_id = _plan(plans, 5)
    scores = {"t000": 0.1 + 0.2, "t001": 1 / 3, "t002": 0.72}
    for task_id, score in scores.items():
        clock.advance(1.5)
        plans.record(plan_id, task_id, output_score=score)
    with store.read() as tx:
        found = tx.task_context(plan_id, "t001", window=10)
        narrow = tx.task_context(plan_id, "t001", window=1)
        bare = tx.task_context(plan_id, "t004")
        missing_task = tx.task_context(plan_id, "nope", window=10)
        missing_plan = tx.task_context("pl_nope", "t000", window=10)
        stored = {t.id: t for t in tx.list_tasks(plan_id)}
    assert found is not None and found.task is not None
    assert found.plan.id == plan_id and found.task == stored["t001"]
    assert found.others_confidence == (scores["t002"], scores["t000"])
    assert found.newest_other == (stored["t002"].scored_at, stored["t002"].score_seq)
    assert stored["t000"].status == "failed" and stored["t002"].status == "done"
    assert found.others_open  # t000 (failed: not finished), t003 and t004 (pending)
    assert narrow is not None and narrow.others_confidence == (scores["t002"],)
    assert narrow.newest_other == found.newest_other
    assert bare is not None and bare.task == stored["t004"] and bare.others_confidence == ()
    assert bare.newest_other is None
    assert missing_task is not None and missing_task.task is None
    assert missing_plan is None


def test_append_journal_many_keeps_order_and_exact_details(store: Store, clock: FixedClock) -> None:
    plan_id = _plan(PlanService(store, clock), 1)
    entries: list[tuple[str, dict[str, object]]] = [
        ("first", {"x": 0.1 + 0.2, "s": 'é\n"q"'}),
        ("second", {}),
        ("third", {"n": 3}),
    ]
    with store.write() as tx:
        tx.append_journal_many(entries, at=7.0, project="proj", plan_id=plan_id, task_id="t000")
        tx.append_journal_many([], at=8.0, project="proj", plan_id=plan_id)
    with store.read() as tx:
        tail = tx.read_journal(plan_id=plan_id)[-3:]
    assert [(e.kind, dict(e.detail)) for e in tail] == entries
    assert [e.seq for e in tail] == sorted(e.seq for e in tail)
    assert {(e.at, e.task_id) for e in tail} == {(7.0, "t000")}


def test_glance_reads_committed_rows_and_joins_an_enclosing_write(
    store: Store, clock: FixedClock
) -> None:
    plan_id = _plan(PlanService(store, clock), 1)
    with store.glance() as tx:
        found = tx.task_context(plan_id, "t000")
    assert found is not None and found.task is not None and found.task.id == "t000"
    with store.write() as tx:
        tx.delete_plan(plan_id)
        with store.glance() as same:  # inside the write: sees its uncommitted delete
            assert same.task_context(plan_id, "t000") is None
        assert tx.get_plan(plan_id) is None
