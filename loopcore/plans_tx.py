"""Plan operations that run inside one store transaction.

``PlanService`` wraps each in ``store.write()``; the loop and history services
call them inside their own transactions, so a loop's best score or an
intercept's prompt score lands on its task atomically with the rest.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from loopcore.confidence import WINDOW, rolling_confidence
from loopcore.errors import Conflict, PlanNotFound, TaskNotFound
from loopcore.plan_graph import blocked_reason
from loopcore.plans_model import NextTask, TaskSpec
from loopcore.store.protocol import StoreTx
from loopcore.store.records import Plan, Revision, Task

__all__ = [
    "bump",
    "claim_next",
    "create_plan",
    "load_active_plan",
    "load_plan",
    "load_task",
    "new_tasks",
    "peek_next",
    "refresh_confidence",
]


def load_plan(tx: StoreTx, plan_id: str, *, lock: bool = False) -> Plan:
    """The plan, or ``PlanNotFound``."""
    plan = tx.get_plan(plan_id, lock=lock)
    if plan is None:
        raise PlanNotFound(plan_id)
    return plan


def load_active_plan(tx: StoreTx, plan_id: str) -> Plan:
    """The plan, locked for this transaction; ``Conflict`` when it is archived."""
    plan = load_plan(tx, plan_id, lock=True)
    if plan.status == "archived":
        raise Conflict(f"plan {plan_id!r} is archived; archived plans are read-only")
    return plan


def load_task(tx: StoreTx, plan_id: str, task_id: str) -> Task:
    """The task, or ``TaskNotFound``."""
    task = tx.get_task(plan_id, task_id)
    if task is None:
        raise TaskNotFound(plan_id, task_id)
    return task


def bump(plan: Plan, now: float, **changes: Any) -> Plan:
    """The plan with ``changes``, its version incremented and ``updated_at`` set."""
    return replace(plan, version=plan.version + 1, updated_at=now, **changes)


def refresh_confidence(tx: StoreTx, plan_id: str) -> float:
    """The plan's rolling confidence from its newest scored tasks."""
    newest_first = tx.recent_confidences(plan_id, WINDOW)
    return rolling_confidence(newest_first[::-1])


def create_plan(
    tx: StoreTx,
    *,
    plan: Plan,
    specs: Sequence[TaskSpec],
) -> list[Task]:
    """Insert ``plan`` with its tasks, revision 1 and the ``created`` journal entry."""
    now = plan.created_at
    tasks = new_tasks(plan, specs, 0, now)
    tx.insert_plan(plan, tasks)
    ids = [t.id for t in tasks]
    tx.insert_revision(
        Revision(plan_id=plan.id, revision=1, reason="created", at=now, changes={"added": ids})
    )
    detail = {
        "goal": plan.goal,
        "tasks": ids,
        "threshold": plan.threshold,
        "replan_policy": plan.replan_policy,
    }
    tx.append_journal("created", at=now, project=plan.project, plan_id=plan.id, detail=detail)
    return tasks


def _needs_replan(plan: Plan, released: tuple[str, ...]) -> NextTask:
    reason = (plan.replan_reason or "confidence below threshold") + (
        "; replan_policy is 'block': call plan_replan before taking more work"
    )
    return NextTask(
        kind="needs_replan", plan=plan, needs_replan=True, reason=reason, released=released
    )


def _not_ready(tx: StoreTx, plan: Plan, released: tuple[str, ...]) -> NextTask:
    """``complete`` or ``blocked`` (with what blocks), reading only the rows it needs."""
    counts = tx.count_tasks(plan.id)
    if counts.get("done", 0) + counts.get("skipped", 0) == sum(counts.values()):
        return NextTask(
            kind="complete",
            plan=plan,
            needs_replan=plan.needs_replan,
            reason="every task is done or skipped",
            released=released,
        )
    if counts.get("failed"):  # naming what each failed task blocks needs the whole graph
        tasks = tx.list_tasks(plan.id)
    else:
        tasks = [load_task(tx, plan.id, i) for i in tx.task_ids(plan.id, "in_progress")]
    return NextTask(
        kind="blocked",
        plan=plan,
        needs_replan=plan.needs_replan,
        reason=blocked_reason(tasks),
        released=released,
    )


def peek_next(tx: StoreTx, plan_id: str, *, now: float) -> NextTask | None:
    """``next_task``'s answer when it needs no write (nothing to claim or release), else None.

    Lets agents that poll a blocked plan do so on a read snapshot, without
    queueing for the write lock.
    """
    plan = load_plan(tx, plan_id)
    if plan.status == "archived":
        raise Conflict(f"plan {plan_id!r} is archived; archived plans are read-only")
    if tx.count_expired_leases(plan_id, now):
        return None
    if plan.needs_replan and plan.replan_policy == "block":
        return _needs_replan(plan, ())
    if tx.ready_task_ids(plan_id, 1):
        return None
    return _not_ready(tx, plan, ())


def claim_next(tx: StoreTx, plan_id: str, *, agent: str, lease_s: float, now: float) -> NextTask:
    """Release expired leases, then claim the first ready task for ``agent``."""
    load_active_plan(tx, plan_id)
    released = tuple(t.id for t in tx.expire_leases(now, plan_id))
    plan = load_plan(tx, plan_id)
    if plan.needs_replan and plan.replan_policy == "block":
        return _needs_replan(plan, released)
    ready = tx.ready_task_ids(plan_id, 1)
    if not ready:
        return _not_ready(tx, plan, released)
    task = replace(
        load_task(tx, plan_id, ready[0]),
        status="in_progress",
        claimed_by=agent,
        lease_expires_at=now + lease_s,
        updated_at=now,
    )
    tx.save_task(task)
    plan = bump(plan, now)
    tx.save_plan(plan)
    tx.append_journal(
        "claimed",
        at=now,
        project=plan.project,
        plan_id=plan_id,
        task_id=task.id,
        detail={"agent": agent, "lease_expires_at": task.lease_expires_at},
    )
    return NextTask(
        kind="task",
        plan=plan,
        task=task,
        needs_replan=plan.needs_replan,
        reason=plan.replan_reason or "",
        released=released,
    )


def new_tasks(plan: Plan, specs: Sequence[TaskSpec], start: int, now: float) -> list[Task]:
    """Tasks for ``specs``, placed from position ``start``, created at ``now``."""
    return [
        Task(
            plan_id=plan.id,
            id=s.id,
            position=start + i,
            title=s.title,
            description=s.description,
            depends_on=s.depends_on,
            acceptance=s.acceptance,
            notes=s.notes,
            created_at=now,
            updated_at=now,
        )
        for i, s in enumerate(specs)
    ]
