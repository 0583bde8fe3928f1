"""The evidence evaluator and its presets."""

from __future__ import annotations

import pytest

from loopcore.evaluators import build_evaluator
from loopcore.evaluators.base import Evaluator


def _tests_preset() -> Evaluator:
    return build_evaluator({"type": "evidence", "preset": "tests"})


@pytest.mark.parametrize(
    "output",
    [
        "===== 12 passed in 0.31s =====",
        "collected 3 items\n3 passed, 0 failed",
        "Ran 4 tests in 0.002s\n\nOK",
        "make test\nexit code 0",
    ],
)
def test_tests_preset_accepts_clean_runs(output: str) -> None:
    """Clean pytest, unittest and exit-code outputs pass the tests preset."""
    result = _tests_preset().evaluate(output)
    assert (result.score, result.passed) == (1.0, True)


def test_failed_count_is_counter_evidence_even_with_passes() -> None:
    """'pytest: 3 failed, 12 passed' does not pass and scores 0.3."""
    result = _tests_preset().evaluate("pytest: 3 failed, 12 passed")
    assert result.passed is False
    assert result.score == pytest.approx(0.3)
    assert result.deficiencies == ("the output reports failed tests or errors: '3 failed'",)


def test_each_piece_of_counter_evidence_multiplies_the_score_down() -> None:
    """A traceback plus an error count plus FAILED gives 0.3 cubed."""
    output = "FAILED tests/a.py::t\nTraceback (most recent call last):\n1 error, 4 passed"
    result = _tests_preset().evaluate(output)
    assert result.score == pytest.approx(0.3**3)
    assert dict(result.details) == {"counter_hits": 3}


def test_no_proof_scores_zero() -> None:
    """An output with no proof at all scores 0.0."""
    result = _tests_preset().evaluate("I ran the tests and they look fine to me.")
    assert (result.score, result.passed) == (0.0, False)
    assert result.deficiencies[0].startswith("no proof found")


def test_nonzero_exit_code_is_counter_evidence() -> None:
    """'exit code 2' counts against the run."""
    assert _tests_preset().evaluate("5 passed\nexit code 2").passed is False


def test_require_all_scores_the_share_of_proof_found() -> None:
    """With require=all, one of two proofs found gives 0.5 and names the missing one."""
    ev = build_evaluator({"type": "evidence", "proof": ["built", "deployed"], "require": "all"})
    result = ev.evaluate("built ok")
    assert result.score == 0.5
    assert result.deficiencies == ("missing proof 'deployed'",)


def test_counter_only_spec_passes_without_counter_evidence() -> None:
    """A spec with only counter patterns passes when none match."""
    ev = build_evaluator({"type": "evidence", "counter": ["panic:"]})
    assert ev.evaluate("all good").passed is True
    assert ev.evaluate("panic: oh no").score == pytest.approx(0.3)


def test_user_patterns_extend_a_preset() -> None:
    """Counter patterns given with a preset are added to it."""
    ev = build_evaluator({"type": "evidence", "preset": "tests", "counter": ["xfail"]})
    assert ev.evaluate("10 passed, 1 xfail").passed is False


def test_lint_preset() -> None:
    """ruff's clean output passes the lint preset; a finding line does not."""
    ev = build_evaluator({"type": "evidence", "preset": "lint"})
    assert ev.evaluate("All checks passed!").passed is True
    result = ev.evaluate("x.py:1:8: F401 `os` imported but unused\nFound 1 error.")
    assert result.passed is False


def test_timed_out_counter_pattern_counts_against() -> None:
    """A counter pattern that times out cannot be ruled out."""
    ev = build_evaluator({"type": "evidence", "counter": ["(a+)+$"]})
    result = ev.evaluate("a" * 50_000 + "!")
    assert result.passed is False
    assert result.deficiencies == ("pattern '(a+)+$' timed out after 0.5 s",)
