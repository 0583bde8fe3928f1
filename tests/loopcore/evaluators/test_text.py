"""The regex and length evaluators."""

from __future__ import annotations

import math

import pytest

from loopcore.evaluators import build_evaluator
from loopcore.evaluators.factory import FactoryOptions
from loopcore.evaluators.text import LengthEvaluator, length_falloff


def test_regex_all_required_found_and_nothing_forbidden_passes() -> None:
    """Every required pattern present and no forbidden one gives 1.0 and a pass."""
    ev = build_evaluator(
        {"type": "regex", "required": ["def \\w+", "return"], "forbidden": ["TODO"]}
    )
    result = ev.evaluate("def f():\n    return 1\n")
    assert (result.score, result.passed, result.deficiencies) == (1.0, True, ())


def test_regex_score_is_the_share_of_satisfied_patterns() -> None:
    """One missing required and one present forbidden pattern of four give 0.5."""
    ev = build_evaluator(
        {"type": "regex", "required": ["alpha", "beta"], "forbidden": ["gamma", "delta"]}
    )
    result = ev.evaluate("alpha delta")
    assert result.score == 0.5
    assert result.passed is False
    assert result.deficiencies == (
        "missing required pattern 'beta'",
        "forbidden pattern 'delta' found: 'delta'",
    )


def test_regex_flags_apply_to_every_pattern() -> None:
    """The ignorecase flag makes 'ERROR' match a required 'error'."""
    ev = build_evaluator({"type": "regex", "required": ["error"], "flags": ["ignorecase"]})
    assert ev.evaluate("ERROR here").passed is True


def test_regex_multiline_flag_anchors_lines() -> None:
    """With multiline, ^ matches at the start of the second line."""
    ev = build_evaluator({"type": "regex", "required": ["^second"], "flags": ["multiline"]})
    assert ev.evaluate("first\nsecond").passed is True


def test_regex_pattern_object_carries_its_own_flags_and_message() -> None:
    """A pattern object's flags and message are used."""
    spec = {
        "type": "regex",
        "required": [{"pattern": "^x$", "flags": ["multiline"], "message": "need an x line"}],
    }
    ev = build_evaluator(spec)
    assert ev.evaluate("a\nx\nb").passed is True
    assert ev.evaluate("a\nb").deficiencies == ("need an x line",)


def test_catastrophic_pattern_times_out_with_a_clear_deficiency() -> None:
    """(a+)+$ against 50,000 a's and a '!' is a timed-out deficiency, not a hang."""
    ev = build_evaluator({"type": "regex", "required": ["(a+)+$"]})
    result = ev.evaluate("a" * 50_000 + "!")
    assert result.score == 0.0
    assert result.passed is False
    assert result.deficiencies == ("pattern '(a+)+$' timed out after 0.5 s",)


def test_catastrophic_forbidden_pattern_fails_closed() -> None:
    """A forbidden pattern that times out cannot be ruled out, so it fails."""
    ev = build_evaluator(
        {"type": "regex", "forbidden": ["(a|aa)+$"]}, FactoryOptions(regex_timeout_s=0.2)
    )
    result = ev.evaluate("a" * 50_000 + "!")
    assert (result.score, result.passed) == (0.0, False)
    assert result.deficiencies == ("pattern '(a|aa)+$' timed out after 0.2 s",)


def test_length_inside_bounds_passes() -> None:
    """Words and characters inside their bounds give 1.0."""
    ev = build_evaluator({"type": "length", "min_words": 2, "max_words": 4, "max_chars": 30})
    result = ev.evaluate("three short words")
    assert (result.score, result.passed) == (1.0, True)
    assert dict(result.details) == {"words": 3, "chars": 17}


def test_length_falls_off_smoothly_above_the_maximum() -> None:
    """Ten words against a maximum of eight score exp(-4 x 0.25)."""
    ev = LengthEvaluator(max_words=8)
    result = ev.evaluate(" ".join(["w"] * 10))
    assert result.score == pytest.approx(math.exp(-1.0))
    assert result.deficiencies == ("too long: 10 words, at most 8 allowed",)


def test_length_falls_off_below_the_minimum() -> None:
    """Half the minimum number of characters scores exp(-2)."""
    result = LengthEvaluator(min_chars=10).evaluate("abcde")
    assert result.score == pytest.approx(math.exp(-2.0))
    assert result.deficiencies == ("too short: 5 characters, at least 10 required",)


def test_length_score_is_the_worse_dimension() -> None:
    """Words inside but characters far outside: the character score counts."""
    ev = LengthEvaluator(min_words=1, max_words=100, max_chars=10)
    result = ev.evaluate("x" * 20)
    assert result.score == pytest.approx(math.exp(-4.0))


def test_length_falloff_is_monotonic_outside_the_bounds() -> None:
    """Further from the bound never scores higher."""
    scores = [length_falloff(n, 10, 20) for n in range(0, 60)]
    below, above = scores[:11], scores[20:]
    assert below == sorted(below)
    assert above == sorted(above, reverse=True)


def test_length_zero_maximum_uses_an_absolute_distance() -> None:
    """max_chars 0 scores exp(-4 n) for n characters instead of dividing by zero."""
    assert LengthEvaluator(max_chars=0).evaluate("ab").score == pytest.approx(math.exp(-8.0))


def test_empty_output_against_a_minimum_is_nearly_zero() -> None:
    """An empty output against a minimum of 50 words scores exp(-4)."""
    result = LengthEvaluator(min_words=50).evaluate("")
    assert result.score == pytest.approx(math.exp(-4.0))
    assert result.passed is False
