"""Inputs and outputs of intercept, prompt_stats, prompt_feedback, refine and suggest_config.

Kept apart from ``server.schemas`` (same conventions: flat bounded arguments,
output models without field titles) so the tool groups can grow independently.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "MAX_PROMPT",
    "DimensionScore",
    "FeedbackOut",
    "HistoryId",
    "ImprovedOut",
    "InterceptOut",
    "IterationOut",
    "PriorRow",
    "PromptStatsOut",
    "PromptText",
    "QuestionOut",
    "RefineOut",
    "SuggestOut",
    "TaskType",
]

MAX_PROMPT = 50_000  # characters of a prompt to intercept or refine


def _drop_titles(schema: dict[str, Any]) -> None:
    schema.pop("title", None)
    for prop in schema.get("properties", {}).values():
        if isinstance(prop, dict):
            prop.pop("title", None)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra=_drop_titles)


PromptText = Annotated[str, Field(min_length=1, max_length=MAX_PROMPT)]
HistoryId = Annotated[
    str,
    Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$", description="history_id an intercept returned."),
]
TaskType = Annotated[
    str,
    Field(
        pattern=r"^[A-Za-z0-9_.:/@+-]{1,64}$",
        description='Kind of work ("code", "docs"): priors are kept per task type.',
    ),
]


class QuestionOut(_Model):
    """A clarifying question and the blank its answer fills."""

    text: str
    blank: str
    value: float


class ImprovedOut(_Model):
    """The prompt with the user's answers folded in, scored again (heuristic)."""

    history_id: str
    score: float
    grade: str
    dimensions: dict[str, float]
    issues: list[str]
    questions: list[QuestionOut]
    route: str


class InterceptOut(_Model):
    """A request's score; on route clarify ask ``questions`` (or act on ``improved_prompt``)."""

    history_id: str
    score: float
    grade: str
    dimensions: dict[str, float]
    issues: list[str]
    questions: list[QuestionOut]
    route: Literal["proceed", "clarify", "decompose"]
    suggested_config: dict[str, float | int]
    judge: Literal["heuristic", "model"]
    judge_source: Literal["heuristic", "sampling", "configured"]
    judge_note: str = ""
    elicitation: Literal[
        "not_requested", "no_questions", "unsupported", "accepted", "empty", "declined", "cancelled"
    ]
    elicitation_note: str = ""
    improved_prompt: str | None = None
    improved: ImprovedOut | None = None
    task_prompt_score: float | None = None
    prompt_stored: bool


class DimensionScore(_Model):
    """One dimension's mean score."""

    dimension: str
    score: float


class PromptStatsOut(_Model):
    """Recent intercepts of this project: mean, trend (newer minus older half), weak spots."""

    project: str
    window: int
    count: int
    mean: float | None
    trend: float
    grades: dict[str, int]
    dimensions: dict[str, float]
    weakest: list[DimensionScore]


class FeedbackOut(_Model):
    """A stored rating; ratings never feed the loop priors."""

    feedback_id: int
    history_id: str
    rating: int
    comment: str
    note: str


class IterationOut(_Model):
    """One refine iteration, compact (the outputs themselves are not repeated)."""

    iteration: int
    score: float
    passed: bool
    deficiencies: list[str]
    tokens: int
    latency_s: float


class RefineOut(_Model):
    """How a server-driven loop ended; ``output`` is the best answer."""

    output: str
    best_score: float
    converged: bool
    exit_reason: str
    exit_detail: str
    iterations: list[IterationOut]
    total_tokens: int
    tokens_reported: bool
    elapsed_s: float
    provider: Literal["sampling", "configured"]
    provider_name: str
    model: str
    config: dict[str, Any]
    learned: bool


class PriorRow(_Model):
    """What the priors hold for one (task type, model)."""

    model: str
    loops: int
    converged: int
    convergence_rate: float
    rate_low: float
    rate_high: float
    mean_iterations: float


class SuggestOut(_Model):
    """A loop config learned from past loops (source "prior") or the defaults."""

    task_type: str
    model: str | None
    max_iterations: int
    min_iterations: int
    quality_threshold: float
    expected_iterations: float
    convergence_rate: float
    based_on_loops: int
    source: Literal["prior", "default"]
    rationale: str
    priors: list[PriorRow]
