"""Inputs and outputs of every tool: the JSON Schemas hosts show to models.

Tool arguments are flat (a model calls ``plan_status(plan_id=...)``, not
``plan_status(args={...})``): the bounded argument types below are annotated
parameters of the tool functions, and the nested inputs (tasks, updates) and
every output are models here. Descriptions are short on purpose: the whole
``tools/list`` must stay small enough for hosts with tight budgets, so field
titles are dropped from the published schemas.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema

__all__ = [
    "MAX_TEXT",
    "Agent",
    "DeleteOut",
    "EvalOut",
    "ExplainOut",
    "Goal",
    "LoopBrief",
    "LoopId",
    "LoopOut",
    "LoopStartOut",
    "LoopStepOut",
    "NextTaskOut",
    "OptText",
    "OutputText",
    "PlanBrief",
    "PlanId",
    "PlanListOut",
    "PlanOut",
    "RecordOut",
    "ReplanOut",
    "Spec",
    "StatsOut",
    "TaskId",
    "TaskIn",
    "TaskOut",
    "TaskUpdateIn",
    "Unit",
    "VerifyOut",
]

MAX_TEXT = 200_000  # characters of a prompt or an output
_ID = r"^[A-Za-z0-9_.-]{1,64}$"


def _drop_titles(schema: dict[str, Any]) -> None:
    """Nested models publish their fields, not their docstrings (tool descriptions say it)."""
    schema.pop("title", None)
    schema.pop("description", None)
    for prop in schema.get("properties", {}).values():
        if isinstance(prop, dict):
            prop.pop("title", None)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra=_drop_titles)


# ---- bounded argument types ----------------------------------------------------------------

# References to existing ids: validated by the pattern, published as plain strings (a wrong id
# is answered "not found" anyway, and the bytes count against hosts' tool budgets).
_Ref = WithJsonSchema({"type": "string"})
PlanId = Annotated[str, Field(pattern=_ID), _Ref]
TaskId = Annotated[str, Field(pattern=_ID), _Ref]
LoopId = Annotated[str, Field(pattern=_ID), _Ref]
Unit = Annotated[float, Field(ge=0.0, le=1.0, allow_inf_nan=False)]
Goal = Annotated[str, Field(min_length=1, max_length=4000)]
OutputText = Annotated[str, Field(max_length=MAX_TEXT)]
OptText = Annotated[str, Field(max_length=4000)]
Agent = Annotated[str, Field(pattern=r"^[A-Za-z0-9_.@:-]{1,64}$")]
Spec = Annotated[
    dict[str, Any],
    Field(
        description='{"type":"regex|json_schema|length|completeness|evidence|composite|command",...}'
    ),
]


# ---- nested inputs ---------------------------------------------------------------------------


# Dependencies name tasks of the same plan: validated here, published as a plain list.
_Deps = Annotated[
    list[Annotated[str, Field(pattern=_ID)]],
    Field(max_length=500),
    WithJsonSchema({"type": "array", "items": {"type": "string"}}),
]
_Acceptance = Annotated[dict[str, Any], Field(description="evaluator spec, as verify_output")]


class TaskIn(_Model):
    """One task of a new plan (or one added by a replan)."""

    id: Annotated[str, Field(pattern=_ID)]
    title: Annotated[str, Field(min_length=1, max_length=200)]
    description: Annotated[str, Field(max_length=4000)] = ""
    depends_on: _Deps = []
    acceptance: _Acceptance | None = None


class TaskUpdateIn(_Model):
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


class EvalOut(_Model):
    """An evaluation: hand ``feedback`` back to the model when ``passed`` is false."""

    score: float
    passed: bool
    deficiencies: list[str]
    feedback: str
    sub_scores: dict[str, float] = {}
    details: dict[str, Any] = {}


class TaskOut(_Model):
    """A task as tools return it (description, acceptance and notes only when claimed)."""

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
    """verify_output's result; the plan fields only when a plan task was given."""

    task: TaskOut | None = None
    plan_confidence: float | None = None
    needs_replan: bool | None = None


class PlanOut(_Model):
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


class NextTaskOut(_Model):
    """kind: task (now claimed by you), complete, blocked, or needs_replan."""

    kind: Literal["task", "complete", "blocked", "needs_replan"]
    task: TaskOut | None = None
    confidence: float
    needs_replan: bool
    reason: str = ""


class RecordOut(_Model):
    """The task after recording, the plan's rolling confidence, what changed."""

    task: TaskOut
    confidence: float
    needs_replan: bool
    changes: list[str] = []
    evaluation: EvalOut | None = None


class ReplanOut(_Model):
    """The plan's new revision and what it changed."""

    revision: int
    added: list[str] = []
    removed: list[str] = []
    updated: list[str] = []
    confidence: float
    needs_replan: bool


class PlanBrief(_Model):
    """One line of a plan list."""

    plan_id: str
    goal: str
    status: str
    confidence: float
    needs_replan: bool
    tasks: int
    updated_at: float


class PlanListOut(_Model):
    """A page of plans; pass ``next_cursor`` back for the next page (null at the end)."""

    plans: list[PlanBrief]
    next_cursor: str | None = None


class ExplainOut(_Model):
    """The plan's journal, read as sentences."""

    summary: str
    lines: list[str]


class DeleteOut(_Model):
    """Whether the plan was deleted, and why not when it was not."""

    deleted: bool
    message: str


class LoopStartOut(_Model):
    """A new loop: produce an output, then call loop_step with it."""

    loop_id: str
    config: dict[str, Any]
    guidance: str


class LoopStepOut(_Model):
    """decision continue: fix ``feedback`` and step again; stop: call loop_end.

    ``failing``: the tests a command evaluator saw fail; ``regression``: one of them
    passed in an earlier step.
    """

    iteration: int
    score: float
    passed: bool
    decision: Literal["continue", "stop"]
    exit_reason: str | None = None
    feedback: str
    best_score: float
    best_output: str | None = None
    failing: list[str] = []
    regression: bool = False


class LoopOut(_Model):
    """A loop's state (open, stopped or closed) and its scores so far."""

    loop_id: str
    status: str
    scores: list[float] = []
    best_score: float | None = None
    best_output: str | None = None
    converged: bool = False
    exit_reason: str | None = None
    note: str = ""


class LoopBrief(_Model):
    """One open loop."""

    loop_id: str
    goal: str
    status: str
    iterations: int
    best_score: float | None = None


class StatsOut(_Model):
    """Usage figures of this project and its open loops."""

    project: str
    plans: dict[str, int]
    tasks: dict[str, int]
    loops: dict[str, int]
    intercepts: int
    feedback: int
    open_loops: list[LoopBrief] = []
