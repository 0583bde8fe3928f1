"""Outputs of intercept, prompt_stats and prompt_feedback."""

from __future__ import annotations

from typing import Literal

from server.schemas.base import Model

__all__ = [
    "DimensionScore",
    "FeedbackOut",
    "ImprovedOut",
    "InterceptOut",
    "PromptStatsOut",
    "QuestionOut",
]


class QuestionOut(Model):
    """A clarifying question and the blank its answer fills."""

    text: str
    blank: str
    value: float


class ImprovedOut(Model):
    """The prompt with the user's answers folded in, scored again (heuristic)."""

    history_id: str | None  # None: the score could not be kept in history
    score: float
    grade: str
    dimensions: dict[str, float]
    issues: list[str]
    questions: list[QuestionOut]
    route: str


class InterceptOut(Model):
    """A request's score; on route clarify ask ``questions`` (or act on ``improved_prompt``).

    ``history_id`` is None when the history could not be written (a full or read-only disk):
    scoring needs no store, so the score is still given (the server log says why).
    """

    history_id: str | None
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


class DimensionScore(Model):
    """One dimension's mean score."""

    dimension: str
    score: float


class PromptStatsOut(Model):
    """Recent intercepts of this project: mean, trend (newer minus older half), weak spots."""

    project: str
    window: int
    count: int
    mean: float | None
    trend: float
    grades: dict[str, int]
    dimensions: dict[str, float]
    weakest: list[DimensionScore]


class FeedbackOut(Model):
    """A stored rating; ratings never feed the loop priors."""

    feedback_id: int
    history_id: str
    rating: int
    comment: str
    note: str
