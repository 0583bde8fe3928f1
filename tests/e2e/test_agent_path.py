"""The path an agent actually takes, over real stdio, in both protocol eras.

A ``loopcore serve`` subprocess (these sources: ``PYTHONPATH``) and the official
client. Every call is chosen from what the server said before: the loop order
from plan_create's description, the spec catalogue from the resource that
verify_output's description names, the task to work on and its acceptance spec
from plan_next_task, what to fix from verify_output's deficiencies. Checked: a
draft checked and fixed leaves the plan untouched until recorded; JSON text is
recorded verbatim and passes its json_schema acceptance; the specs are visible
after plan_create; the plan ends ``done``.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
from mcp import Client, StdioServerParameters

from tests.e2e.serving import LOOPCORE, server_env
from tests.server.helpers import MODES

pytestmark = [pytest.mark.slow, pytest.mark.anyio]

ROOT = Path(__file__).resolve().parents[2]
JSON_OUTPUT = '{"name": "loopcore"}'


def _env(db: Path) -> dict[str, str]:
    return server_env(db, PYTHONPATH=str(ROOT), LOOPCORE_LOG_LEVEL="warning")


async def _ok(client: Client, tool: str, args: dict[str, Any]) -> dict[str, Any]:
    result = await client.call_tool(tool, args)
    assert not result.is_error, (tool, result.content)
    return dict(result.structured_content or {})


def _loop_order(description: str, names: set[str]) -> list[str]:
    """The tools plan_create's description says to repeat, in its order ("Then loop: ...")."""
    found = re.search(r"Then loop: ([^.]*)\.", description)
    assert found, description
    steps = [s.strip() for s in found.group(1).split(",")]
    return [s for s in steps if s in names]


def _tasks(catalogue: dict[str, Any]) -> list[dict[str, Any]]:
    """Two tasks whose acceptance specs are built from the catalogue's own examples."""
    types = catalogue["types"]
    length = dict(types["length"]["example"], min_words=4, max_words=40)
    assert set(length) - {"type"} <= set(types["length"]["fields"])
    return [
        {"id": "notes", "title": "Write release notes", "acceptance": length},
        {
            "id": "manifest",
            "title": "Emit the manifest as JSON",
            "depends_on": ["notes"],
            "acceptance": types["json_schema"]["example"],
        },
    ]


def _draft_and_fix(task: dict[str, Any]) -> tuple[str, str]:
    """A first draft that misses the task's spec, and the fix (chosen from the spec's type)."""
    if task["acceptance"]["type"] == "json_schema":
        return '{"title": "loopcore"}', JSON_OUTPUT
    return "notes", "Fixed the parser and added tests for it."


async def _work_on(client: Client, order: list[str], plan_id: str, task: dict[str, Any]) -> None:
    ids = {"plan_id": plan_id, "task_id": task["id"]}
    draft, fixed = _draft_and_fix(task)
    before = await _ok(client, "plan_status", {"plan_id": plan_id, "verbose": True})
    check = await _ok(client, order[1], {**ids, "output": draft})  # verify_output
    assert check["passed"] is False and check["deficiencies"]
    again = await _ok(client, order[1], {**ids, "output": fixed})
    assert again["passed"] is True
    after_checks = await _ok(client, "plan_status", {"plan_id": plan_id, "verbose": True})
    assert after_checks == before  # checking is not recording
    rec = await _ok(client, order[2], {**ids, "output": fixed})  # plan_record
    assert rec["evaluation"]["passed"] is True
    assert rec["task"]["status"] == "done" and rec["task"]["output_score"] == 1.0
    assert rec["needs_replan"] is False


async def _session(client: Client) -> tuple[str, dict[str, Any]]:
    tools = {t.name: t for t in (await client.list_tools()).tools}
    order = _loop_order(tools["plan_create"].description or "", set(tools))
    assert order == ["plan_next_task", "verify_output", "plan_record"]
    uri = re.search(r"loopcore://\w+", tools["verify_output"].description or "")
    assert uri, tools["verify_output"].description
    read = await client.read_resource(uri.group(0))
    catalogue = json.loads(getattr(read.contents[0], "text", ""))
    tasks = _tasks(catalogue)
    plan = await _ok(client, "plan_create", {"goal": "Release v1", "tasks": tasks})
    assert [t.get("acceptance") for t in plan["tasks"]] == [t["acceptance"] for t in tasks]
    plan_id = plan["plan_id"]
    while (nxt := await _ok(client, order[0], {"plan_id": plan_id}))["kind"] == "task":
        await _work_on(client, order, plan_id, nxt["task"])
    assert nxt["kind"] == "complete"
    status = await _ok(client, "plan_status", {"plan_id": plan_id})
    resource = await client.read_resource(f"loopcore://plans/{plan_id}")
    done = await _ok(client, "plan_list", {"status": "done"})
    assert [p["plan_id"] for p in done["plans"]] == [plan_id]
    return plan_id, {
        "status": status,
        "resource": json.loads(getattr(resource.contents[0], "text", "")),
    }


@pytest.mark.parametrize("mode", MODES)
async def test_the_readme_workflow_over_stdio(tmp_path: Path, mode: str) -> None:
    """Check, fix, record; JSON recorded verbatim; the plan ends done, in each era."""
    db = tmp_path / "loopcore.db"
    params = StdioServerParameters(
        command=LOOPCORE, args=["serve"], env=_env(db), cwd=str(tmp_path)
    )
    async with Client(params, mode=mode) as client:
        plan_id, seen = await _session(client)
    exported = subprocess.run(
        [
            LOOPCORE,
            "plans",
            "export",
            plan_id,
            "--format",
            "json",
            "--db",
            str(db),
            "--project",
            "e2e",
        ],
        env=_env(db),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    tasks = {t["id"]: t for t in json.loads(exported.stdout)["tasks"]}
    assert seen["status"]["status"] == "done" and seen["resource"]["status"] == "done"
    assert tasks["manifest"]["last_output"] == JSON_OUTPUT
    assert {t["status"] for t in tasks.values()} == {"done"}
