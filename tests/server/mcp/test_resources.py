"""Resources (plans, plan, journal, loop), their change notifications, and the prompts."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client, MCPError
from mcp.shared.subscriptions import ResourceUpdated
from mcp.types import ResourceUpdatedNotification

from server.app import build_server
from tests.server.helpers import ERAS, make_settings, new_plan, ok


async def _read(c: Client, uri: str) -> Any:
    result = await c.read_resource(uri)
    return json.loads(getattr(result.contents[0], "text", ""))


@pytest.mark.anyio
@ERAS
async def test_resources_and_templates_are_listed(tmp_path: Path, mode: str) -> None:
    """The plan list and the plan view (an MCP App) are resources; one plan, its journal and
    one loop are templates."""
    async with Client(build_server(make_settings(tmp_path)), mode=mode) as c:
        resources = [str(r.uri) for r in (await c.list_resources()).resources]
        templates = {t.uri_template for t in (await c.list_resource_templates()).resource_templates}
    assert sorted(resources) == [
        "loopcore://evaluators",
        "loopcore://plans",
        "ui://loopcore/plan.html",
    ]
    assert templates == {
        "loopcore://plans/{plan_id}",
        "loopcore://plans/{plan_id}/journal",
        "loopcore://loops/{loop_id}",
    }


@pytest.mark.anyio
@ERAS
async def test_read_plans_plan_and_journal(tmp_path: Path, mode: str) -> None:
    """The three plan resources are JSON documents about the same plan."""
    async with Client(build_server(make_settings(tmp_path)), mode=mode) as c:
        plan_id = await new_plan(c)
        listed = await _read(c, "loopcore://plans")
        plan = await _read(c, f"loopcore://plans/{plan_id}")
        journal = await _read(c, f"loopcore://plans/{plan_id}/journal")
    assert [p["plan_id"] for p in listed["plans"]] == [plan_id]
    assert [t["id"] for t in plan["tasks"]] == ["a", "b", "c"]
    assert [e["kind"] for e in journal["entries"]] == ["created"]


@pytest.mark.anyio
@ERAS
async def test_read_loop(tmp_path: Path, mode: str) -> None:
    """The loop resource shows the loop's status and scores."""
    spec = {"type": "length", "min_words": 2}
    async with Client(build_server(make_settings(tmp_path)), mode=mode) as c:
        loop_id = (await ok(c, "loop_start", {"goal": "g", "evaluator": spec}))["loop_id"]
        await ok(c, "loop_step", {"loop_id": loop_id, "output": "one"})
        loop = await _read(c, f"loopcore://loops/{loop_id}")
    assert (loop["loop_id"], loop["status"], len(loop["scores"])) == (loop_id, "open", 1)


@pytest.mark.anyio
@ERAS
async def test_unknown_plan_resource_is_not_found(tmp_path: Path, mode: str) -> None:
    """Reading an unknown plan is a JSON-RPC invalid-params error naming the id."""
    async with Client(build_server(make_settings(tmp_path)), mode=mode) as c:
        with pytest.raises(MCPError) as info:
            await c.read_resource("loopcore://plans/pl_nope")
    assert info.value.error.code == -32602
    assert "pl_nope" in info.value.error.message


@pytest.mark.anyio
async def test_listen_stream_hears_a_plan_change(tmp_path: Path) -> None:
    """A 2026-07-28 listen stream subscribed to a plan hears when a task is claimed."""
    async with Client(build_server(make_settings(tmp_path))) as c:
        plan_id = await new_plan(c)
        uri = f"loopcore://plans/{plan_id}"
        async with c.listen(resource_subscriptions=[uri]) as sub:
            await ok(c, "plan_next_task", {"plan_id": plan_id})
            with anyio.fail_after(10):
                event = await sub.__anext__()
    assert event == ResourceUpdated(uri=uri)


@pytest.mark.anyio
async def test_legacy_subscriber_hears_a_loop_change(tmp_path: Path) -> None:
    """A handshake-era client subscribed with resources/subscribe is notified of a loop step."""
    got: list[str] = []
    heard = anyio.Event()

    async def on_message(message: Any) -> None:
        if isinstance(message, ResourceUpdatedNotification):
            got.append(str(message.params.uri))
            heard.set()

    spec = {"type": "length", "min_words": 2}
    server = build_server(make_settings(tmp_path))
    async with Client(server, mode="legacy", message_handler=on_message) as c:
        loop_id = (await ok(c, "loop_start", {"goal": "g", "evaluator": spec}))["loop_id"]
        uri = f"loopcore://loops/{loop_id}"
        await c.subscribe_resource(uri)
        await ok(c, "loop_step", {"loop_id": loop_id, "output": "one"})
        with anyio.fail_after(10):
            await heard.wait()
    assert got == [uri]


@pytest.mark.anyio
@ERAS
async def test_prompts_are_listed_and_rendered(tmp_path: Path, mode: str) -> None:
    """The two workflow prompts are listed and render with their argument."""
    async with Client(build_server(make_settings(tmp_path)), mode=mode) as c:
        names = {p.name for p in (await c.list_prompts()).prompts}
        plan = await c.get_prompt("scored_plan", {"goal": "add retries"})
        first = await c.get_prompt("intercept_first", {"request": "fix the bug"})
    assert names == {"scored_plan", "intercept_first"}
    assert "add retries" in getattr(plan.messages[0].content, "text", "")
    assert "plan_create" in getattr(plan.messages[0].content, "text", "")
    assert "fix the bug" in getattr(first.messages[0].content, "text", "")


@pytest.mark.anyio
@ERAS
async def test_journal_times_are_iso(tmp_path: Path, mode: str) -> None:
    """Every time in the journal resource, the entries' and the claims' leases, is ISO 8601."""
    async with Client(build_server(make_settings(tmp_path)), mode=mode) as c:
        plan_id = await new_plan(c)
        await ok(c, "plan_next_task", {"plan_id": plan_id, "agent": "ann"})
        journal = await _read(c, f"loopcore://plans/{plan_id}/journal")
    claimed = journal["entries"][-1]
    iso = r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$"
    assert claimed["kind"] == "claimed"
    assert re.match(iso, claimed["at"]) and re.match(iso, claimed["detail"]["lease_expires_at"])
