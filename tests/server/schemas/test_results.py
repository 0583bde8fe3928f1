"""Results carry what is there and nothing else (issue 15, part 5), over the protocol."""

from __future__ import annotations

import re
from typing import Any

import pytest
from mcp import Client

from tests.server.helpers import ok

pytestmark = pytest.mark.anyio

SPEC = {"type": "length", "min_words": 3}
TASKS = [
    {"id": "a", "title": "A", "description": "write three words", "acceptance": SPEC},
    {"id": "b", "title": "B", "depends_on": ["a"]},
]
ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


def _walk(value: Any, path: str = "") -> list[tuple[str, Any]]:
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in _walk(v, f"{path}.{k}")]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in _walk(v, f"{path}[{i}]")]
    return [(path, value)]


def _no_placeholders(result: dict[str, Any]) -> None:
    for path, value in _walk(result):
        assert value is not None, path
        if isinstance(value, float):
            assert value == round(value, 3), (path, value)


async def test_tasks_are_shown_whole_without_placeholders(client: Client) -> None:
    """plan_create and verbose plan_status show specs and descriptions; no null or '' fields."""
    created = await ok(client, "plan_create", {"goal": "g", "tasks": TASKS})
    status = await ok(client, "plan_status", {"plan_id": created["plan_id"], "verbose": True})
    for result in (created, status):
        _no_placeholders(result)
        a, b = result["tasks"]
        assert (a["description"], a["acceptance"]) == ("write three words", SPEC)
        assert "acceptance" not in b and "description" not in b
        assert b["depends_on"] == ["a"] and "depends_on" not in a


async def test_scores_are_rounded_and_times_iso(client: Client) -> None:
    """Scores have at most 3 decimals; plan_list's time is ISO 8601; no feedback repeats."""
    plan = await ok(client, "plan_create", {"goal": "g", "tasks": TASKS})
    ids = {"plan_id": plan["plan_id"], "task_id": "a"}
    draft = await ok(client, "verify_output", {**ids, "output": "two"})
    rec = await ok(client, "plan_record", {**ids, "output": "one two three"})
    listed = await ok(client, "plan_list", {})
    for result in (draft, rec, listed):
        _no_placeholders(result)
    assert 0 < draft["score"] < 1
    assert "feedback" not in draft and draft["deficiencies"]
    assert ISO.match(listed["plans"][0]["updated_at"])
    assert "next_cursor" not in listed
