"""Composite and threshold evaluators."""

from __future__ import annotations

import math
from typing import Any

import pytest

from loopcore.errors import InvalidInput
from loopcore.evaluators import build_evaluator
from loopcore.evaluators.base import EvalContext, Evaluation
from loopcore.evaluators.composite import CompositeEvaluator, ThresholdEvaluator
from loopcore.evaluators.text import LengthEvaluator

REGEX: dict[str, Any] = {"type": "regex", "required": ["hello"]}
LENGTH: dict[str, Any] = {"type": "length", "max_words": 2}


def test_weights_are_normalised() -> None:
    """Weights 3 and 1 count as 0.75 and 0.25."""
    ev = build_evaluator(
        {
            "type": "composite",
            "pass": "weighted",
            "parts": [
                {"weight": 3, "spec": REGEX},
                {"weight": 1, "spec": {**REGEX, "required": ["x"]}},
            ],
        }
    )
    result = ev.evaluate("hello")
    assert result.score == pytest.approx(0.75)
    assert dict(result.sub_scores) == {"0:regex": 1.0, "1:regex": 0.0}


def test_pass_all_needs_every_part_to_pass() -> None:
    """With pass=all, one failing part fails the composite whatever the score."""
    spec = {"type": "composite", "parts": [{"weight": 9, "spec": REGEX}, {"spec": LENGTH}]}
    result = build_evaluator(spec).evaluate("hello there you")
    assert result.passed is False
    assert result.score > 0.9


def test_pass_weighted_uses_the_threshold() -> None:
    """With pass=weighted, the weighted score against the threshold decides."""
    spec = {
        "type": "composite",
        "pass": "weighted",
        "threshold": 0.9,
        "parts": [{"weight": 9, "spec": REGEX}, {"spec": LENGTH}],
    }
    assert build_evaluator(spec).evaluate("hello there you").passed is True


def test_deficiencies_are_prefixed_with_the_part() -> None:
    """Each part's deficiencies carry its key."""
    spec = {"type": "composite", "parts": [{"spec": REGEX}, {"spec": LENGTH}]}
    result = build_evaluator(spec).evaluate("one two three")
    assert result.deficiencies == (
        "[0:regex] missing required pattern 'hello'",
        "[1:length] too long: 3 words, at most 2 allowed",
    )


def test_nested_composites_build_and_score() -> None:
    """A composite inside a composite scores through both levels."""
    inner = {"type": "composite", "parts": [{"spec": REGEX}, {"spec": LENGTH}]}
    outer = {"type": "composite", "parts": [{"spec": inner}, {"spec": REGEX}]}
    result = build_evaluator(outer).evaluate("hello")
    assert (result.score, result.passed) == (1.0, True)
    assert set(result.sub_scores) == {"0:composite", "1:regex"}


def test_nesting_past_the_limit_is_rejected() -> None:
    """Five levels of composites are an InvalidInput at the innermost path."""
    spec: dict[str, Any] = REGEX
    for _ in range(5):
        spec = {"type": "composite", "parts": [{"spec": spec}]}
    with pytest.raises(InvalidInput) as caught:
        build_evaluator(spec)
    assert caught.value.field == "parts.0.spec.parts.0.spec.parts.0.spec.parts.0.spec"


def test_all_zero_weights_are_rejected() -> None:
    """Weights that sum to zero cannot be normalised."""
    with pytest.raises(InvalidInput) as caught:
        build_evaluator({"type": "composite", "parts": [{"weight": 0, "spec": REGEX}]})
    assert caught.value.field == "parts"


def test_negative_weight_is_rejected_with_its_path() -> None:
    """A negative weight names parts.N.weight."""
    with pytest.raises(InvalidInput) as caught:
        build_evaluator(
            {"type": "composite", "parts": [{"spec": REGEX}, {"weight": -1, "spec": REGEX}]}
        )
    assert caught.value.field == "parts.1.weight"


def test_programmatic_composite_rejects_non_finite_weights() -> None:
    """CompositeEvaluator checks its weights when built directly."""
    with pytest.raises(InvalidInput) as caught:
        CompositeEvaluator(parts=((math.nan, LengthEvaluator(max_words=1)),))
    assert caught.value.field == "parts.0.weight"


def test_parts_see_their_own_previous_evaluation() -> None:
    """A part's previous evaluation is rebuilt from the composite's details."""
    seen: list[Evaluation | None] = []

    def remember(output: str, context: EvalContext | None) -> float:
        seen.append(context.previous if context else None)
        return 0.5

    ev = CompositeEvaluator(parts=((1.0, ThresholdEvaluator(fn=remember)),))
    first = ev.evaluate("x", EvalContext())
    ev.evaluate("x", EvalContext(previous=first))
    assert seen[0] is None
    assert seen[1] is not None and seen[1].score == 0.5


def test_threshold_passes_at_the_threshold() -> None:
    """A callable value equal to the threshold passes."""
    ev = ThresholdEvaluator(fn=lambda out, ctx: len(out) / 10, threshold=0.3, label="length ratio")
    assert ev.evaluate("abc").passed is True
    assert ev.evaluate("ab").deficiencies == ("length ratio 0.20 is below the threshold 0.30",)


def test_threshold_clamps_the_value() -> None:
    """A value above 1 scores 1.0; below 0 scores 0.0."""
    assert ThresholdEvaluator(fn=lambda o, c: 7.0).evaluate("").score == 1.0
    assert ThresholdEvaluator(fn=lambda o, c: -2.0).evaluate("").score == 0.0


def test_threshold_turns_a_raising_callable_into_a_low_score() -> None:
    """A callable that raises scores 0.0 with the error named."""

    def boom(output: str, context: EvalContext | None) -> float:
        raise ValueError("bad input")

    result = ThresholdEvaluator(fn=boom).evaluate("x")
    assert (result.score, result.passed) == (0.0, False)
    assert result.deficiencies == ("score could not be computed: ValueError('bad input')",)


def test_threshold_rejects_nan_values() -> None:
    """A NaN value scores 0.0 with a deficiency."""
    result = ThresholdEvaluator(fn=lambda o, c: math.nan).evaluate("x")
    assert (result.score, result.deficiencies) == (0.0, ("score is not a finite number (nan)",))


def test_threshold_is_not_buildable_from_json() -> None:
    """'threshold' is programmatic only: the factory does not know it."""
    with pytest.raises(InvalidInput) as caught:
        build_evaluator({"type": "threshold", "threshold": 0.5})
    assert caught.value.field == "type"
