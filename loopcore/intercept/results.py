"""The result types of the prompt scorer."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

__all__ = ["PromptScore", "Question", "Route", "SuggestedLoopConfig"]

Route = Literal["proceed", "clarify", "decompose"]


@dataclass(frozen=True, kw_only=True, slots=True)
class Question:
    """A clarifying question, tied to the blank its answer fills.

    Attributes:
        text: the question, ready to show a person.
        blank: the blank it fills (a key of ``BLANKS``; also the key its
            answer takes in ``fold_answers``).
        value: how much an answer is expected to help, in [0, 1].
    """

    text: str
    blank: str
    value: float


@dataclass(frozen=True, kw_only=True, slots=True)
class SuggestedLoopConfig:
    """A starting loop configuration for work on this request.

    Attributes:
        max_iterations: more for vaguer requests (2..8).
        quality_threshold: higher when the request says how to check the work.
    """

    max_iterations: int
    quality_threshold: float


@dataclass(frozen=True, kw_only=True, slots=True)
class PromptScore:
    """How actionable a request is, and what would make it more so.

    Attributes:
        score: overall quality in [0, 1].
        grade: "A" (>= 0.80), "B" (>= 0.65), "C" (>= 0.50), "D" (>= 0.35) or "F".
        dimensions: specificity, context, reproducibility, acceptance_criteria,
            constraints, clarity; each in [0, 1], higher is better (clarity
            1.0: no choice left open; reproducibility 1.0: the starting state
            can be reproduced, never without evidence).
        issues: the blanks and problems found, one sentence each.
        questions: clarifying questions, best first.
        route: "proceed", "clarify" (answer the questions first) or
            "decompose" (several independent asks: plan them as tasks).
        suggested_config: a starting loop configuration.
        features: the raw feature values, for transparency.
        judge: which judgement produced the score.
        judge_note: how the model judge was combined, or why it was not.
    """

    score: float
    grade: str
    dimensions: Mapping[str, float]
    issues: tuple[str, ...]
    questions: tuple[Question, ...]
    route: Route
    suggested_config: SuggestedLoopConfig
    features: Mapping[str, float]
    judge: Literal["heuristic", "model"] = "heuristic"
    judge_note: str = ""
