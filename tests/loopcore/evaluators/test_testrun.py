"""Parsing test-run output and scoring it against a baseline, by test identity."""

from __future__ import annotations

from typing import Any

import pytest

from loopcore.evaluators.base import Evaluation
from loopcore.evaluators.testrun import parse_pytest, score_run

RUN_2_FAIL = """\
..FF.                                                                    [100%]
=========================== short test summary info ============================
FAILED tests/test_io.py::test_read - AssertionError: assert 1 == 2
FAILED tests/test_io.py::test_write[a b] - ValueError: bad
2 failed, 3 passed, 1 skipped in 0.21s
"""


def _prior(failing: list[str], passed: int = 3, failed: int | None = None) -> Evaluation:
    details: dict[str, Any] = {
        "failing": failing,
        "passed": passed,
        "failed": len(failing) if failed is None else failed,
        "errors": 0,
    }
    return Evaluation.of(0.0, False, details=details)


def _run(failing: list[str], passed: int) -> str:
    lines = [f"FAILED {name} - AssertionError" for name in failing]
    counts = ", ".join(
        part for part in (f"{len(failing)} failed" if failing else "", f"{passed} passed") if part
    )
    return "\n".join([*lines, f"{counts} in 0.10s"])


def test_summary_counts_and_failing_ids_are_parsed() -> None:
    """Counts come from the summary line; ids and reasons from FAILED lines."""
    report = parse_pytest(RUN_2_FAIL)
    assert (report.summary, report.passed, report.failed, report.errors, report.skipped) == (
        True,
        3,
        2,
        0,
        1,
    )
    assert report.failing == ("tests/test_io.py::test_read", "tests/test_io.py::test_write[a b]")
    assert report.reasons["tests/test_io.py::test_read"] == "AssertionError: assert 1 == 2"


def test_verbose_progress_lines_give_failing_ids() -> None:
    """'-v' lines 'path::test FAILED' are read too."""
    report = parse_pytest(
        "tests/t.py::test_a FAILED  [ 50%]\ntests/t.py::test_b PASSED\n1 failed, 1 passed in 0.1s"
    )
    assert report.failing == ("tests/t.py::test_a",)


def test_collection_error_is_a_file_level_error() -> None:
    """'ERROR tests/x.py' (no ::) marks the run's test set as unknown."""
    report = parse_pytest("ERROR tests/test_x.py - SyntaxError\n1 error in 0.05s")
    assert (report.errors, report.failing, report.collection_errors) == (
        1,
        ("tests/test_x.py",),
        True,
    )


def test_unittest_failed_line_is_not_taken_as_a_test_id() -> None:
    """unittest's 'FAILED (failures=1)' is not a test name."""
    assert parse_pytest("Ran 2 tests\nFAILED (failures=1)").failing == ()


def test_no_baseline_exit_zero_scores_one() -> None:
    """Without a baseline, exit code 0 scores 1.0 and passes."""
    scored = score_run(0, parse_pytest("5 passed in 0.1s"))
    assert (scored.score, scored.passed, scored.details["failing"]) == (1.0, True, [])


def test_no_baseline_failures_score_the_pass_share() -> None:
    """Without a baseline, 2 failed and 3 passed score 3/5."""
    scored = score_run(1, parse_pytest(RUN_2_FAIL))
    assert scored.score == pytest.approx(0.6)
    assert scored.passed is False


def test_other_runner_falls_back_to_the_exit_code() -> None:
    """No pytest summary and a non-zero exit score 0.0; exit 0 scores 1.0."""
    assert score_run(3, parse_pytest("make: *** [test] Error 3")).score == 0.0
    assert score_run(0, parse_pytest("all fine")).score == 1.0


def test_fixing_half_of_the_baseline_scores_one_half() -> None:
    """Baseline {a, b} failing; now only b fails: (1 - 0) / 2."""
    baseline = _prior(["t::a", "t::b"])
    scored = score_run(1, parse_pytest(_run(["t::b"], 4)), baseline=baseline)
    assert scored.score == 0.5
    assert scored.details["regression"] is False


def test_new_failure_after_a_fix_is_a_regression_even_when_totals_hold() -> None:
    """Baseline {a}; now {b}: fixed 1, broke 1, score 0 and regression flagged."""
    baseline = _prior(["t::a"])
    scored = score_run(1, parse_pytest(_run(["t::b"], 3)), baseline=baseline, previous=baseline)
    assert scored.score == 0.0
    assert scored.details["regression"] is True
    assert scored.details["newly_failing"] == ["t::b"]
    assert "regression: newly failing: t::b" in scored.deficiencies


def test_refailing_a_test_fixed_at_the_previous_step_is_a_regression() -> None:
    """A baseline failure fixed at the previous step and failing again is newly failing."""
    baseline = _prior(["t::a", "t::b"])
    previous = _prior(["t::b"], passed=4)
    scored = score_run(
        1, parse_pytest(_run(["t::a", "t::b"], 3)), baseline=baseline, previous=previous
    )
    assert scored.details["newly_failing"] == ["t::a"]
    assert scored.score == 0.0


def test_all_baseline_failures_fixed_scores_one() -> None:
    """Every baseline failure fixed and nothing broken scores 1.0 and passes."""
    scored = score_run(0, parse_pytest("5 passed in 0.2s"), baseline=_prior(["t::a", "t::b"]))
    assert (scored.score, scored.passed) == (1.0, True)


def test_deleting_failing_tests_is_not_fixing_them() -> None:
    """Baseline 3 passed + 2 failed; now 3 passed and nothing else: fixed 2 - missing 2 = 0."""
    scored = score_run(0, parse_pytest("3 passed in 0.1s"), baseline=_prior(["t::a", "t::b"]))
    assert scored.score == 0.0
    assert scored.deficiencies[0].startswith("2 fewer tests ran than in the baseline")


def test_collection_error_cannot_count_as_fixes() -> None:
    """A syntax error that hides the baseline failures scores by the plain formula (0.0)."""
    output = "ERROR tests/test_x.py - SyntaxError\n1 error in 0.05s"
    scored = score_run(2, parse_pytest(output), baseline=_prior(["tests/test_x.py::test_a"]))
    assert scored.score == 0.0
    assert any("cannot be compared with the baseline" in d for d in scored.deficiencies)


def test_failures_listed_in_deficiencies_with_reasons() -> None:
    """Each failing test is a deficiency with pytest's reason."""
    scored = score_run(1, parse_pytest(RUN_2_FAIL))
    assert scored.deficiencies[:2] == (
        "failing: tests/test_io.py::test_read - AssertionError: assert 1 == 2",
        "failing: tests/test_io.py::test_write[a b] - ValueError: bad",
    )
