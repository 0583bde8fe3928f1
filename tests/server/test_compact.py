"""Compacted tool schemas: smaller, and they accept and refuse what the full ones do."""

from __future__ import annotations

from typing import Any

import jsonschema
import pytest

from server.compact import compact_schema, shallow_output
from server.schemas import PlanOut, TaskIn

TASK_SCHEMA = TaskIn.model_json_schema()
SAMPLES: list[tuple[dict[str, Any], bool]] = [
    ({"id": "a", "title": "A"}, True),
    ({"id": "a", "title": "A", "acceptance": None, "depends_on": ["b"]}, True),
    ({"id": "a b", "title": "A"}, False),
    ({"id": "a", "title": ""}, False),
    ({"id": "a"}, False),
    ({"id": "a", "title": "A", "acceptance": 3}, False),
]


def test_titles_and_empty_defaults_are_dropped() -> None:
    """No title keyword and no null default survive; a property named title does."""
    schema = {
        "title": "M",
        "properties": {
            "title": {"title": "Title", "type": "string"},
            "x": {"anyOf": [{"type": "integer"}, {"type": "null"}], "default": None},
        },
    }
    assert compact_schema(schema) == {
        "properties": {"title": {"type": "string"}, "x": {"type": ["integer", "null"]}}
    }


@pytest.mark.parametrize(("instance", "valid"), SAMPLES)
def test_compact_schema_validates_like_the_full_one(instance: dict[str, Any], valid: bool) -> None:
    """The compacted schema accepts and refuses the same task inputs as pydantic's."""
    full = jsonschema.Draft202012Validator(TASK_SCHEMA).is_valid(instance)
    small = jsonschema.Draft202012Validator(compact_schema(TASK_SCHEMA)).is_valid(instance)
    assert (full, small) == (valid, valid)


def test_shallow_output_keeps_field_types_only() -> None:
    """Output schemas keep each field's JSON type and drop nested detail."""
    out = shallow_output(PlanOut.model_json_schema())
    assert out is not None
    props = out["properties"]
    assert props["tasks"] == {"type": "array"}
    assert props["replan_reason"] == {"type": ["string", "null"]}
    assert props["confidence"] == {"type": "number"}


def test_shallow_output_accepts_a_real_result() -> None:
    """A real plan result validates against the published (looser) output schema."""
    result = PlanOut(
        plan_id="pl_1", goal="g", status="active", confidence=1.0, threshold=0.72,
        needs_replan=False, counts={"pending": 1}, ready=["a"], complete=False,
    ).model_dump(mode="json")  # fmt: skip
    jsonschema.validate(result, shallow_output(PlanOut.model_json_schema()) or {})
