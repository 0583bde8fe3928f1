"""Checking a task's work against its acceptance spec without recording anything.

Checking is not recording (DESIGN.md, "Semantics"): ``check_task`` builds the
task's acceptance spec and runs it on an output, and changes nothing in the
plan; only ``PlanService.record`` moves scores and confidence. Host hooks use
it when the host says a task is complete, after ``find_session_task`` found
which task that is; ``journal_check`` notes what a hook did in the plan's
journal (an entry of kind ``checked``, which moves nothing).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from loopcore.clock import Clock
from loopcore.errors import InvalidInput
from loopcore.evaluators.base import Evaluation
from loopcore.evaluators.factory import FactoryOptions, build_evaluator
from loopcore.plans.acceptance import runs_command, task_context
from loopcore.plans.service import PlanService
from loopcore.store.protocol import Store
from loopcore.store.records import Plan, Task

__all__ = [
    "TaskCheck",
    "check_task",
    "find_session_task",
    "journal_check",
    "journal_event",
    "task_goal",
]


@dataclass(frozen=True, kw_only=True, slots=True)
class TaskCheck:
    """A task's acceptance spec run on an output: the task, its plan, and the verdict."""

    plan: Plan
    task: Task
    evaluation: Evaluation


def task_goal(plan: Plan, task: Task) -> str:
    """The goal text a task's work is judged against: the plan's goal, then the task's."""
    return f"{plan.goal}\n\n{task.title}\n{task.description}".strip()


def check_task(
    plans: PlanService, options: FactoryOptions, plan_id: str, task_id: str, output: str
) -> TaskCheck:
    """Run the task's acceptance spec on ``output``; nothing is written.

    Raises:
        PlanNotFound, TaskNotFound: unknown ids.
        InvalidInput: the task has no acceptance spec, or ``output`` is empty and the spec
            runs no command.
    """
    plan, task = plans.get(plan_id), plans.task(plan_id, task_id)
    if task.acceptance is None:
        raise InvalidInput(f"task {task_id!r} has no acceptance spec to check", field="task_id")
    if not output.strip() and not runs_command(task.acceptance):
        raise InvalidInput(
            "must not be empty: only an acceptance spec that runs a command needs no output",
            field="output",
        )
    evaluator = build_evaluator(task.acceptance, options)
    context = task_context(task, task_goal(plan, task), options.project_root)
    return TaskCheck(plan=plan, task=task, evaluation=evaluator.evaluate(output, context))


def _norm(text: str) -> str:
    return " ".join(text.lower().split())


def _active_tasks(plans: PlanService, project: str) -> Iterable[tuple[Plan, Task]]:
    """Every task of the project's active plans, newest plan first."""
    for plan in plans.list_plans(project, status="active", limit=100).plans:
        for task in plans.status(plan.id, verbose=True).tasks:
            yield plan, task


def find_session_task(
    plans: PlanService,
    project: str,
    *,
    agents: Iterable[str] = (),
    refs: Sequence[str] = (),
) -> tuple[Plan, Task] | None:
    """The plan task a host session is working on, or None.

    First a task in progress claimed by one of ``agents`` (the session's identities); else an
    unfinished task whose id or title is one of ``refs`` (what the host calls the task), the
    first ref that names one winning.
    """
    names = {a for a in agents if a}
    wanted = [_norm(r) for r in refs if r and r.strip()]
    named: dict[str, tuple[Plan, Task]] = {}
    for plan, task in _active_tasks(plans, project):
        if task.status == "in_progress" and task.claimed_by in names:
            return plan, task
        if task.status in ("pending", "in_progress", "failed"):
            for key in (_norm(task.title), _norm(task.id)):
                named.setdefault(key, (plan, task))
    return next((named[w] for w in wanted if w in named), None)


def journal_event(
    store: Store,
    clock: Clock,
    project: str,
    kind: str,
    detail: Mapping[str, Any],
    *,
    plan_id: str | None = None,
    task_id: str | None = None,
) -> int:
    """Append one journal entry that changes nothing else; returns its sequence number."""
    with store.write() as tx:
        return tx.append_journal(
            kind, at=clock(), project=project, plan_id=plan_id, task_id=task_id, detail=detail
        )


def journal_check(store: Store, clock: Clock, check: TaskCheck, source: str) -> int:
    """Note in the plan's journal that ``source`` checked the task (a ``checked`` entry)."""
    ev = check.evaluation
    detail = {
        "source": source,
        "score": round(ev.score, 4),
        "passed": ev.passed,
        "deficiencies": list(ev.deficiencies[:10]),
    }
    return journal_event(
        store,
        clock,
        check.plan.project,
        "checked",
        detail,
        plan_id=check.plan.id,
        task_id=check.task.id,
    )
