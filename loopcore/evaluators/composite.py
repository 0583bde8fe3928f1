"""Evaluators built from other scores: weighted composites and callable thresholds."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import structlog

from loopcore.errors import InvalidInput
from loopcore.evaluators.base import EvalContext, Evaluation, Evaluator

__all__ = ["CompositeEvaluator", "ScoreFn", "ThresholdEvaluator", "part_key"]

ScoreFn = Callable[[str, EvalContext | None], float]

_log = structlog.get_logger()


def part_key(index: int, evaluator: Evaluator) -> str:
    """The key of a composite's part in sub-scores and details, e.g. ``"0:regex"``."""
    return f"{index}:{evaluator.name}"


def _part_evaluation(evaluation: Evaluation | None, key: str) -> Evaluation | None:
    """A part's own earlier evaluation, rebuilt from the composite's details."""
    if evaluation is None:
        return None
    parts = evaluation.details.get("parts")
    item = parts.get(key) if isinstance(parts, Mapping) else None
    if not isinstance(item, Mapping):
        return None
    score = item.get("score")
    details = item.get("details")
    return Evaluation.of(
        float(score) if isinstance(score, int | float) else 0.0,
        bool(item.get("passed")),
        details=details if isinstance(details, Mapping) else None,
    )


@dataclass(frozen=True, kw_only=True)
class CompositeEvaluator:
    """Weighted parts, each scored on the same output.

    Weights are normalised to sum to 1; score = sum(w_i x s_i). With ``mode
    "all"`` it passes when every part passes; with ``"weighted"`` when the score
    reaches ``threshold``. Sub-scores and details are keyed ``"<index>:<type>"``;
    deficiencies are prefixed with that key. Each part sees its own previous and
    baseline evaluations (taken from the composite's details), so a part that
    tracks change across steps (``command``) works inside a composite.

    Raises:
        InvalidInput: when there are no parts, a weight is negative or not finite,
            or all weights are zero.
    """

    parts: tuple[tuple[float, Evaluator], ...]
    mode: Literal["all", "weighted"] = "all"
    threshold: float = 0.8
    _weights: tuple[float, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.parts:
            raise InvalidInput("a composite needs at least one part", field="parts")
        for i, (weight, _) in enumerate(self.parts):
            if not (math.isfinite(weight) and weight >= 0.0):
                raise InvalidInput("must be a finite number >= 0", field=f"parts.{i}.weight")
        total = sum(w for w, _ in self.parts)
        if total <= 0.0:
            raise InvalidInput("at least one weight must be > 0", field="parts")
        object.__setattr__(self, "_weights", tuple(w / total for w, _ in self.parts))

    @property
    def name(self) -> str:
        """The spec type."""
        return "composite"

    def evaluate(self, output: str, context: EvalContext | None = None) -> Evaluation:
        """Score ``output`` with every part and combine."""
        score = 0.0
        all_passed = True
        deficiencies: list[str] = []
        sub_scores: dict[str, float] = {}
        details: dict[str, Any] = {}
        for i, ((_, part), weight) in enumerate(zip(self.parts, self._weights, strict=True)):
            key = part_key(i, part)
            result = part.evaluate(output, self._part_context(context, key))
            score += weight * result.score
            all_passed = all_passed and result.passed
            sub_scores[key] = result.score
            deficiencies += [f"[{key}] {d}" for d in result.deficiencies]
            details[key] = {
                "score": result.score,
                "passed": result.passed,
                "details": dict(result.details),
            }
        weighted = self.mode == "weighted"
        passed = score >= self.threshold - 1e-12 if weighted else all_passed
        return Evaluation.of(
            score, passed, deficiencies, sub_scores=sub_scores, details={"parts": details}
        )

    @staticmethod
    def _part_context(context: EvalContext | None, key: str) -> EvalContext | None:
        if context is None:
            return None
        return replace(
            context,
            previous=_part_evaluation(context.previous, key),
            baseline=_part_evaluation(context.baseline, key),
        )


@dataclass(frozen=True, kw_only=True)
class ThresholdEvaluator:
    """Wraps a callable ``(output, context) -> float``; passes at ``threshold``.

    Score = the callable's value clamped into [0, 1]. A value that is not a
    finite number, or a callable that raises, scores 0.0 with a deficiency
    naming the problem (the evaluator itself never raises). Programmatic only:
    JSON specs cannot name Python callables.
    """

    fn: ScoreFn
    threshold: float = 0.5
    label: str = "score"

    def __post_init__(self) -> None:
        if not (math.isfinite(self.threshold) and 0.0 <= self.threshold <= 1.0):
            raise InvalidInput("must be a finite number in [0, 1]", field="threshold")

    @property
    def name(self) -> str:
        """The evaluator type."""
        return "threshold"

    def evaluate(self, output: str, context: EvalContext | None = None) -> Evaluation:
        """Score ``output`` with the wrapped callable."""
        try:
            value = float(self.fn(output, context))
        # A wrapped callable is arbitrary user code; its failure is a low score, not a crash.
        except Exception as exc:
            _log.warning("threshold callable failed", label=self.label, error=repr(exc))
            return Evaluation.of(0.0, False, [f"{self.label} could not be computed: {exc!r}"])
        if not math.isfinite(value):
            return Evaluation.of(0.0, False, [f"{self.label} is not a finite number ({value})"])
        if value >= self.threshold:
            return Evaluation.of(value, True)
        return Evaluation.of(
            value, False, [f"{self.label} {value:.2f} is below the threshold {self.threshold:.2f}"]
        )
