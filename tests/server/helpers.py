"""Shared pieces of the MCP-layer tests: settings on a temporary database, calls, eras.

Tests run under anyio's pytest plugin, where a yielding fixture may hold a ``Client``
open (``tests/server/conftest.py`` has the ``client`` fixture over both eras).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from mcp import Client
from mcp.types import CallToolResult

from server.settings import Settings

# The one list of protocol eras: the handshake era (hosts of today) and 2026-07-28.
MODES = ("legacy", "2026-07-28")
ERAS = pytest.mark.parametrize("mode", MODES)

REGEX_DEF = {"type": "regex", "required": [r"def \w+\("]}
THREE_TASKS: list[dict[str, Any]] = [
    {"id": "a", "title": "First", "acceptance": {"type": "length", "min_words": 3}},
    {"id": "b", "title": "Second", "depends_on": ["a"]},
    {"id": "c", "title": "Third", "depends_on": ["b"]},
]


def make_settings(tmp_path: Path, **overrides: Any) -> Settings:
    """Settings on a fresh database file under ``tmp_path``."""
    values: dict[str, Any] = {"db": tmp_path / "loopcore.db", "project": "test-project"}
    values.update(overrides)
    return Settings(**values)


def text_of(result: CallToolResult) -> str:
    """The text content of a tool result, joined."""
    return " ".join(getattr(c, "text", "") for c in result.content)


async def ok(client: Client, tool: str, args: dict[str, Any]) -> dict[str, Any]:
    """Call ``tool`` and return its structured content; fail the test on an error result."""
    result = await client.call_tool(tool, args)
    assert not result.is_error, text_of(result)
    assert result.structured_content is not None
    return dict(result.structured_content)


async def err(client: Client, tool: str, args: dict[str, Any]) -> str:
    """Call ``tool`` expecting an error result; return its text."""
    result = await client.call_tool(tool, args)
    assert result.is_error, result.structured_content
    return text_of(result)


async def new_plan(client: Client, tasks: list[dict[str, Any]] | None = None) -> str:
    """Create a plan (three chained tasks by default) and return its id."""
    plan = await ok(client, "plan_create", {"goal": "ship it", "tasks": tasks or THREE_TASKS})
    return str(plan["plan_id"])
