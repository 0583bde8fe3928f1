"""The evaluator factory: parsing, validation errors, limits and the registry."""

from __future__ import annotations

import json
from typing import Any, Literal

import pytest
from pydantic import BaseModel, ConfigDict

from loopcore.errors import Conflict, InvalidInput
from loopcore.evaluators import (
    build_evaluator,
    evaluator_types,
    in_memory,
    register_evaluator,
    validate_spec,
)
from loopcore.evaluators.base import EvalContext, Evaluation, Evaluator
from loopcore.evaluators.factory import FactoryOptions


def _error(spec: Any) -> InvalidInput:
    with pytest.raises(InvalidInput) as caught:
        build_evaluator(spec)
    return caught.value


def test_builtin_types_are_listed_sorted() -> None:
    """evaluator_types names every built-in type, sorted."""
    types = evaluator_types()
    assert types == sorted(types)
    assert {
        "command",
        "completeness",
        "composite",
        "evidence",
        "json_schema",
        "length",
        "regex",
    } <= set(types)


def test_json_text_builds_like_a_mapping() -> None:
    """A spec given as JSON text builds the same evaluator."""
    ev = build_evaluator('{"type": "regex", "required": ["ok"]}')
    assert ev.name == "regex"
    assert ev.evaluate("ok").passed is True


def test_unknown_type_lists_the_known_types() -> None:
    """An unknown type names the field 'type' and every known type."""
    err = _error({"type": "vibes"})
    assert err.field == "type"
    assert str(err) == (
        "type: unknown evaluator type 'vibes'; known types: " + ", ".join(evaluator_types())
    )


def test_missing_type_is_an_unknown_type() -> None:
    """A spec without a type is rejected at 'type'."""
    assert _error({"required": ["x"]}).field == "type"


def test_invalid_pattern_names_its_index() -> None:
    """A pattern that does not compile names required.N.pattern."""
    err = _error({"type": "regex", "required": ["ok", "(unclosed"]})
    assert err.field == "required.1.pattern"
    assert "invalid regular expression '(unclosed'" in str(err)


def test_negative_bound_names_the_field() -> None:
    """A negative bound is rejected with what is allowed."""
    err = _error({"type": "length", "min_chars": -1})
    assert err.field == "min_chars"
    assert "greater than or equal to 0" in str(err)


def test_inverted_bound_names_the_maximum() -> None:
    """min_words above max_words names max_words."""
    err = _error({"type": "length", "min_words": 10, "max_words": 5})
    assert (err.field, str(err)) == ("max_words", "max_words: must be >= min_words (10), got 5")


def test_length_without_bounds_is_rejected() -> None:
    """A length spec needs at least one bound."""
    assert "needs at least one of min_words" in str(_error({"type": "length"}))


def test_nested_error_carries_the_full_dotted_path() -> None:
    """An error inside a composite part is reported at parts.N.spec.<field>."""
    spec = {
        "type": "composite",
        "parts": [
            {"spec": {"type": "regex", "required": ["x"]}},
            {"spec": {"type": "length", "max_words": -2}},
        ],
    }
    assert _error(spec).field == "parts.1.spec.max_words"


def test_unknown_field_lists_the_allowed_ones() -> None:
    """Extra fields are forbidden and the message lists the allowed fields."""
    err = _error({"type": "length", "max_word": 3})
    assert (err.field, str(err)) == (
        "max_word",
        "max_word: unknown field; allowed fields: max_chars, max_words, min_chars, min_words, type",
    )


def test_unknown_field_in_a_nested_object_lists_its_fields() -> None:
    """An extra field inside a pattern object lists the pattern's fields."""
    err = _error({"type": "regex", "required": [{"pattern": "a", "flag": "i"}]})
    assert err.field == "required.0.flag"
    assert str(err).endswith("allowed fields: flags, message, pattern")


def test_bad_literal_says_what_is_allowed() -> None:
    """An unknown flag name lists the allowed values."""
    err = _error({"type": "regex", "required": ["a"], "flags": ["unicode"]})
    assert err.field == "flags.0"
    assert "'ignorecase', 'multiline' or 'dotall'" in str(err)


def test_non_object_spec_is_rejected() -> None:
    """A JSON array is not a spec."""
    assert "must be a JSON object" in str(_error("[1, 2]"))


def test_invalid_json_text_is_rejected() -> None:
    """JSON text that does not parse is an InvalidInput."""
    assert str(_error("{not json")).startswith("the spec is not valid JSON")


def test_non_json_values_are_rejected() -> None:
    """A mapping holding a Python object that JSON cannot carry is rejected."""
    assert "plain JSON data" in str(_error({"type": "regex", "required": [object()]}))


def test_spec_larger_than_64_kb_is_rejected() -> None:
    """A spec past 64 KB of JSON is refused before parsing."""
    spec = {"type": "regex", "required": ["x" * 1000] * 70}
    assert "larger than 64 KB" in str(_error(spec))


def test_more_than_100_patterns_are_rejected() -> None:
    """101 patterns are refused with the limit."""
    spec = {"type": "regex", "required": ["a"] * 60, "forbidden": ["b"] * 41}
    err = _error(spec)
    assert (err.field, str(err)) == (
        "required",
        "required: at most 100 patterns here and in 'forbidden'",
    )


def test_deeply_nested_spec_is_rejected() -> None:
    """A spec nested deeper than 32 levels is refused."""
    schema: dict[str, Any] = {}
    for _ in range(40):
        schema = {"items": schema}
    assert "nested deeper than 32" in str(_error({"type": "json_schema", "schema": schema}))


def test_validate_spec_returns_the_normalised_form() -> None:
    """Bare pattern strings become pattern objects and defaults are filled in."""
    spec = validate_spec(
        {"type": "composite", "parts": [{"spec": {"type": "regex", "required": ["a"]}}]}
    )
    assert spec == {
        "type": "composite",
        "parts": [
            {
                "weight": 1.0,
                "spec": {
                    "type": "regex",
                    "required": [{"pattern": "a", "flags": [], "message": None}],
                    "forbidden": [],
                    "flags": [],
                },
            }
        ],
        "pass": "all",
        "threshold": 0.8,
    }


def test_normalised_spec_builds_again() -> None:
    """What validate_spec returns is itself a valid spec (schema alias kept)."""
    spec = validate_spec({"type": "json_schema", "schema": {"const": None}})
    assert spec["schema"] == {"const": None}
    assert build_evaluator(json.dumps(spec)).evaluate("null").passed is True


def test_validate_spec_does_not_need_the_allowlist() -> None:
    """A command spec validates without options; building it needs the allowlist."""
    assert validate_spec({"type": "command", "run": ["pytest", "-q"]})["run"] == ["pytest", "-q"]
    assert _error({"type": "command", "run": ["pytest", "-q"]}).field == "run.0"


class _EchoSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    type: Literal["echo_len_test"]
    target: int


class _EchoLen:
    def __init__(self, target: int) -> None:
        self.target = target

    @property
    def name(self) -> str:
        return "echo_len_test"

    def evaluate(self, output: str, context: EvalContext | None = None) -> Evaluation:
        return Evaluation.of(1.0 if len(output) == self.target else 0.0, len(output) == self.target)


def _build_echo(spec: _EchoSpec, options: FactoryOptions) -> Evaluator:
    return _EchoLen(spec.target)


def test_registered_type_builds_and_twice_is_a_conflict() -> None:
    """A new type builds from JSON, nests in composites, and cannot be registered twice."""
    if "echo_len_test" not in evaluator_types():
        register_evaluator("echo_len_test", _EchoSpec, _build_echo)
    assert build_evaluator({"type": "echo_len_test", "target": 3}).evaluate("abc").passed is True
    nested = {"type": "composite", "parts": [{"spec": {"type": "echo_len_test", "target": -1}}]}
    assert build_evaluator(nested).evaluate("abc").passed is False
    with pytest.raises(Conflict):
        register_evaluator("echo_len_test", _EchoSpec, _build_echo)


def test_registering_a_model_without_type_is_rejected() -> None:
    """A spec model must have a 'type' field."""

    class NoType(BaseModel):
        x: int

    with pytest.raises(InvalidInput) as caught:
        register_evaluator("no_type_test", NoType, _build_echo)
    assert caught.value.field == "spec_model"


@pytest.mark.parametrize("pattern", ["x{4294967294}", "(?:x{65535}){65535}", "(a{300}){300}"])
def test_patterns_too_costly_to_compile_are_rejected(pattern: str) -> None:
    """Huge or nested bounded repeats are refused before the regex engine compiles them."""
    err = _error({"type": "regex", "required": [pattern]})
    assert err.field == "required.0.pattern"
    assert "too costly to compile" in str(err)


def test_costly_pattern_inside_a_schema_is_rejected() -> None:
    """A schema 'pattern' with a huge repeat is refused with its location."""
    spec = {"type": "json_schema", "schema": {"properties": {"a": {"pattern": "x{99999}"}}}}
    err = _error(spec)
    assert err.field == "schema"
    assert "schema.properties.a.pattern is too costly to compile" in str(err)


_REGEX = {"type": "regex", "required": ["ok"]}


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        (_REGEX, True),
        ({"type": "composite", "parts": [{"spec": _REGEX}, {"spec": {"type": "length"}}]}, True),
        ({"type": "json_schema", "schema": {}}, True),
        ({"type": "command", "argv": ["pytest"]}, False),
        ({"type": "judge", "rubric": "good?"}, False),
        ({"type": "composite", "parts": [{"spec": _REGEX}, {"spec": {"type": "command"}}]}, False),
        ({"type": "composite", "parts": "nope"}, False),
        ('{"type": "regex"}', False),
        (None, False),
    ],
)
def test_in_memory_names_specs_that_only_compute(spec: Any, expected: bool) -> None:
    """in_memory: only built-in types that run no program and ask no model, at any depth."""
    assert in_memory(spec) is expected


def test_in_memory_refuses_nesting_deeper_than_composites_may_go() -> None:
    """A spec nested past the composite limit is not called in-memory (it is refused later)."""
    spec: dict[str, Any] = _REGEX
    for _ in range(10):
        spec = {"type": "composite", "parts": [{"spec": spec}]}
    assert in_memory(spec) is False
