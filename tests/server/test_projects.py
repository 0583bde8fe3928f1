"""Projects are boundaries: two servers of different projects on one database.

Every tool, resource and completion that takes a plan, task or loop id answers a
foreign id exactly as an id that does not exist; the owner still sees its own.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from mcp import Client, MCPError
from mcp.types import ResourceTemplateReference

from server.app import build_server
from tests.server.helpers import ERAS, make_settings, ok, text_of

pytestmark = pytest.mark.anyio

SPEC = {"type": "length", "min_words": 2}
TASKS = [{"id": "a", "title": "First", "acceptance": SPEC}, {"id": "b", "title": "Then"}]
UNKNOWN_PLAN = "pl_doesnotexist"
UNKNOWN_LOOP = "lp_doesnotexist"


def _calls(plan_id: str, loop_id: str) -> list[tuple[str, dict[str, Any]]]:
    """Every tool that takes a plan, task or loop id, with arguments that would otherwise work."""
    ids = {"plan_id": plan_id, "task_id": "a"}
    return [
        ("plan_status", {"plan_id": plan_id, "verbose": True}),
        ("plan_next_task", {"plan_id": plan_id}),
        ("plan_record", {**ids, "output": "two words"}),
        ("plan_replan", {"plan_id": plan_id, "reason": "r", "remove": ["b"]}),
        ("plan_update_task", {**ids, "notes": "n"}),
        ("plan_explain", {"plan_id": plan_id}),
        ("plan_archive", {"plan_id": plan_id}),
        ("plan_delete", {"plan_id": plan_id}),
        ("verify_output", {**ids, "output": "two words"}),
        ("intercept", {**ids, "prompt": "Write a CSV parser in Python with tests"}),
        ("loop_start", {**ids, "goal": "g", "evaluator": SPEC}),
        ("loop_step", {"loop_id": loop_id, "output": "two words"}),
        ("loop_status", {"loop_id": loop_id}),
        ("loop_end", {"loop_id": loop_id}),
    ]


def _same_answer(
    foreign: str, unknown: str, ids: tuple[str, str], unknowns: tuple[str, str]
) -> bool:
    for real, fake in zip(ids, unknowns, strict=True):
        foreign = foreign.replace(real, fake)
    return foreign == unknown


@ERAS
async def test_foreign_ids_are_not_found_through_any_tool(tmp_path: Path, mode: str) -> None:
    """Project B reaches none of A's plans or loops by id: told exactly as for an unknown id."""
    a_settings = make_settings(tmp_path, project="project-a")
    b_settings = make_settings(tmp_path, project="project-b")
    async with (
        Client(build_server(a_settings), mode=mode) as a,
        Client(build_server(b_settings), mode=mode) as b,
    ):
        plan_id = (await ok(a, "plan_create", {"goal": "A's work", "tasks": TASKS}))["plan_id"]
        loop_id = (await ok(a, "loop_start", {"goal": "A's loop", "evaluator": SPEC}))["loop_id"]
        before = await ok(a, "plan_status", {"plan_id": plan_id, "verbose": True})
        checked = []
        for (name, args), (_, fake_args) in zip(
            _calls(plan_id, loop_id), _calls(UNKNOWN_PLAN, UNKNOWN_LOOP), strict=True
        ):
            foreign = await b.call_tool(name, args)
            unknown = await b.call_tool(name, fake_args)
            assert foreign.is_error and unknown.is_error, (name, text_of(foreign))
            assert "not found" in text_of(foreign), (name, text_of(foreign))
            assert _same_answer(
                text_of(foreign), text_of(unknown), (plan_id, loop_id), (UNKNOWN_PLAN, UNKNOWN_LOOP)
            ), (name, text_of(foreign), text_of(unknown))
            checked.append(name)
        listed = await ok(b, "plan_list", {})
        after = await ok(a, "plan_status", {"plan_id": plan_id, "verbose": True})
        loop = await ok(a, "loop_status", {"loop_id": loop_id})
    assert len(checked) == 14
    assert listed["plans"] == []
    assert after == before
    assert loop["status"] == "open" and "scores" not in loop


@ERAS
async def test_foreign_ids_are_not_found_through_resources_or_completions(
    tmp_path: Path, mode: str
) -> None:
    """Resources and completions of project B neither show nor name A's plans and loops."""
    a_settings = make_settings(tmp_path, project="project-a")
    b_settings = make_settings(tmp_path, project="project-b")
    async with (
        Client(build_server(a_settings), mode=mode) as a,
        Client(build_server(b_settings), mode=mode) as b,
    ):
        plan_id = (await ok(a, "plan_create", {"goal": "A's work", "tasks": TASKS}))["plan_id"]
        loop_id = (await ok(a, "loop_start", {"goal": "A's loop", "evaluator": SPEC}))["loop_id"]
        own = await a.read_resource(f"loopcore://plans/{plan_id}")
        errors = []
        for uri in (
            f"loopcore://plans/{plan_id}",
            f"loopcore://plans/{plan_id}/journal",
            f"loopcore://loops/{loop_id}",
        ):
            with pytest.raises(MCPError) as caught:
                await b.read_resource(uri)
            errors.append(str(caught.value))
        listing = await b.read_resource("loopcore://plans")
        ref = ResourceTemplateReference(uri="loopcore://plans/{plan_id}")
        plans = await b.complete(ref, {"name": "plan_id", "value": ""})
        tasks = await b.complete(ref, {"name": "task_id", "value": ""}, {"plan_id": plan_id})
        loops = await b.complete(ref, {"name": "loop_id", "value": ""})
        a_plans = await a.complete(ref, {"name": "plan_id", "value": ""})
    assert plan_id in getattr(own.contents[0], "text", "")
    assert all("no plan" in e or "no loop" in e for e in errors), errors
    assert plan_id not in getattr(listing.contents[0], "text", "")
    assert (plans.completion.values, tasks.completion.values, loops.completion.values) == (
        [],
        [],
        [],
    )
    assert a_plans.completion.values == [plan_id]
