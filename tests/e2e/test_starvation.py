"""Slow evaluations never starve a ``loopcore serve`` process (issue 16, part 3).

45 ``command`` evaluations that block until the test says so are in flight over real
stdio; a cheap call must still be answered while every one of them is held, and no more
of them run at once than a session's share of the evaluation pool.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client, StdioServerParameters

from tests.e2e.serving import LOOPCORE, PY, WAIT_SPEC, server_env, started, waiting_project

pytestmark = pytest.mark.slow

SLOW = 45


@pytest.mark.anyio
@pytest.mark.parametrize("mode", ["legacy", "2026-07-28"])
async def test_cheap_call_answers_with_45_slow_evaluations_in_flight(
    tmp_path: Path, mode: str
) -> None:
    """plan_status answers while 45 evaluations are held; 4 of them (half of 8) run."""
    root = waiting_project(tmp_path / "proj")
    env = server_env(tmp_path / "loopcore.db", LOOPCORE_ALLOW_COMMANDS=PY)
    env["LOOPCORE_PROJECT"] = str(root)
    params = StdioServerParameters(command=LOOPCORE, args=["serve"], env=env)
    done: list[Any] = []

    async def slow(client: Client) -> None:
        done.append(await client.call_tool("verify_output", {"evaluator": WAIT_SPEC}))

    async with Client(params, mode=mode) as client:
        plan = await client.call_tool(
            "plan_create", {"goal": "g", "tasks": [{"id": "t", "title": "t"}]}
        )
        plan_id = (plan.structured_content or {})["plan_id"]
        async with anyio.create_task_group() as tg:
            for _ in range(SLOW):
                tg.start_soon(slow, client)
            running = await started(root, 4)
            status = await client.call_tool("plan_status", {"plan_id": plan_id})
            held = (len(done), running, len(list((root / "started").iterdir())))
            (root / "go").touch()
    assert (status.structured_content or {})["plan_id"] == plan_id
    assert held == (0, 4, 4)
    assert [r.is_error for r in done] == [False] * SLOW
