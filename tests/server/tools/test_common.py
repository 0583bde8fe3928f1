"""The shared tool registration: text arguments arrive exactly as sent, in both eras."""

from __future__ import annotations

from typing import Any

import pytest
from mcp import Client
from mcp.server.mcpserver.utilities.func_metadata import FuncMetadata

from server.app import build_server
from server.tools._common import _KeepText, text_fields
from tests.server.helpers import make_settings, ok, text_of

pytestmark = pytest.mark.anyio

# Text a client may send that the SDK would otherwise read as JSON (or as JSON scalars).
TRICKY = ['{"a": 1}', "[1, 2]", '"q"', "null", "true", "42", "-1.5e3"]


def _says_string(kind: object) -> bool:
    return kind == "string" or (isinstance(kind, list) and "string" in kind)


def _text_props(schema: dict[str, Any]) -> list[str]:
    """The input properties published as text (string, or string-or-null)."""
    names = []
    for name, prop in schema.get("properties", {}).items():
        kinds = [prop, *prop.get("anyOf", [])]
        if any(_says_string(k.get("type")) and "enum" not in k for k in kinds):
            names.append(name)
    return names


def test_every_text_argument_of_every_tool_is_kept_as_sent(tmp_path: Any) -> None:
    """The metadata of every tool leaves each text argument as the string sent."""
    from tests.server.helpers import make_settings

    server = build_server(make_settings(tmp_path))
    tools = server._tool_manager.list_tools()
    checked = 0
    for tool in tools:
        fields = text_fields(tool.fn_metadata.arg_model)
        assert set(_text_props(tool.parameters)) <= fields, tool.name
        for field in fields:
            for value in TRICKY:
                parsed = tool.fn_metadata.pre_parse_json({field: value})
                assert parsed[field] == value, (tool.name, field, value)
                checked += 1
    assert checked >= 20 * len(TRICKY)


async def test_no_tool_reads_text_as_json(client: Client) -> None:
    """Over the protocol, every text field of every tool receives the very string sent.

    Sent alone, the field is validated with the others missing: the validation error
    quotes the arguments as the server received them, so the field must show there as
    the same Python string (never a dict, list, None, bool or number).
    """
    tools = (await client.list_tools()).tools
    assert len(tools) >= 20
    quoted = 0
    for tool in tools:
        for field in _text_props(tool.input_schema):
            for value in TRICKY:
                result = await client.call_tool(tool.name, {field: value})
                text = text_of(result)
                assert "valid string" not in text, (tool.name, field, value, text)
                if "validation error" in text and "input_value={" in text:
                    assert f"{field!r}: {value!r}" in text, (tool.name, field, value, text)
                    quoted += 1
    assert quoted >= 15 * len(TRICKY)


async def test_task_text_reads_back_verbatim(client: Client) -> None:
    """Descriptions and notes that look like JSON come back as the same text."""
    plan = await ok(
        client, "plan_create", {"goal": '{"a": 1}', "tasks": [{"id": "a", "title": "t"}]}
    )
    assert plan["goal"] == '{"a": 1}'
    for value in TRICKY:
        task = await ok(
            client,
            "plan_update_task",
            {"plan_id": plan["plan_id"], "task_id": "a", "description": value, "notes": value},
        )
        assert (task["description"], task["notes"]) == (value, value)


async def test_json_output_is_recorded_and_scored_as_text(client: Client) -> None:
    """plan_record(output='{"a": 1}') passes a json_schema acceptance spec."""
    spec = {"type": "json_schema", "schema": {"type": "object", "required": ["a"]}}
    plan = await ok(
        client,
        "plan_create",
        {"goal": "emit json", "tasks": [{"id": "j", "title": "t", "acceptance": spec}]},
    )
    res = await ok(
        client, "plan_record", {"plan_id": plan["plan_id"], "task_id": "j", "output": '{"a": 1}'}
    )
    assert res["evaluation"]["passed"] is True
    assert res["task"]["status"] == "done"


async def test_verify_goal_and_intercept_context_take_json_text(client: Client) -> None:
    """verify_output's goal and intercept's context accept JSON-looking text."""
    for value in TRICKY:
        out = await ok(
            client,
            "verify_output",
            {"output": value, "goal": value, "evaluator": {"type": "length", "min_chars": 1}},
        )
        assert out["passed"] is True
        got = await ok(
            client, "intercept", {"prompt": "Write a parser for CSV files", "context": value}
        )
        assert 0.0 <= got["score"] <= 1.0


async def test_a_fast_path_is_built_on_its_first_call(tmp_path: Any) -> None:
    """Starting the server registers no resolver-free twin; loading the tools registers them,
    and the first call that takes one builds it."""
    mcp = build_server(make_settings(tmp_path))
    at_start = dict(mcp.deps.fast_paths)
    mcp.lazy_tools.load()
    route = mcp.deps.fast_paths["verify_output"]
    before = "tool" in vars(route)
    async with Client(mcp) as c:
        res = await ok(
            c, "verify_output", {"output": "ok", "evaluator": {"type": "length", "min_chars": 1}}
        )
    assert (at_start, before, "tool" in vars(route), res["passed"]) == ({}, False, True, True)
    assert route.tool.name == "verify_output"


async def test_a_result_is_converted_as_the_sdk_converts_it(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every result of a session across the tools is, serialised once, exactly what the
    SDK's own conversion makes of it: the same text block, the same structured content."""
    seen: set[str] = set()
    ours = _KeepText.convert_result

    def both(self: _KeepText, result: Any) -> Any:
        got = ours(self, result)
        want = FuncMetadata.convert_result(self, result)
        assert got.model_dump(by_alias=True) == want.model_dump(by_alias=True), result
        seen.add(type(result).__name__)
        return got

    monkeypatch.setattr(_KeepText, "convert_result", both)
    spec = {"type": "composite", "parts": [
        {"spec": {"type": "regex", "required": ["passed"]}},
        {"spec": {"type": "length", "min_words": 2}},
    ]}  # fmt: skip
    plan = await ok(client, "plan_create", {"goal": "Ship the parser", "tasks": [
        {"id": "a", "title": "Parse \u00e9t\u00e9 CSV", "acceptance": spec},
        {"id": "b", "title": "Test it", "depends_on": ["a"]},
    ]})  # fmt: skip
    pid = plan["plan_id"]
    await ok(client, "intercept", {"prompt": "Make parse_csv() in src/csv.py stream rows"})
    await ok(client, "intercept", {"prompt": "fix it", "plan_id": pid, "task_id": "a"})
    await ok(client, "prompt_stats", {})
    await ok(client, "verify_output", {"output": "12 passed in 0.1s", "evaluator": spec})
    await ok(client, "plan_next_task", {"plan_id": pid})
    await ok(client, "plan_record", {"plan_id": pid, "task_id": "a", "output": "3 passed ok"})
    await ok(client, "plan_next_task", {"plan_id": pid})
    await ok(client, "plan_record", {"plan_id": pid, "task_id": "b", "output_score": 1 / 3})
    await ok(client, "plan_status", {"plan_id": pid, "verbose": True})
    loop = await ok(client, "loop_start", {"goal": "Say passed", "evaluator": spec})
    await ok(client, "loop_step", {"loop_id": loop["loop_id"], "output": "nope"})
    await ok(client, "loop_step", {"loop_id": loop["loop_id"], "output": "all 3 passed"})
    await ok(client, "loop_end", {"loop_id": loop["loop_id"]})
    assert len(seen) >= 8, seen
