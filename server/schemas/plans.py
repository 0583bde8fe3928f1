"""Inputs and outputs of the plan tools and verify_output."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, WithJsonSchema

from server.schemas.base import _ID, Model

__all__ = [
    "DeleteOut",
    "EvalOut",
    "ExplainOut",
    "NextTaskOut",
    "PlanBrief",
    "PlanListOut",
    "PlanOut",
    "RecordOut",
    "ReplanOut",
    "TaskIn",
    "TaskOut",
    "TaskUpdateIn",
    "VerifyOut",
]


# ---- nested inputs ---------------------------------------------------------------------------


# Dependencies name tasks of the same plan: validated here, published as a plain list.
_Deps = Annotated[
    list[Annotated[str, Field(pattern=_ID)]],
    Field(max_length=500),
    WithJsonSchema({"type": "array", "items": {"type": "string"}}),
]
_Acceptance = Annotated[dict[str, Any], Field(description="evaluator spec")]


class TaskIn(Model):
    """One task of a new plan (or one added by a replan)."""

    id: Annotated[str, Field(pattern=_ID)]
    title: Annotated[str, Field(min_length=1, max_length=200)]
    description: Annotated[str, Field(max_length=4000)] = ""
    depends_on: _Deps = []
    acceptance: _Acceptance | None = None


class TaskUpdateIn(Model):
    """A replan's change to one pending task; only the fields given change."""

    id: Annotated[str, Field(pattern=_ID)]
    title: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    description: Annotated[str, Field(max_length=4000)] | None = None
    depends_on: (
        Annotated[list[Annotated[str, Field(pattern=_ID)]], Field(max_length=500)] | None
    ) = None
    acceptance: dict[str, Any] | None = None
    clear_acceptance: bool = False
    status: Literal["pending", "skipped"] | None = None


# ---- outputs ---------------------------------------------------------------------------------
# Kept to what a model acts on: every field costs bytes in tools/list of every session.


class EvalOut(Model):
    """An evaluation: fix what ``deficiencies`` lists when ``passed`` is false."""

    score: float
    passed: bool
    deficiencies: list[str]
    sub_scores: dict[str, float] = {}
    details: dict[str, Any] = {}


class TaskOut(Model):
    """A task as tools return it; in full (description, acceptance spec, notes) where a task
    is shown whole: the claimed task, plan_create and verbose plan_status."""

    id: str
    title: str
    status: str
    depends_on: list[str] = []
    description: str = ""
    acceptance: dict[str, Any] | None = None
    confidence: float | None = None
    prompt_score: float | None = None
    output_score: float | None = None
    claimed_by: str | None = None
    notes: str = ""


class VerifyOut(EvalOut):
    """verify_output's result (nothing is recorded)."""


class PlanOut(Model):
    """A plan at a glance; ``tasks`` is filled only when verbose."""

    plan_id: str
    goal: str
    status: str
    confidence: float
    threshold: float
    needs_replan: bool
    replan_reason: str | None = None
    counts: dict[str, int]
    ready: list[str]
    complete: bool
    tasks: list[TaskOut] = []


class NextTaskOut(Model):
    """kind: task (now claimed by you), complete, blocked, or needs_replan."""

    kind: Literal["task", "complete", "blocked", "needs_replan"]
    task: TaskOut | None = None
    confidence: float
    needs_replan: bool
    reason: str = ""


class RecordOut(Model):
    """The task after recording, the plan's rolling confidence, what changed."""

    task: TaskOut
    confidence: float
    needs_replan: bool
    changes: list[str] = []
    evaluation: EvalOut | None = None


class ReplanOut(Model):
    """The plan's new revision and what it changed."""

    revision: int
    added: list[str] = []
    removed: list[str] = []
    updated: list[str] = []
    confidence: float
    needs_replan: bool


class PlanBrief(Model):
    """One line of a plan list."""

    plan_id: str
    goal: str
    status: str
    confidence: float
    needs_replan: bool
    tasks: int
    updated_at: str


class PlanListOut(Model):
    """A page of plans; pass ``next_cursor`` back for the next page (absent at the end)."""

    plans: list[PlanBrief]
    next_cursor: str | None = None


class ExplainOut(Model):
    """The plan's journal, read as sentences."""

    summary: str
    lines: list[str]


class DeleteOut(Model):
    """Whether the plan was deleted, and why not when it was not."""

    deleted: bool
    message: str
