"""Replanning and manual edits of a plan, inside one store transaction.

A replan rewrites only the part of the plan that is not done: it may add
tasks, remove tasks that are not done (and not held under a live lease), and
change tasks that are not done. The resulting graph is validated whole before
anything is written; the removed tasks are kept in the revision's record.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, replace
from typing import Any

from loopcore.errors import Conflict, InvalidInput
from loopcore.plans.graph import check_graph
from loopcore.plans.model import PlanLimits, ReplanResult, TaskPatch, TaskSpec
from loopcore.plans.operations import (
    bump,
    load_active_plan,
    load_task,
    new_tasks,
    refresh_confidence,
)
from loopcore.store.protocol import StoreTx
from loopcore.store.records import Plan, Revision, Task, TaskStatus

__all__ = ["check_version", "edit_task", "replan"]

_EDIT_STATUSES: frozenset[str] = frozenset({"pending", "done", "failed", "skipped"})


def check_version(plan: Plan, expected: int | None) -> None:
    """Raise ``Conflict`` when the caller's view of the plan is stale."""
    if expected is not None and expected != plan.version:
        raise Conflict(
            f"plan {plan.id!r} is at version {plan.version}, not {expected}: it changed since "
            "you read it; read it again (plan_status) and retry"
        )


def _unique(ids: Sequence[str], field: str) -> None:
    seen: set[str] = set()
    for i in ids:
        if i in seen:
            raise InvalidInput(f"lists task {i!r} twice", field=field)
        seen.add(i)


def _check_removals(tasks: dict[str, Task], remove: Sequence[str], now: float) -> None:
    _unique(remove, "remove")
    for rid in remove:
        task = tasks.get(rid)
        if task is None:
            raise InvalidInput(f"cannot remove unknown task {rid!r}", field="remove")
        if task.status == "done":
            raise InvalidInput(
                f"task {rid!r} is done; done tasks cannot be removed", field="remove"
            )
        if task.status == "in_progress" and (task.lease_expires_at or 0.0) > now:
            raise Conflict(
                f"task {rid!r} is in progress (claimed by {task.claimed_by}); let its lease end "
                "or set it to pending with plan_update_task before removing it"
            )


def _patched(task: Task, patch: TaskPatch, now: float) -> Task:
    if task.status == "done":
        raise InvalidInput(
            f"task {task.id!r} is done; done tasks cannot be changed", field="update"
        )
    changes: dict[str, Any] = {
        k: getattr(patch, k)
        for k in ("title", "description", "depends_on", "notes")
        if getattr(patch, k) is not None
    }
    if patch.acceptance is not None or patch.clear_acceptance:
        changes["acceptance"] = patch.acceptance
        if patch.acceptance != task.acceptance:
            # Test verdicts of another spec are no reference for the new one.
            changes.update(baseline_details=None, last_details=None)
    if patch.status is not None:
        changes.update(status=patch.status, claimed_by=None, lease_expires_at=None)
    return replace(task, updated_at=now, **changes)


def replan(
    tx: StoreTx,
    plan_id: str,
    *,
    reason: str,
    add: Sequence[TaskSpec],
    remove: Sequence[str],
    update: Sequence[TaskPatch],
    now: float,
    limits: PlanLimits,
    expected_version: int | None,
) -> ReplanResult:
    """Make a new revision of the pending part and clear ``needs_replan``.

    Raises:
        InvalidInput: an unknown or duplicated id, a done task removed or changed,
            too many tasks, an unknown dependency or a cycle (nothing is written).
        Conflict: a stale ``expected_version``; removing a task under a live lease.
    """
    plan = load_active_plan(tx, plan_id)
    check_version(plan, expected_version)
    tasks = {t.id: t for t in tx.list_tasks(plan_id)}
    _check_removals(tasks, remove, now)
    remaining = {k: v for k, v in tasks.items() if k not in set(remove)}
    _unique([p.id for p in update], "update")
    changed: dict[str, Task] = {}
    for p in update:
        if p.id not in remaining:
            raise InvalidInput(f"cannot update unknown or removed task {p.id!r}", field="update")
        changed[p.id] = _patched(remaining[p.id], p, now)
    _unique([s.id for s in add], "add")
    for s in add:
        if s.id in remaining:
            raise InvalidInput(f"task id {s.id!r} already exists in the plan", field="add")
    total = len(remaining) + len(add)
    if total == 0:
        raise InvalidInput(
            "the replan would leave the plan without tasks; keep or add at least one "
            "(archive the plan to set it aside)",
            field="remove",
        )
    if total > limits.max_tasks:
        raise InvalidInput(
            f"the plan would have {total} tasks; at most {limits.max_tasks}", field="add"
        )
    start = max((t.position for t in tasks.values()), default=-1) + 1
    added = new_tasks(plan, add, start, now)
    final = {**remaining, **changed, **{t.id: t for t in added}}
    check_graph({t.id: t.depends_on for t in sorted(final.values(), key=lambda t: t.position)})
    tx.delete_tasks(plan_id, list(remove))
    for t in changed.values():
        tx.save_task(t)
    tx.insert_tasks(added)
    return _commit_revision(
        tx,
        plan,
        reason=reason,
        now=now,
        added=added,
        changed=changed,
        removed=[tasks[r] for r in remove],
        total=total,
    )


def _commit_revision(
    tx: StoreTx,
    plan: Plan,
    *,
    reason: str,
    now: float,
    added: list[Task],
    changed: dict[str, Task],
    removed: list[Task],
    total: int,
) -> ReplanResult:
    confidence = refresh_confidence(tx, plan.id)
    new = bump(
        plan,
        now,
        revision=plan.revision + 1,
        needs_replan=False,
        replan_reason=None,
        confidence=confidence,
        task_count=total,
    )
    tx.save_plan(new)
    added_ids = [t.id for t in added]
    changes: dict[str, Any] = {
        "added": added_ids,
        "removed": [asdict(t) for t in removed],
        "updated": sorted(changed),
        "confidence_before": plan.confidence,
        "confidence_after": confidence,
        "needs_replan_before": plan.needs_replan,
        "replan_reason_before": plan.replan_reason,
    }
    tx.insert_revision(
        Revision(plan_id=plan.id, revision=new.revision, reason=reason, at=now, changes=changes)
    )
    detail = {
        "reason": reason,
        "revision": new.revision,
        "added": added_ids,
        "removed": [t.id for t in removed],
        "updated": changes["updated"],
        "cleared_needs_replan": plan.needs_replan,
    }
    tx.append_journal("replanned", at=now, project=plan.project, plan_id=plan.id, detail=detail)
    return ReplanResult(
        plan=new,
        revision=new.revision,
        added=tuple(added_ids),
        removed=tuple(t.id for t in removed),
        updated=tuple(sorted(changed)),
        tasks=tuple(tx.list_tasks(plan.id)),
    )


def edit_task(
    tx: StoreTx,
    plan_id: str,
    task_id: str,
    *,
    now: float,
    status: TaskStatus | None = None,
    title: str | None = None,
    description: str | None = None,
    notes: str | None = None,
    expected_version: int | None = None,
) -> Task:
    """Manual edit of one task; a status change releases any claim. Journals ``edited``.

    Raises:
        InvalidInput: a status of ``in_progress`` (claims go through next_task).
    """
    if status is not None and status not in _EDIT_STATUSES:
        raise InvalidInput(
            f"may be one of {sorted(_EDIT_STATUSES)}, got {status!r} (claim tasks with "
            "plan_next_task)",
            field="status",
        )
    plan = load_active_plan(tx, plan_id)
    check_version(plan, expected_version)
    task = load_task(tx, plan_id, task_id)
    wanted = {"status": status, "title": title, "description": description, "notes": notes}
    diff = {k: v for k, v in wanted.items() if v is not None and getattr(task, k) != v}
    if not diff:
        return task
    fields: dict[str, Any] = {**diff, "updated_at": now}
    if "status" in diff:
        fields.update(claimed_by=None, lease_expires_at=None)
    new = replace(task, **fields)
    tx.save_task(new)
    tx.save_plan(bump(plan, now))
    detail = {k: [getattr(task, k), v] for k, v in diff.items()}
    tx.append_journal(
        "edited",
        at=now,
        project=plan.project,
        plan_id=plan_id,
        task_id=task_id,
        detail={"changes": detail},
    )
    return new
