"""Scoring a task inside a store transaction, and what that does to its plan.

Shared by ``PlanService.record``, the loops (a loop's best score) and the
prompt history (an intercept's prompt score), so each lands with the rest of
its transaction.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any, Literal

from loopcore.confidence import task_confidence
from loopcore.errors import InvalidInput
from loopcore.plans_model import RecordResult
from loopcore.plans_tx import bump, load_active_plan, load_task, refresh_confidence
from loopcore.store.protocol import StoreTx
from loopcore.store.records import Plan, Task, TaskStatus

__all__ = ["apply_scores"]


def _fmt(value: object) -> str:
    if value is None:
        return "none"
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value).lower() if isinstance(value, bool) else str(value)


def _new_status(task: Task, conf: float | None, threshold: float, completes: bool) -> TaskStatus:
    if not completes or conf is None:
        return task.status
    return "done" if conf >= threshold else "failed"


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
) -> Task:
    new_prompt = task.prompt_score if prompt is None else prompt
    new_output = task.output_score if output is None else output
    conf = task_confidence(new_prompt, new_output)
    status = _new_status(task, conf, plan.threshold, mark_done and output is not None)
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
) -> RecordResult:
    """Score a task, then refresh the plan's rolling confidence and replan flag.

    With ``mark_done`` and an output score the task becomes ``done`` when its
    confidence reaches the plan's threshold, else ``failed``; a prompt score
    alone never changes the status. ``tracked`` (details of a test run, see
    ``loopcore.plans_eval``) becomes the task's latest test verdict, and its
    baseline when it has none.
    """
    if prompt_score is None and output_score is None:
        raise InvalidInput(
            "nothing to score: pass a prompt or an output score", field="output_score"
        )
    plan = load_active_plan(tx, plan_id)
    before = load_task(tx, plan_id, task_id)
    task = _score_task(
        before,
        plan,
        now=now,
        prompt=prompt_score,
        output=output_score,
        mark_done=mark_done,
        output_text=output_text,
        tracked=tracked,
    )
    tx.save_task(task)
    new_plan = _scored_plan(plan, refresh_confidence(tx, plan_id), task, now)
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
    tx.append_journal("scored", detail=detail, **ref)
    if task.status in ("done", "failed") and (
        before.status != task.status or task.output_score != before.output_score
    ):
        kind: Literal["done", "failed"] = "done" if task.status == "done" else "failed"
        tx.append_journal(kind, detail={"task_confidence": task.confidence}, **ref)
    if new.needs_replan and not old.needs_replan:
        tx.append_journal("replan_needed", detail={"reason": new.replan_reason}, **ref)
    elif old.needs_replan and not new.needs_replan:
        tx.append_journal(
            "confidence_recovered",
            detail={"plan_confidence": new.confidence, "threshold": new.threshold},
            **ref,
        )
