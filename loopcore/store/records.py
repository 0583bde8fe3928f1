"""The shapes the store keeps: one frozen record per row kind.

These are what the ``Store`` protocol reads and writes; the services
(``loopcore.plans.service``, ``loopcore.loops.sessions``, ``loopcore.history``) re-export the
ones callers see. Times are epoch seconds from the injected clock.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = [
    "APPROVAL_RULES",
    "LOOP_STATUSES",
    "PLAN_STATUSES",
    "TASK_STATUSES",
    "ApprovalRule",
    "FeedbackRecord",
    "InterceptRecord",
    "JournalEntry",
    "LoopRecord",
    "LoopStatus",
    "Plan",
    "PlanState",
    "Revision",
    "StepRecord",
    "Task",
    "TaskContext",
    "TaskStatus",
    "UsageCounts",
]

TaskStatus = Literal["pending", "in_progress", "done", "failed", "skipped"]
# ``done`` is never stored: a plan is read as done when it is active and every task is done
# or skipped (``loopcore.plans.operations.shown``); a replan that adds work makes it active again.
PlanState = Literal["active", "done", "archived"]
LoopStatus = Literal["open", "stopped", "closed"]
ApprovalRule = Literal["none", "before_done"]
APPROVAL_RULES: tuple[ApprovalRule, ...] = ("none", "before_done")

TASK_STATUSES: tuple[TaskStatus, ...] = ("pending", "in_progress", "done", "failed", "skipped")
PLAN_STATUSES: tuple[PlanState, ...] = ("active", "done", "archived")
LOOP_STATUSES: tuple[LoopStatus, ...] = ("open", "stopped", "closed")


@dataclass(frozen=True, kw_only=True, slots=True)
class Plan:
    """A plan's summary row (its tasks are rows of their own).

    Attributes:
        confidence: the rolling confidence (1.0 until a task is scored).
        needs_replan: set when a score leaves the confidence below
            ``threshold``; cleared by a replan.
        replan_reason: why the flag was raised, while it is raised.
        revision: 1 at creation, +1 per replan.
        version: +1 on every change (for optimistic checks).
        score_seq: the last scoring sequence number handed out in this plan.
    """

    id: str
    project: str
    goal: str
    threshold: float
    replan_policy: Literal["advise", "block"]
    status: PlanState = "active"
    confidence: float = 1.0
    needs_replan: bool = False
    replan_reason: str | None = None
    revision: int = 1
    version: int = 1
    score_seq: int = 0
    task_count: int = 0
    created_at: float
    updated_at: float


@dataclass(frozen=True, kw_only=True, slots=True)
class Task:
    """One task of a plan.

    Attributes:
        id: caller-given, unique within the plan.
        position: plan order (ready tasks are handed out in this order).
        acceptance: the evaluator spec that scores an output, if any.
        confidence: the task confidence (None while unscored).
        scored_at: when the task was last scored; ``score_seq`` breaks ties.
        claimed_by: the agent holding the lease while ``in_progress``.
        last_output: the last recorded output, truncated.
        approval: ``before_done``: a person approves before the task is done.
        baseline_details / last_details: the ``details`` of the first and of the
            latest evaluation recorded on the task that reached a test verdict (a
            ``command`` run; output tails dropped); later runs of its acceptance
            command are scored against them. Cleared when the acceptance spec changes.
    """

    plan_id: str
    id: str
    position: int
    title: str
    description: str = ""
    depends_on: tuple[str, ...] = ()
    acceptance: Mapping[str, Any] | None = None
    notes: str = ""
    status: TaskStatus = "pending"
    prompt_score: float | None = None
    output_score: float | None = None
    confidence: float | None = None
    scored_at: float | None = None
    score_seq: int | None = None
    claimed_by: str | None = None
    lease_expires_at: float | None = None
    last_output: str | None = None
    baseline_details: Mapping[str, Any] | None = None
    last_details: Mapping[str, Any] | None = None
    approval: ApprovalRule = "none"
    created_at: float
    updated_at: float


@dataclass(frozen=True, kw_only=True, slots=True)
class TaskContext:
    """A task with its plan, read together, and what scoring it needs of the other tasks.

    Attributes:
        task: None when the plan has no such task.
        others_confidence: the confidences of the plan's other scored tasks, newest
            first by ``(scored_at, score_seq)``, at most the window asked for (empty
            when none was asked for).
        newest_other: ``(scored_at, score_seq)`` of the newest of them (None when
            there is none): a task scored after it goes first.
        others_open: whether another task is neither done nor skipped (False when no
            window was asked for).
    """

    plan: Plan
    task: Task | None
    others_confidence: tuple[float, ...] = ()
    newest_other: tuple[float, int] | None = None
    others_open: bool = False


@dataclass(frozen=True, kw_only=True, slots=True)
class JournalEntry:
    """One append-only journal line: what changed, when, and the facts of it."""

    seq: int
    at: float
    project: str
    kind: str
    plan_id: str | None = None
    task_id: str | None = None
    loop_id: str | None = None
    detail: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True, slots=True)
class Revision:
    """One revision of a plan's pending part (revision 1 is the plan as created)."""

    plan_id: str
    revision: int
    reason: str
    at: float
    changes: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True, slots=True)
class LoopRecord:
    """An agent-driven loop session.

    Attributes:
        evaluator_spec: the validated evaluator spec every step is scored with.
        config: the stopping configuration, as plain values.
        status: ``open`` (taking steps), ``stopped`` (the stopping rule said
            stop; waiting for ``end``) or ``closed`` (ended).
        summary: what ``end`` returned, kept so a second ``end`` returns it again.
    """

    id: str
    project: str
    goal: str
    evaluator_spec: Mapping[str, Any]
    task_type: str = "general"
    model: str = ""
    config: Mapping[str, Any] = field(default_factory=dict)
    plan_id: str | None = None
    task_id: str | None = None
    status: LoopStatus = "open"
    iterations: int = 0
    best_score: float | None = None
    best_iteration: int | None = None
    tokens_used: int = 0
    exit_reason: str | None = None
    exit_detail: str = ""
    outcome: str | None = None
    summary: Mapping[str, Any] | None = None
    created_at: float
    updated_at: float
    ended_at: float | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class StepRecord:
    """One checkpointed step of a loop: the output and how it was judged."""

    loop_id: str
    iteration: int
    output: str
    score: float
    passed: bool
    deficiencies: tuple[str, ...] = ()
    feedback: str = ""
    sub_scores: Mapping[str, float] = field(default_factory=dict)
    details: Mapping[str, Any] = field(default_factory=dict)
    tokens_used: int = 0
    created_at: float


@dataclass(frozen=True, kw_only=True, slots=True)
class InterceptRecord:
    """One scored prompt (the text itself only when the caller chose to keep it)."""

    id: str
    project: str
    prompt_hash: str
    score: float
    grade: str
    dimensions: Mapping[str, float] = field(default_factory=dict)
    route: str = ""
    prompt_text: str | None = None
    plan_id: str | None = None
    task_id: str | None = None
    created_at: float


@dataclass(frozen=True, kw_only=True, slots=True)
class FeedbackRecord:
    """A human rating of a past intercept score (never fed into the loop priors)."""

    id: int
    history_id: str
    rating: int
    comment: str = ""
    created_at: float


@dataclass(frozen=True, kw_only=True, slots=True)
class UsageCounts:
    """Usage figures for one project."""

    project: str
    plans: Mapping[str, int] = field(default_factory=dict)
    tasks: Mapping[str, int] = field(default_factory=dict)
    loops: Mapping[str, int] = field(default_factory=dict)
    intercepts: int = 0
    feedback: int = 0
