"""``loopcore serve`` over real stdio runs a task's acceptance command: the tests decide done."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
from mcp import Client, StdioServerParameters

from tests.e2e.serving import LOOPCORE, server_env

pytestmark = pytest.mark.slow

PY = sys.executable
CALC_OK = "def add(a, b):\n    return a + b\n"
TESTS = "from calc import add\n\ndef test_add():\n    assert add(1, 2) == 3\n"
ACCEPTANCE = {
    "type": "command",
    "run": [PY, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
    "env": ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"],
}


def _project(tmp_path: Path) -> Path:
    root = tmp_path / "proj"
    (root / "tests").mkdir(parents=True)
    (root / "pytest.ini").write_text("[pytest]\npythonpath = .\n")
    (root / "calc.py").write_text(CALC_OK.replace("a + b", "a - b"))
    (root / "tests" / "test_calc.py").write_text(TESTS)
    return root


async def _ok(client: Client, tool: str, args: dict[str, Any]) -> dict[str, Any]:
    result = await client.call_tool(tool, args)
    assert not result.is_error, result.content
    return dict(result.structured_content or {})


@pytest.mark.anyio
async def test_plan_record_without_output_runs_the_tests_over_stdio(tmp_path: Path) -> None:
    """A failing run fails the task; after the fix, plan_record alone makes it done."""
    project = _project(tmp_path)
    env = server_env(
        tmp_path / "loopcore.db",
        LOOPCORE_ALLOW_COMMANDS=PY,
        LOOPCORE_PROJECT=str(project),
        PYTEST_DISABLE_PLUGIN_AUTOLOAD="1",
    )
    params = StdioServerParameters(command=LOOPCORE, args=["serve"], env=env, cwd=project)
    task = {"id": "add", "title": "Fix add", "acceptance": ACCEPTANCE}
    async with Client(params) as client:
        plan = await _ok(client, "plan_create", {"goal": "calc works", "tasks": [task]})
        ids = {"plan_id": plan["plan_id"], "task_id": "add"}
        assert (await _ok(client, "plan_next_task", {"plan_id": plan["plan_id"]}))["kind"] == "task"
        failed = await _ok(client, "plan_record", ids)
        (project / "calc.py").write_text(CALC_OK)
        done = await _ok(client, "plan_record", ids)
        status = await _ok(client, "plan_status", {"plan_id": plan["plan_id"]})
    assert failed["task"]["status"] == "failed"
    assert failed["evaluation"]["details"]["failing"] == ["tests/test_calc.py::test_add"]
    assert (done["task"]["status"], done["task"]["output_score"]) == ("done", 1.0)
    assert status["complete"] is True
