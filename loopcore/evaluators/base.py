"""What every evaluator returns, and what it is given.

An evaluator is deterministic: the same output and context give the same
``Evaluation``. Scores are floats in [0, 1]; ``passed`` is the evaluator's own
verdict (usually ``score >= threshold``); ``deficiencies`` are short sentences
a model can act on; ``feedback`` joins them into a message ready to hand back.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

__all__ = ["EvalContext", "Evaluation", "Evaluator", "clamp01", "make_feedback"]


def clamp01(x: float) -> float:
    """Clamp ``x`` into [0, 1]; NaN becomes 0.0."""
    if math.isnan(x):
        return 0.0
    return 0.0 if x < 0.0 else 1.0 if x > 1.0 else float(x)


def make_feedback(score: float, deficiencies: tuple[str, ...]) -> str:
    """The message handed back to a model after an evaluation."""
    if not deficiencies:
        return f"Scored {score:.2f}/1.0; no deficiencies found."
    issues = "; ".join(deficiencies)
    return f"Scored {score:.2f}/1.0; issues to fix: {issues}"


@dataclass(frozen=True, kw_only=True, slots=True)
class Evaluation:
    """The result of one evaluation.

    Attributes:
        score: in [0, 1].
        passed: the evaluator's verdict.
        deficiencies: what is wrong, one short sentence each.
        sub_scores: named partial scores (for composites, per part).
        feedback: a message ready to hand back to a model.
        details: evaluator-specific facts (e.g. failing test names) that a later
            evaluation may compare against.
    """

    score: float
    passed: bool
    deficiencies: tuple[str, ...] = ()
    sub_scores: Mapping[str, float] = field(default_factory=dict)
    feedback: str = ""
    details: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def of(
        cls,
        score: float,
        passed: bool,
        deficiencies: tuple[str, ...] | list[str] = (),
        *,
        sub_scores: Mapping[str, float] | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> Evaluation:
        """Build an evaluation with the score clamped and the feedback written."""
        s = clamp01(score)
        defs = tuple(deficiencies)
        return cls(
            score=s,
            passed=passed,
            deficiencies=defs,
            sub_scores=dict(sub_scores or {}),
            feedback=make_feedback(s, defs),
            details=dict(details or {}),
        )


@dataclass(frozen=True, kw_only=True, slots=True)
class EvalContext:
    """What an evaluator may know besides the output.

    Attributes:
        goal: the task's goal, so an echo of it can be recognised.
        acceptance: the acceptance text, likewise.
        previous: the previous evaluation in the same loop or task, for
            evaluators that track change across steps (e.g. failing tests).
        baseline: the first evaluation in the same loop or task.
        project_root: the directory commands may run in.
    """

    goal: str | None = None
    acceptance: str | None = None
    previous: Evaluation | None = None
    baseline: Evaluation | None = None
    project_root: Path | None = None


@runtime_checkable
class Evaluator(Protocol):
    """Scores an output. Must not raise on any text: bad output is a low score."""

    @property
    def name(self) -> str:
        """The spec type this evaluator was built from (e.g. ``"regex"``)."""
        ...

    def evaluate(self, output: str, context: EvalContext | None = None) -> Evaluation:
        """Score ``output``."""
        ...
