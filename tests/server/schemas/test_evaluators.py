"""The evaluator catalogue (resource loopcore://evaluators): generated, complete, usable."""

from __future__ import annotations

import json
from typing import Any

import pytest
from mcp import Client

from loopcore.evaluators.factory import evaluator_types, validate_spec
from server.schemas.evaluators import EVALUATORS_URI, catalogue
from tests.server.helpers import err, ok

pytestmark = pytest.mark.anyio


def test_every_type_is_described_with_a_valid_example() -> None:
    """Each registered type has fields (with types/bounds/defaults) and an example that builds."""
    types = catalogue()["types"]
    builtin = {"regex", "json_schema", "length", "completeness", "evidence", "composite", "command"}
    # Tests may register extra types in the process-wide registry; the built-ins are all there.
    assert set(types) == builtin and builtin <= set(evaluator_types())
    for name, entry in types.items():
        assert validate_spec(entry["example"])["type"] == name
        for field, schema in entry["fields"].items():
            assert "type" in schema or "anyOf" in schema or "$ref" in schema or "items" in schema, (
                name,
                field,
            )
    assert types["length"]["fields"]["min_words"]["anyOf"][0]["minimum"] == 0
    assert types["composite"]["fields"]["threshold"]["default"] == 0.8
    assert types["json_schema"]["required"] == ["schema"]


async def test_the_resource_serves_the_catalogue(client: Client) -> None:
    """An agent reads the catalogue as JSON, and the tools that take a spec point to it."""
    read = await client.read_resource(EVALUATORS_URI)
    data: dict[str, Any] = json.loads(getattr(read.contents[0], "text", ""))
    tools = {t.name: t for t in (await client.list_tools()).tools}
    assert data == json.loads(json.dumps(catalogue()))
    for name in ("verify_output", "loop_start", "plan_create", "refine"):
        assert EVALUATORS_URI in (tools[name].description or ""), name


async def test_unknown_fields_are_refused_with_the_allowed_ones(client: Client) -> None:
    """A misspelt field names the fields the type takes."""
    text = await err(
        client, "verify_output", {"output": "x", "evaluator": {"type": "length", "min_word": 3}}
    )
    assert "min_word" in text and "min_words" in text


async def test_loop_start_on_a_task_uses_its_acceptance_spec(client: Client) -> None:
    """loop_start with plan and task ids and no evaluator or goal scores with the task's spec."""
    spec = {"type": "length", "min_words": 3}
    tasks = [{"id": "a", "title": "Write", "acceptance": spec}, {"id": "b", "title": "None"}]
    plan = await ok(client, "plan_create", {"goal": "g", "tasks": tasks})
    ids = {"plan_id": plan["plan_id"], "task_id": "a"}
    loop = await ok(client, "loop_start", ids)
    short = await ok(client, "loop_step", {"loop_id": loop["loop_id"], "output": "two words"})
    refused = await err(client, "loop_start", {**ids, "task_id": "b"})
    assert "too short" in short["feedback"]
    assert "acceptance" in refused and "evaluator" in refused
