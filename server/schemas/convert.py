"""Domain results (frozen dataclasses) turned into the tool output models."""

from __future__ import annotations

from typing import Any

from loopcore.clock import iso
from loopcore.evaluators.base import Evaluation
from loopcore.plans.service import NextTask, Plan, PlanStatus, RecordResult, ReplanResult, Task
from server.schemas.plans import (
    EvalOut,
    NextTaskOut,
    PlanBrief,
    PlanOut,
    RecordOut,
    ReplanOut,
    TaskOut,
)

__all__ = [
    "eval_fields",
    "eval_out",
    "jsonable",
    "next_task_out",
    "plan_brief",
    "plan_out",
    "record_out",
    "replan_out",
    "task_out",
]


def jsonable(value: Any) -> Any:
    """Mappings and sequences of the domain as plain JSON data (tuples become lists)."""
    if isinstance(value, dict) or hasattr(value, "items"):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return value


def _spec(spec: Any) -> Any:
    """A stored spec as written: the fields it left unset (stored as null) left out."""
    if isinstance(spec, dict) or hasattr(spec, "items"):
        return {str(k): _spec(v) for k, v in spec.items() if v is not None}
    if isinstance(spec, list | tuple):
        return [_spec(v) for v in spec]
    return spec


def eval_fields(ev: Evaluation) -> dict[str, Any]:
    """The fields every evaluation-shaped tool output shares."""
    return {
        "score": ev.score,
        "passed": ev.passed,
        "deficiencies": list(ev.deficiencies),
        "sub_scores": dict(ev.sub_scores),
        "details": jsonable(ev.details),
    }


def eval_out(ev: Evaluation) -> EvalOut:
    """An evaluation as tools return it."""
    return EvalOut(**eval_fields(ev))


def task_out(task: Task, *, full: bool = False) -> TaskOut:
    """A task; ``full`` adds the description, acceptance spec and notes."""
    return TaskOut(
        id=task.id,
        title=task.title,
        status=task.status,
        depends_on=list(task.depends_on),
        description=task.description if full else "",
        acceptance=_spec(task.acceptance) if full and task.acceptance is not None else None,
        confidence=task.confidence,
        prompt_score=task.prompt_score,
        output_score=task.output_score,
        claimed_by=task.claimed_by,
        notes=task.notes if full else "",
    )


def plan_out(status: PlanStatus) -> PlanOut:
    """A plan's status (tasks listed only when the status was built verbose)."""
    plan = status.plan
    return PlanOut(
        plan_id=plan.id,
        goal=plan.goal,
        status=plan.status,
        confidence=plan.confidence,
        threshold=plan.threshold,
        needs_replan=plan.needs_replan,
        replan_reason=plan.replan_reason,
        counts={str(k): v for k, v in status.counts.items()},
        ready=list(status.ready),
        complete=status.complete,
        tasks=[task_out(t, full=True) for t in status.tasks],
    )


def next_task_out(nxt: NextTask) -> NextTaskOut:
    """What plan_next_task answered (the claimed task in full)."""
    return NextTaskOut(
        kind=nxt.kind,
        task=task_out(nxt.task, full=True) if nxt.task is not None else None,
        confidence=nxt.plan.confidence,
        needs_replan=nxt.needs_replan,
        reason=nxt.reason,
    )


def record_out(res: RecordResult) -> RecordOut:
    """What plan_record changed."""
    return RecordOut(
        task=task_out(res.task),
        confidence=res.confidence,
        needs_replan=res.needs_replan,
        changes=list(res.changes),
        evaluation=eval_out(res.evaluation) if res.evaluation is not None else None,
    )


def replan_out(res: ReplanResult) -> ReplanOut:
    """A replan's new revision."""
    return ReplanOut(
        revision=res.revision,
        added=list(res.added),
        removed=list(res.removed),
        updated=list(res.updated),
        confidence=res.plan.confidence,
        needs_replan=res.plan.needs_replan,
    )


def plan_brief(plan: Plan) -> PlanBrief:
    """One line of a plan list (the goal cut at 200 characters)."""
    return PlanBrief(
        plan_id=plan.id,
        goal=plan.goal[:200],
        status=plan.status,
        confidence=plan.confidence,
        needs_replan=plan.needs_replan,
        tasks=plan.task_count,
        updated_at=iso(plan.updated_at),
    )
