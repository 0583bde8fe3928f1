"""The json_schema evaluator: Draft 2020-12 applied to the JSON found in an output."""

from __future__ import annotations

import json
from typing import Any

import pytest

from loopcore.errors import InvalidInput
from loopcore.evaluators import build_evaluator
from loopcore.evaluators.base import Evaluation


def _check(schema: dict[str, Any] | bool, instance: Any) -> Evaluation:
    return build_evaluator({"type": "json_schema", "schema": schema}).evaluate(json.dumps(instance))


def test_valid_bare_json_passes() -> None:
    """A whole-output JSON document that matches scores 1.0."""
    result = _check({"type": "object", "required": ["a"]}, {"a": 1})
    assert (result.score, result.passed, result.deficiencies) == (1.0, True, ())


def test_first_json_fenced_block_is_used() -> None:
    """Prose around a ```json block is ignored; the block is validated."""
    ev = build_evaluator({"type": "json_schema", "schema": {"type": "array"}})
    output = 'Here you go:\n```json\n[1, 2]\n```\nand later\n```json\n{"x": 1}\n```'
    assert ev.evaluate(output).passed is True


def test_bare_fence_is_used_and_other_languages_skipped() -> None:
    """A ```python block is skipped; the first untagged block counts."""
    ev = build_evaluator({"type": "json_schema", "schema": {"type": "object"}})
    output = '```python\nprint(1)\n```\n\n```\n{"ok": true}\n```'
    assert ev.evaluate(output).passed is True


def test_no_json_scores_zero_with_a_deficiency() -> None:
    """Plain prose has no JSON: 0.0 and a message saying so."""
    ev = build_evaluator({"type": "json_schema", "schema": {"type": "object"}})
    result = ev.evaluate("I could not produce it.")
    assert result.score == 0.0
    assert result.deficiencies == (
        "no JSON found: the output is not JSON and has no ```json fenced block",
    )


def test_broken_json_in_fence_names_the_parse_error() -> None:
    """A fenced block that does not parse is reported with the parser's message."""
    ev = build_evaluator({"type": "json_schema", "schema": {"type": "object"}})
    result = ev.evaluate('```json\n{"a": }\n```')
    assert result.score == 0.0
    assert result.deficiencies[0].startswith("the first JSON fenced block is not valid JSON:")


def test_deficiencies_name_the_failing_path() -> None:
    """A wrongly typed nested value is reported at its JSON path."""
    schema = {
        "type": "object",
        "properties": {
            "items": {
                "type": "array",
                "items": {"type": "object", "properties": {"name": {"type": "integer"}}},
            }
        },
    }
    result = _check(schema, {"items": [{}, {}, {"name": "x"}]})
    assert result.deficiencies == ("$.items[2].name: 'x' is not of type 'integer'",)
    assert result.score == 0.5


def test_score_decreases_with_the_number_of_errors() -> None:
    """Three errors score 1/(1+3)."""
    schema = {"type": "object", "properties": {k: {"type": "string"} for k in "abc"}}
    result = _check(schema, {"a": 1, "b": 2, "c": 3})
    assert result.score == 0.25
    assert dict(result.details) == {"errors": 3}


def test_ref_and_defs_are_resolved() -> None:
    """$ref into $defs validates the referenced shape."""
    schema = {
        "$defs": {"point": {"type": "object", "required": ["x", "y"]}},
        "type": "array",
        "items": {"$ref": "#/$defs/point"},
    }
    assert _check(schema, [{"x": 1, "y": 2}]).passed is True
    assert _check(schema, [{"x": 1}]).deficiencies == ("$[0]: 'y' is a required property",)


def test_unevaluated_properties_rejects_extras_across_allof() -> None:
    """unevaluatedProperties sees properties evaluated by allOf subschemas."""
    schema = {
        "allOf": [{"properties": {"a": {"type": "integer"}}}],
        "properties": {"b": {"type": "integer"}},
        "unevaluatedProperties": False,
    }
    assert _check(schema, {"a": 1, "b": 2}).passed is True
    assert _check(schema, {"a": 1, "c": 3}).passed is False


def test_if_then_else_applies_the_right_branch() -> None:
    """if/then/else picks the branch by the condition."""
    schema = {
        "if": {"properties": {"kind": {"const": "num"}}},
        "then": {"properties": {"value": {"type": "number"}}},
        "else": {"properties": {"value": {"type": "string"}}},
    }
    assert _check(schema, {"kind": "num", "value": 3}).passed is True
    assert _check(schema, {"kind": "text", "value": 3}).passed is False


def test_prefix_items_validate_by_position() -> None:
    """prefixItems checks each position; items: false forbids more."""
    schema = {"prefixItems": [{"type": "string"}, {"type": "integer"}], "items": False}
    assert _check(schema, ["a", 1]).passed is True
    assert _check(schema, [1, "a"]).passed is False
    assert _check(schema, ["a", 1, 2]).passed is False


def test_dependent_required() -> None:
    """dependentRequired: a present key requires its dependants."""
    schema = {"dependentRequired": {"card": ["cvv"]}}
    assert _check(schema, {"card": "1"}).deficiencies == ("$: 'cvv' is a dependency of 'card'",)
    assert _check(schema, {"card": "1", "cvv": "2"}).passed is True


def test_const_and_enum() -> None:
    """const and enum accept exactly their values."""
    schema = {"properties": {"v": {"const": 2}, "c": {"enum": ["red", "blue"]}}}
    assert _check(schema, {"v": 2, "c": "red"}).passed is True
    assert _check(schema, {"v": 3, "c": "green"}).score == pytest.approx(1 / 3)


def test_formats_are_annotations_only() -> None:
    """format: email does not reject a non-email string (no format checker)."""
    assert _check({"type": "string", "format": "email"}, "not an email").passed is True


def test_boolean_schema_false_rejects_everything() -> None:
    """The schema false rejects any JSON value."""
    assert _check(False, {"a": 1}).passed is False


def test_catastrophic_schema_pattern_times_out() -> None:
    """A schema pattern that backtracks exponentially is a timed-out deficiency."""
    result = _check({"type": "string", "pattern": "^(a+)+$"}, "a" * 50_000 + "!")
    assert result.passed is False
    assert result.deficiencies == ("$: pattern '^(a+)+$' timed out after 0.5 s",)


def test_catastrophic_pattern_property_is_screened_before_validation() -> None:
    """A patternProperties key that backtracks on a long key is caught before jsonschema runs."""
    schema = {
        "patternProperties": {"^(a|aa)+$": {"type": "integer"}},
        "additionalProperties": False,
    }
    result = _check(schema, {"a" * 5_000 + "!": 1})
    assert result.score == 0.0
    assert result.deficiencies == ("pattern '^(a|aa)+$' timed out after 0.5 s",)


def test_dangling_local_ref_is_a_deficiency() -> None:
    """A local $ref to a part the schema lacks is reported at evaluation, not raised."""
    result = _check({"$ref": "#/$defs/missing"}, 1)
    assert result.score == 0.0
    assert result.deficiencies[0].startswith("schema reference cannot be resolved")


def test_deeply_nested_json_is_handled() -> None:
    """JSON nested past the parser's recursion limit is a deficiency, not a crash."""
    ev = build_evaluator({"type": "json_schema", "schema": {"type": "array"}})
    result = ev.evaluate("[" * 100_000 + "]" * 100_000)
    assert result.score == 0.0
    assert result.passed is False


def test_invalid_schema_is_rejected_at_build_time() -> None:
    """A schema that is not Draft 2020-12 is an InvalidInput naming its path."""
    with pytest.raises(InvalidInput) as caught:
        build_evaluator({"type": "json_schema", "schema": {"properties": {"a": {"type": "strin"}}}})
    assert caught.value.field == "schema"
    assert "schema.properties.a.type" in str(caught.value)
