"""Surface checks on the text itself: patterns that must or must not appear, and length."""

from __future__ import annotations

import math
from dataclasses import dataclass

from loopcore.evaluators._patterns import TimedPattern
from loopcore.evaluators.base import EvalContext, Evaluation

__all__ = ["LengthEvaluator", "RegexEvaluator", "length_falloff"]


@dataclass(frozen=True, kw_only=True, slots=True)
class RegexEvaluator:
    """Required patterns must match somewhere in the output; forbidden ones must not.

    Score = (required patterns found + forbidden patterns absent) / (all patterns).
    A search that hits the time limit counts as a failure either way (a required
    pattern is not found, a forbidden one cannot be ruled out) and is reported
    as "pattern X timed out after T s". Passes only with a score of 1.0.
    """

    required: tuple[TimedPattern, ...] = ()
    forbidden: tuple[TimedPattern, ...] = ()

    @property
    def name(self) -> str:
        """The spec type."""
        return "regex"

    def evaluate(self, output: str, context: EvalContext | None = None) -> Evaluation:
        """Score ``output`` against the patterns."""
        deficiencies: list[str] = []
        good = 0
        for pattern in self.required:
            match, timed_out = pattern.search(output)
            if timed_out:
                deficiencies.append(pattern.timeout_text())
            elif match is None:
                deficiencies.append(
                    pattern.message or f"missing required pattern {pattern.source!r}"
                )
            else:
                good += 1
        for pattern in self.forbidden:
            match, timed_out = pattern.search(output)
            if timed_out:
                deficiencies.append(pattern.timeout_text())
            elif match is not None:
                found = match.group(0)[:80]
                deficiencies.append(
                    pattern.message or f"forbidden pattern {pattern.source!r} found: {found!r}"
                )
            else:
                good += 1
        total = len(self.required) + len(self.forbidden)
        score = good / total if total else 1.0
        return Evaluation.of(score, good == total, deficiencies)


def length_falloff(value: int, low: int | None, high: int | None) -> float:
    """1.0 inside [low, high]; ``exp(-4 d)`` outside, d the relative distance to the bound.

    Below ``low``: d = (low - value) / low. Above ``high``: d = (value - high) / max(high, 1).
    So 5 % outside scores 0.82, 25 % scores 0.37, 100 % (e.g. empty output) 0.018.
    """
    if low is not None and value < low:
        return math.exp(-4.0 * (low - value) / low)
    if high is not None and value > high:
        return math.exp(-4.0 * (value - high) / max(high, 1))
    return 1.0


@dataclass(frozen=True, kw_only=True, slots=True)
class LengthEvaluator:
    """Bounds on words (whitespace-separated) and characters (code points).

    Score = the smaller of the word score and the character score, each
    ``length_falloff`` of its count (1.0 inside the bounds, falling off smoothly
    with the relative distance outside them). Passes when every count is inside
    its bounds.
    """

    min_words: int | None = None
    max_words: int | None = None
    min_chars: int | None = None
    max_chars: int | None = None

    @property
    def name(self) -> str:
        """The spec type."""
        return "length"

    def evaluate(self, output: str, context: EvalContext | None = None) -> Evaluation:
        """Score the length of ``output``."""
        words = len(output.split())
        chars = len(output)
        deficiencies: list[str] = []
        scores: list[float] = []
        for unit, count, low, high in (
            ("words", words, self.min_words, self.max_words),
            ("characters", chars, self.min_chars, self.max_chars),
        ):
            if low is None and high is None:
                continue
            scores.append(length_falloff(count, low, high))
            if low is not None and count < low:
                deficiencies.append(f"too short: {count} {unit}, at least {low} required")
            elif high is not None and count > high:
                deficiencies.append(f"too long: {count} {unit}, at most {high} allowed")
        score = min(scores) if scores else 1.0
        return Evaluation.of(
            score, not deficiencies, deficiencies, details={"words": words, "chars": chars}
        )
