"""The compile-cost guard reads patterns as the engine does; compiled patterns are bounded."""

from __future__ import annotations

import pytest

from loopcore.errors import InvalidInput
from loopcore.evaluators import build_evaluator, validate_spec
from loopcore.evaluators._patterns import (
    _COMPILED,
    MAX_CACHED_STEPS,
    clear_compiled,
    compiled,
    repeat_problem,
)

# Each costs about 49,000 steps (some 8 MiB compiled); the guard allows up to 50,000.
BIG = "(?:[a-z]{1000}){49}"


@pytest.mark.parametrize(
    "pattern",
    [
        "(?x)(?:(?:a{1000}) {1000}) {2}",  # the reproduction: verbose whitespace before {n}
        "(?x)(?:a{1000}) # a comment ( with a parenthesis\n {1000}",
        "x(?x) (?:a{1000}) {1000}",  # a global flag met mid-pattern applies to all of it
        "(?x: (?:a{1000}) {1000} )",  # a scoped verbose group
        "(?#note)(?:a{1000}){1000}",
    ],
)
def test_verbose_and_commented_repeats_are_refused(pattern: str) -> None:
    """Whitespace and comments the engine skips do not hide a repeat of a repeat."""
    with pytest.raises(InvalidInput) as caught:
        validate_spec({"type": "regex", "required": [pattern]})
    assert "too costly to compile" in str(caught.value)
    assert caught.value.field == "required.0.pattern"


def test_verbose_repeat_in_a_schema_pattern_is_refused() -> None:
    """The same guard reads a JSON Schema's patterns."""
    schema = {"properties": {"a": {"pattern": "(?x)(?:(?:a{1000}) {1000}) {2}"}}}
    with pytest.raises(InvalidInput) as caught:
        validate_spec({"type": "json_schema", "schema": schema})
    assert "too costly to compile" in str(caught.value)


@pytest.mark.parametrize(
    "pattern",
    [
        "(?x) \\d{3} - \\d{4}  # a phone number",
        "(?x: (?:a{100}) {100} ) {10}",  # the trailing {10} repeats a literal space: cheap
        "(a+)+$",
        BIG,
    ],
)
def test_patterns_within_the_limit_pass(pattern: str) -> None:
    """Ordinary verbose patterns, and big ones under the limit, are accepted."""
    assert repeat_problem(pattern) is None


def test_compiled_patterns_stay_within_the_memory_bound() -> None:
    """Twenty big patterns in use keep at most MAX_CACHED_STEPS compiled; all still work."""
    clear_compiled()
    patterns = [f"{BIG}{i}" for i in range(20)]
    evaluator = build_evaluator({"type": "regex", "forbidden": patterns})
    assert evaluator.evaluate("short text").passed is True
    assert _COMPILED.weight <= MAX_CACHED_STEPS
    assert 0 < len(_COMPILED) < 20
    assert compiled(patterns[0]).search("a" * 49_000 + "0") is not None
