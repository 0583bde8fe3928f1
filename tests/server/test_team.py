"""server/team.py in process: the tool guard, the journal-to-URI mapping, the bind rule."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from loopcore.errors import PlanNotFound
from server.app import build_server
from server.cli.serve import check_bind
from server.settings import SettingsError
from server.team import Identity, _uris, current_identity, scoped
from tests.server.helpers import make_settings, new_plan, ok


def test_a_member_off_loopback_needs_members_or_the_token(tmp_path: Path) -> None:
    wide = make_settings(tmp_path, transport="http", host="0.0.0.0")
    with pytest.raises(SettingsError, match="add members"):
        check_bind(wide)
    check_bind(wide, members=True)
    check_bind(make_settings(tmp_path, transport="http", host="0.0.0.0", token="t"))


def test_journal_lines_become_the_resources_they_touch() -> None:
    lines = [("claimed", "p1", None, 1), ("scored", "p1", None, 2), ("step", None, "l1", 3)]
    assert _uris(lines) == [
        "loopcore://plans",
        "loopcore://plans/p1",
        "loopcore://plans/p1/journal",
        "loopcore://loops/l1",
    ]


class _Plans:
    def __init__(self, project: str) -> None:
        self.project = project

    def get(self, plan_id: str) -> Any:
        if plan_id != "p1":
            raise PlanNotFound(plan_id)
        return self


class _Services:
    plans = _Plans("A")


def test_scoped_tool_sees_the_member_as_agent_and_only_their_project() -> None:
    def claim(plan_id: str, agent: str = "agent") -> str:
        return f"{plan_id}:{agent}"

    guarded = scoped(claim, lambda: _Services())
    assert guarded(plan_id="p1", agent="x") == "p1:x"  # no member: unchanged
    reset = current_identity.set(Identity(member="alice", project="A"))
    try:
        assert guarded(plan_id="p1", agent="x") == "p1:alice"
        assert guarded("p1") == "p1:alice"
    finally:
        current_identity.reset(reset)
    reset = current_identity.set(Identity(member="bob", project="B"))
    try:
        with pytest.raises(PlanNotFound):
            guarded(plan_id="p1")
    finally:
        current_identity.reset(reset)


@pytest.mark.anyio
async def test_identity_reaches_tools_in_process(tmp_path: Path) -> None:
    """Set in the caller's context (as TeamAuth does), it reaches a tool's worker thread."""
    async with Client(build_server(make_settings(tmp_path))) as c:
        plan_id = await new_plan(c)
        reset = current_identity.set(Identity(member="carol", project="test-project"))
        try:
            claim = await ok(c, "plan_next_task", {"plan_id": plan_id, "agent": "x"})
        finally:
            current_identity.reset(reset)
    assert claim["task"]["claimed_by"] == "carol"


@pytest.mark.anyio
async def test_a_resolver_free_twin_also_records_as_the_member(tmp_path: Path) -> None:
    """plan_record for a host that cannot be asked takes its twin: the member is still the
    agent, so the member's own claim is recorded (not refused as held by another)."""
    srv = build_server(make_settings(tmp_path))
    async with Client(srv) as c:  # no elicitation: plan_record takes the twin
        plan_id = await new_plan(c)
        reset = current_identity.set(Identity(member="dave", project="test-project"))
        try:
            await ok(c, "plan_next_task", {"plan_id": plan_id})
            args = {"plan_id": plan_id, "task_id": "a", "output": "three words here"}
            done = await ok(c, "plan_record", {**args, "agent": "someone-else"})
        finally:
            current_identity.reset(reset)
    assert "tool" in srv.deps.fast_paths["plan_record"].__dict__  # the twin answered
    assert done["task"]["status"] == "done"
