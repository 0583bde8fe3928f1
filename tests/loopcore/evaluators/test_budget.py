"""One time budget per evaluation: across patterns, composite parts and schema keywords."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from loopcore.evaluators import AttemptExpired, FactoryOptions, attempt, build_evaluator
from loopcore.evaluators._budget import Budgeted

# Each search of this pattern on SLOW_TEXT runs into the regex time limit.
CATASTROPHIC = "(a|aa)+$"
SLOW_TEXT = "a" * 5_000 + "!"
TIGHT = FactoryOptions(regex_timeout_s=0.5, evaluation_budget_s=1.0)


def _timed_out(deficiencies: tuple[str, ...]) -> bool:
    return any("time budget of 1 s ran out" in d for d in deficiencies)


def test_many_patterns_share_one_budget() -> None:
    """100 patterns that each time out stop at the budget with one "timed out" deficiency."""
    spec = {"type": "regex", "required": [CATASTROPHIC] * 100}
    result = build_evaluator(spec, TIGHT).evaluate(SLOW_TEXT)
    assert (result.score, result.passed) == (0.0, False)
    assert _timed_out(result.deficiencies)
    assert result.details == {"timed_out": True}


def test_composite_parts_share_one_budget() -> None:
    """A composite of slow regex, evidence and completeness parts stops at one budget."""
    parts: list[dict[str, Any]] = [
        {"spec": {"type": "regex", "forbidden": [CATASTROPHIC] * 40}},
        {"spec": {"type": "evidence", "proof": [CATASTROPHIC] * 40}},
        {
            "spec": {
                "type": "completeness",
                "aspects": [{"name": "a", "patterns": [CATASTROPHIC]}] * 20,
            }
        },
    ]
    result = build_evaluator({"type": "composite", "parts": parts}, TIGHT).evaluate(SLOW_TEXT)
    assert (result.score, result.passed) == (0.0, False)
    assert _timed_out(result.deficiencies)


def test_one_slow_pattern_within_the_budget_keeps_its_own_message() -> None:
    """Under the budget, a pattern's own time limit is reported as before."""
    spec = {"type": "regex", "required": [CATASTROPHIC, "a"]}
    options = FactoryOptions(regex_timeout_s=0.2, evaluation_budget_s=30.0)
    result = build_evaluator(spec, options).evaluate(SLOW_TEXT)
    assert result.score == 0.5
    assert result.deficiencies == ("pattern '(a|aa)+$' timed out after 0.2 s",)


def test_schema_patterns_share_the_budget() -> None:
    """ "pattern" applied to many strings of an array stops at the budget."""
    schema = {"type": "array", "items": {"type": "string", "pattern": CATASTROPHIC}}
    evaluator = build_evaluator({"type": "json_schema", "schema": schema}, TIGHT)
    result = evaluator.evaluate(json.dumps([SLOW_TEXT] * 100))
    assert (result.score, result.passed) == (0.0, False)
    assert _timed_out(result.deficiencies)


def test_schema_keywords_run_under_the_budget() -> None:
    """Every keyword checks the budget: a budget far too small for the instance times out."""
    schema = {"type": "array", "items": {"type": "object", "required": ["a"]}}
    options = FactoryOptions(evaluation_budget_s=1e-6)
    evaluator = build_evaluator({"type": "json_schema", "schema": schema}, options)
    result = evaluator.evaluate(json.dumps([{"a": i} for i in range(50_000)]))
    assert result.deficiencies[0].startswith("the evaluation timed out")


def test_unique_items_over_thousands_of_objects_names_the_duplicates() -> None:
    """uniqueItems over 4,000 objects finds the one duplicate (linear, not pairwise)."""
    items: list[dict[str, Any]] = [{"id": i, "tags": [i, str(i)]} for i in range(4_000)]
    items.append({"tags": [0, "0"], "id": 0.0})  # equal to items[0]: key order, 0 == 0.0
    schema = {"type": "array", "uniqueItems": True}
    evaluator = build_evaluator({"type": "json_schema", "schema": schema}, TIGHT)
    assert evaluator.evaluate(json.dumps(items[:-1])).passed is True
    result = evaluator.evaluate(json.dumps(items))
    assert result.deficiencies == ("$: items 0 and 4000 are equal; items must be unique",)


def test_unique_items_keeps_json_equality() -> None:
    """true is not 1, [1, 2] is not [2, 1], 1 is 1.0."""
    schema = {"uniqueItems": True}
    evaluator = build_evaluator({"type": "json_schema", "schema": schema})
    assert evaluator.evaluate('[true, 1, [1, 2], [2, 1], {}, null, "1"]').passed is True
    assert evaluator.evaluate("[1, 1.0]").passed is False
    assert evaluator.evaluate('[{"a": [1]}, {"a": [1.0]}]').passed is False


@pytest.mark.slow
def test_a_commands_run_time_does_not_use_the_budget(tmp_path: Path) -> None:
    """A 2 s command in a composite leaves the 1 s budget whole for the part after it."""
    sleeper = [sys.executable, "-c", "import time; time.sleep(2)"]
    parts = [
        {"spec": {"type": "command", "run": sleeper}},
        {"spec": {"type": "regex", "required": ["done"]}},
    ]
    options = FactoryOptions(
        evaluation_budget_s=1.0,
        allow_commands=frozenset({sys.executable}),
        project_root=tmp_path,
        environ={},
    )
    result = build_evaluator({"type": "composite", "parts": parts}, options).evaluate("done")
    assert result.sub_scores == {"0:command": 1.0, "1:regex": 1.0}
    assert result.passed is True


def test_budgeted_keeps_the_inner_name() -> None:
    """The wrapper answers with the spec type of what it wraps."""
    evaluator = build_evaluator({"type": "length", "max_words": 3})
    assert isinstance(evaluator, Budgeted)
    assert evaluator.name == "length"


def test_an_attempt_answers_what_the_budget_answers() -> None:
    """A cheap evaluation tried under attempt() gives the same answer as under its budget."""
    spec = {
        "type": "composite",
        "parts": [
            {"spec": {"type": "regex", "required": [r"\d+ passed"], "forbidden": ["Traceback"]}},
            {"spec": {"type": "length", "min_words": 2}},
        ],
    }
    evaluator = build_evaluator(spec, TIGHT)
    with attempt(60.0):
        tried = evaluator.evaluate("12 passed, 1 failed")
    assert tried == evaluator.evaluate("12 passed, 1 failed")
    assert (tried.score, tried.passed) == (1.0, True)


def test_an_attempt_that_runs_out_gives_no_answer() -> None:
    """Past an attempt's deadline the evaluation raises AttemptExpired, not "timed out"."""
    evaluator = build_evaluator({"type": "regex", "required": [CATASTROPHIC] * 3}, TIGHT)
    with pytest.raises(AttemptExpired), attempt(0.01):
        evaluator.evaluate(SLOW_TEXT)
    answered = evaluator.evaluate(SLOW_TEXT)  # under its own budget it answers
    assert (answered.passed, answered.details) == (False, {"timed_out": True})


_OUT_OF_MEMORY = """
import resource, sys
from loopcore.evaluators import build_evaluator
from loopcore.evaluators._budget import EvaluationError
from loopcore.evaluators._patterns import clear_compiled

evaluator = build_evaluator({"type": "regex", "required": ["(?:[a-z]{1000}){45}"]})
clear_compiled()  # the next search compiles the pattern again (about 8 MiB)
def used():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[0]) * resource.getpagesize()
resource.setrlimit(resource.RLIMIT_AS, (used() + 2 * 2**20, resource.RLIM_INFINITY))
try:
    evaluator.evaluate("x")
except EvaluationError as exc:
    print("EvaluationError:", exc)
    sys.exit(0)
print("no error")
sys.exit(3)
"""


@pytest.mark.slow
def test_running_out_of_memory_is_a_clear_error() -> None:
    """A real MemoryError in an evaluation (under an address-space limit) is an EvaluationError."""
    root = Path(__file__).resolve().parents[3]
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(_OUT_OF_MEMORY)],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "EvaluationError: the evaluation ran out of memory" in done.stdout
