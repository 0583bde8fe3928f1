"""Plan operations that run inside one store transaction.

``PlanService`` wraps each in ``store.write()``; the loop and history services
call them inside their own transactions, so a loop's best score or an
intercept's prompt score lands on its task atomically with the rest.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from loopcore.clock import iso
from loopcore.errors import Conflict, InvalidInput, PlanNotFound, TaskNotFound
from loopcore.plans.confidence import WINDOW, rolling_confidence, task_confidence
from loopcore.plans.graph import blocked_reason
from loopcore.plans.model import NextTask, RecordResult, TaskSpec
from loopcore.store.protocol import StoreTx
from loopcore.store.records import Plan, Revision, Task, TaskContext, TaskStatus

__all__ = [
    "apply_scores",
    "awaits_approval",
    "bump",
    "check_order",
    "claim_next",
    "create_plan",
    "load_active_plan",
    "load_for_scoring",
    "load_plan",
    "load_task",
    "new_tasks",
    "peek_next",
    "refresh_confidence",
    "score_loaded",
    "shown_after",
]

_FINISHED = ("done", "skipped")


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


def load_for_scoring(tx: StoreTx, plan_id: str, task_id: str) -> tuple[Plan, Task, TaskContext]:
    """The plan (locked, active), the task, and what scoring it needs of the other tasks,
    in one read.

    Raises:
        PlanNotFound, TaskNotFound. Conflict: the plan is archived.
    """
    context = tx.task_context(plan_id, task_id, window=WINDOW, lock=True)
    if context is None:
        raise PlanNotFound(plan_id)
    if context.plan.status == "archived":
        raise Conflict(f"plan {plan_id!r} is archived; archived plans are read-only")
    if context.task is None:
        raise TaskNotFound(plan_id, task_id)
    return context.plan, context.task, context


def shown_after(plan: Plan, context: TaskContext, task: Task) -> Plan:
    """The plan as it reads once ``task`` was written: ``done`` when it and every other
    task are done or skipped (as ``export.finished_plan``, from the context)."""
    if plan.status == "active" and not context.others_open and task.status in _FINISHED:
        return replace(plan, status="done")
    return plan


def check_order(tx: StoreTx, task: Task, *, agent: str, now: float) -> None:
    """Refuse to record a task out of order: held by another agent, or not yet ready.

    Raises:
        Conflict: another agent holds the task under a live lease, or one of its
            dependencies is neither done nor skipped.
    """
    lease = task.lease_expires_at
    if task.status == "in_progress" and task.claimed_by != agent and lease and lease > now:
        raise Conflict(
            f"task {task.id!r} is claimed by {task.claimed_by!r} until "
            f"{iso(lease)}; record it as that agent, wait for the lease to end, or take "
            "another task"
        )
    open_deps = []
    for dep in task.depends_on:
        found = tx.get_task(task.plan_id, dep)
        if found is not None and found.status not in _FINISHED:
            open_deps.append(f"{dep!r} ({found.status})")
    if open_deps:
        raise Conflict(
            f"task {task.id!r} depends on {', '.join(open_deps)}, not done yet: finish "
            "and record those first (the next task to take is handed out in order)"
        )


def bump(plan: Plan, now: float, **changes: Any) -> Plan:
    """The plan with ``changes``, its version incremented and ``updated_at`` set."""
    return replace(plan, version=plan.version + 1, updated_at=now, **changes)


def refresh_confidence(tx: StoreTx, plan_id: str) -> float:
    """The plan's rolling confidence from its newest scored tasks."""
    newest_first = tx.recent_confidences(plan_id, WINDOW)
    return rolling_confidence(newest_first[::-1])


def _confidence_with(context: TaskContext, task: Task) -> float | None:
    """``refresh_confidence`` after ``task`` was saved, from facts read before: the other
    tasks' newest scores, with the task's own first when it was scored after all of them
    (always, unless the clock stepped back: then None, and the caller reads them again)."""
    newest_first = context.others_confidence
    if task.score_seq is not None and task.scored_at is not None and task.confidence is not None:
        newest = context.newest_other
        if newest is not None and newest >= (task.scored_at, task.score_seq):
            return None
        newest_first = (task.confidence, *newest_first)
    return rolling_confidence(newest_first[:WINDOW][::-1])


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
        "; replan_policy is 'block': the plan must be replanned before more work is handed out"
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
    plan = load_active_plan(tx, plan_id)
    released = tuple(t.id for t in tx.expire_leases(now, plan_id))
    if released:  # expiring bumped the plan's version
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
            approval=s.approval,
            created_at=now,
            updated_at=now,
        )
        for i, s in enumerate(specs)
    ]


# Scoring a task inside the transaction, and what that does to its plan. Shared by
# ``PlanService.record``, the loops (a loop's best score) and the prompt history (an
# intercept's prompt score), so each lands with the rest of its transaction.


def _fmt(value: object) -> str:
    if value is None:
        return "none"
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value).lower() if isinstance(value, bool) else str(value)


def _new_status(
    task: Task, conf: float | None, threshold: float, completes: bool, approved: bool
) -> TaskStatus:
    if not completes or conf is None:
        return task.status
    if conf < threshold:
        return "failed"
    # A task that needs a person's approval stays where it is until it is given.
    return "done" if approved or task.approval == "none" else task.status


def awaits_approval(task: Task, plan: Plan, completes: bool, approved: bool) -> bool:
    """True when this score would make the task done but a person must approve it first."""
    conf = task.confidence
    return (
        completes
        and not approved
        and task.approval == "before_done"
        and conf is not None
        and conf >= plan.threshold
    )


def _score_task(
    task: Task,
    plan: Plan,
    *,
    now: float,
    prompt: float | None,
    output: float | None,
    mark_done: bool,
    output_text: str | None,
    tracked: Mapping[str, Any] | None,
    approved: bool,
) -> Task:
    new_prompt = task.prompt_score if prompt is None else prompt
    new_output = task.output_score if output is None else output
    conf = task_confidence(new_prompt, new_output)
    completes = mark_done and output is not None
    status = _new_status(task, conf, plan.threshold, completes, approved)
    released = status in ("done", "failed")
    return replace(
        task,
        prompt_score=new_prompt,
        output_score=new_output,
        confidence=conf,
        scored_at=now,
        score_seq=plan.score_seq + 1,
        status=status,
        claimed_by=None if released else task.claimed_by,
        lease_expires_at=None if released else task.lease_expires_at,
        last_output=task.last_output if output_text is None else output_text,
        baseline_details=task.baseline_details if task.baseline_details is not None else tracked,
        last_details=task.last_details if tracked is None else tracked,
        updated_at=now,
    )


def _changes(before: Task, after: Task, old: Plan, new: Plan) -> tuple[str, ...]:
    pairs = [
        ("prompt_score", before.prompt_score, after.prompt_score),
        ("output_score", before.output_score, after.output_score),
        ("task_confidence", before.confidence, after.confidence),
        ("status", before.status, after.status),
        ("plan_confidence", old.confidence, new.confidence),
        ("needs_replan", old.needs_replan, new.needs_replan),
    ]
    return tuple(f"{k}: {_fmt(a)} -> {_fmt(b)}" for k, a, b in pairs if a != b)


def apply_scores(
    tx: StoreTx,
    plan_id: str,
    task_id: str,
    *,
    now: float,
    prompt_score: float | None = None,
    output_score: float | None = None,
    mark_done: bool = True,
    output_text: str | None = None,
    deficiencies: tuple[str, ...] = (),
    source: str = "record",
    tracked: Mapping[str, Any] | None = None,
    approved: bool = False,
) -> RecordResult:
    """Load the plan (locked, active) and the task, then ``score_loaded`` them."""
    plan, task, context = load_for_scoring(tx, plan_id, task_id)
    return score_loaded(
        tx,
        plan,
        task,
        context=context,
        now=now,
        prompt_score=prompt_score,
        output_score=output_score,
        mark_done=mark_done,
        output_text=output_text,
        deficiencies=deficiencies,
        source=source,
        tracked=tracked,
        approved=approved,
    )


def score_loaded(
    tx: StoreTx,
    plan: Plan,
    before: Task,
    *,
    now: float,
    prompt_score: float | None = None,
    output_score: float | None = None,
    mark_done: bool = True,
    output_text: str | None = None,
    deficiencies: tuple[str, ...] = (),
    source: str = "record",
    tracked: Mapping[str, Any] | None = None,
    approved: bool = False,
    context: TaskContext,
) -> RecordResult:
    """Score a task read in this write transaction (with ``context``, ``load_for_scoring``),
    then refresh the plan's rolling confidence and replan flag from that context.

    With ``mark_done`` and an output score the task becomes ``done`` when its
    confidence reaches the plan's threshold, else ``failed``; a prompt score
    alone never changes the status. A task with ``approval="before_done"`` that
    reaches the threshold stays as it is unless ``approved`` (the result says it
    awaits approval; ``loopcore.plans.approvals`` asks for it). ``tracked`` (details
    of a test run, see ``loopcore.plans.acceptance``) becomes the task's latest test
    verdict, and its baseline when it has none.
    """
    if prompt_score is None and output_score is None:
        raise InvalidInput(
            "nothing to score: pass a prompt or an output score", field="output_score"
        )
    task = _score_task(
        before,
        plan,
        now=now,
        prompt=prompt_score,
        output=output_score,
        mark_done=mark_done,
        output_text=output_text,
        tracked=tracked,
        approved=approved,
    )
    tx.save_task(task)
    confidence = _confidence_with(context, task)
    if confidence is None:  # scored before another task (the clock stepped back): read again
        confidence = refresh_confidence(tx, plan.id)
    new_plan = _scored_plan(plan, confidence, task, now)
    tx.save_plan(new_plan)
    _journal_score(
        tx, before, task, plan, new_plan, now=now, deficiencies=deficiencies, source=source
    )
    return RecordResult(
        task=task,
        plan=new_plan,
        confidence=new_plan.confidence,
        needs_replan=new_plan.needs_replan,
        changes=_changes(before, task, plan, new_plan),
        deficiencies=deficiencies,
        awaiting_approval=awaits_approval(
            task, plan, mark_done and output_score is not None, approved
        ),
    )


def _scored_plan(plan: Plan, confidence: float, task: Task, now: float) -> Plan:
    """The plan after a score: new confidence, replan flag set or cleared from it."""
    needs = confidence < plan.threshold
    if not needs:
        reason = None
    elif plan.needs_replan and plan.replan_reason:
        reason = plan.replan_reason  # keep the reason it was first raised for
    else:
        reason = (
            f"plan confidence {confidence:.3f} fell below threshold {plan.threshold:.2f} "
            f"after task {task.id!r} scored {task.confidence or 0.0:.3f}"
        )
    return bump(
        plan,
        now,
        confidence=confidence,
        needs_replan=needs,
        replan_reason=reason,
        score_seq=plan.score_seq + 1,
    )


def _journal_score(
    tx: StoreTx,
    before: Task,
    task: Task,
    old: Plan,
    new: Plan,
    *,
    now: float,
    deficiencies: tuple[str, ...],
    source: str,
) -> None:
    ref: dict[str, Any] = {"at": now, "project": new.project, "plan_id": new.id, "task_id": task.id}
    detail = {
        "prompt_score": task.prompt_score,
        "output_score": task.output_score,
        "task_confidence": task.confidence,
        "plan_confidence_before": old.confidence,
        "plan_confidence": new.confidence,
        "threshold": new.threshold,
        "deficiencies": list(deficiencies),
        "source": source,
    }
    entries: list[tuple[str, Mapping[str, Any]]] = [("scored", detail)]
    if task.status in ("done", "failed") and (
        before.status != task.status or task.output_score != before.output_score
    ):
        entries.append((task.status, {"task_confidence": task.confidence}))
    if new.needs_replan and not old.needs_replan:
        entries.append(("replan_needed", {"reason": new.replan_reason}))
    elif old.needs_replan and not new.needs_replan:
        entries.append(
            (
                "confidence_recovered",
                {"plan_confidence": new.confidence, "threshold": new.threshold},
            )
        )
    tx.append_journal_many(entries, **ref)
