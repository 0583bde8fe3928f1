"""Compacted tool schemas: smaller, and they accept and refuse what the full ones do."""

from __future__ import annotations

from enum import Enum
from typing import Any, Literal

import jsonschema
import pytest
from pydantic import BaseModel, Field

from server.schemas import NextTaskOut, PlanOut, TaskIn
from server.schemas.compact import compact_schema, shallow_output

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


def test_shallow_output_keeps_field_names_and_enums_only() -> None:
    """Output schemas keep every field's name and the values of enum fields, nothing else."""
    out = shallow_output(NextTaskOut.model_json_schema())
    assert out == {
        "type": "object",
        "properties": {
            "kind": {"enum": ["task", "complete", "blocked", "needs_replan"]},
            "task": {},
            "confidence": {},
            "needs_replan": {},
            "reason": {},
        },
    }


def test_shallow_output_accepts_a_real_result() -> None:
    """A real plan result validates against the published (looser) output schema."""
    result = PlanOut(
        plan_id="pl_1", goal="g", status="active", confidence=1.0, threshold=0.72,
        needs_replan=False, counts={"pending": 1}, ready=["a"], complete=False,
    ).model_dump(mode="json")  # fmt: skip
    jsonschema.validate(result, shallow_output(PlanOut.model_json_schema()) or {})


class _Colour(Enum):
    RED = "red"
    BLUE = "blue"


class _Part(BaseModel):
    name: str = Field(min_length=1)
    size: float = Field(default=0.5, ge=0.0, le=1.0)


class _Node(BaseModel):
    label: str
    children: list[_Node] = []


class _Order(BaseModel):
    main: _Part
    tree: _Node | None = None
    colour: _Colour | None = None
    mode: Literal["fast", "safe"] | None = None


ORDER_SCHEMA = _Order.model_json_schema()
ORDERS: list[tuple[dict[str, Any], bool]] = [
    ({"main": {"name": "a"}}, True),
    ({"main": {"name": "a", "size": 1}, "colour": None, "mode": None}, True),
    ({"main": {"name": "a"}, "colour": "red", "mode": "safe"}, True),
    ({"main": {"name": "a"}, "tree": {"label": "r", "children": [{"label": "c"}]}}, True),
    ({"main": {"name": ""}}, False),
    ({"main": {"name": "a", "size": 1.5}}, False),
    ({"main": {"name": "a"}, "colour": "green"}, False),
    ({"main": {"name": "a"}, "mode": "slow"}, False),
    ({"main": {"name": "a"}, "tree": {"label": "r", "children": [{}]}}, False),
]


@pytest.mark.parametrize(("instance", "valid"), ORDERS)
def test_inlined_defs_and_nullable_enums_validate_like_the_full_schema(
    instance: dict[str, Any], valid: bool
) -> None:
    """Inlining one-use $defs and folding nullable enums accept and refuse what pydantic's do."""
    full = jsonschema.Draft202012Validator(ORDER_SCHEMA).is_valid(instance)
    small = jsonschema.Draft202012Validator(compact_schema(ORDER_SCHEMA)).is_valid(instance)
    assert (full, small) == (valid, valid)


def test_defs_used_once_are_inlined_and_recursive_ones_kept() -> None:
    """_Part and _Colour are written in place; _Node refers to itself, so it stays a $ref."""
    small = compact_schema(ORDER_SCHEMA)
    assert small["properties"]["main"]["properties"]["name"] == {"minLength": 1, "type": "string"}
    assert small["properties"]["colour"] == {"enum": ["red", "blue", None]}
    assert small["properties"]["tree"] == {"anyOf": [{"$ref": "#/$defs/_Node"}, {"type": "null"}]}
    assert set(small["$defs"]) == {"_Node"}


def test_whole_number_bounds_lose_their_fraction() -> None:
    """minimum 0.0 and maximum 1.0 are published as 0 and 1; a default keeps its value."""
    size = compact_schema(_Part.model_json_schema())["properties"]["size"]
    assert size == {"default": 0.5, "minimum": 0, "maximum": 1, "type": "number"}
    assert isinstance(size["minimum"], int) and isinstance(size["maximum"], int)


def test_a_type_beside_a_string_enum_goes() -> None:
    """An enum of strings (nullable or not) needs no type: it admits exactly the same values."""
    nullable = {"anyOf": [{"enum": ["a", "b"], "type": "string"}, {"type": "null"}]}
    assert compact_schema({"enum": ["a", "b"], "type": "string"}) == {"enum": ["a", "b"]}
    assert compact_schema(nullable) == {"enum": ["a", "b", None]}
    assert compact_schema({"enum": [1, 2], "type": "integer"}) == {
        "enum": [1, 2],
        "type": "integer",
    }
