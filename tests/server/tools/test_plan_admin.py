"""plan_list, plan_explain, plan_archive and plan_delete (with and without elicitation)."""

from __future__ import annotations

from pathlib import Path

import pytest
from mcp import Client
from mcp.client.context import ClientRequestContext
from mcp.types import ElicitRequestParams, ElicitResult

from server.app import build_server
from tests.server.helpers import ERAS, err, make_settings, new_plan, ok


class User:
    """Plays the person behind the host: answers every elicitation the same way."""

    def __init__(self, action: str, delete: bool = True) -> None:
        self.action = action
        self.delete = delete
        self.asked: list[str] = []

    async def __call__(
        self, context: ClientRequestContext, params: ElicitRequestParams
    ) -> ElicitResult:
        self.asked.append(params.message)
        if self.action == "accept":
            return ElicitResult(action="accept", content={"delete": self.delete})
        return ElicitResult(action=self.action)  # type: ignore[arg-type]


@pytest.mark.anyio
@ERAS
async def test_list_pages_newest_first(tmp_path: Path, mode: str) -> None:
    """Plans come newest first, a page at a time, with a cursor for the rest."""
    async with Client(build_server(make_settings(tmp_path)), mode=mode) as c:
        ids = [await new_plan(c) for _ in range(3)]
        first = await ok(c, "plan_list", {"limit": 2})
        rest = await ok(c, "plan_list", {"limit": 2, "cursor": first["next_cursor"]})
    assert [p["plan_id"] for p in first["plans"]] == ids[::-1][:2]
    assert [p["plan_id"] for p in rest["plans"]] == ids[:1]
    assert "next_cursor" not in rest


@pytest.mark.anyio
@ERAS
async def test_list_refuses_a_forged_cursor(tmp_path: Path, mode: str) -> None:
    """A cursor that plan_list did not hand out is refused."""
    async with Client(build_server(make_settings(tmp_path)), mode=mode) as c:
        text = await err(c, "plan_list", {"cursor": "not-a-cursor"})
    assert "cursor" in text


@pytest.mark.anyio
@ERAS
async def test_list_refuses_a_limit_over_100(tmp_path: Path, mode: str) -> None:
    """limit is bounded to 1..100."""
    async with Client(build_server(make_settings(tmp_path)), mode=mode) as c:
        text = await err(c, "plan_list", {"limit": 101})
    assert "limit" in text


@pytest.mark.anyio
@ERAS
async def test_list_is_per_project(tmp_path: Path, mode: str) -> None:
    """Two projects sharing one database see only their own plans."""
    async with Client(build_server(make_settings(tmp_path, project="one")), mode=mode) as c:
        await new_plan(c)
    async with Client(build_server(make_settings(tmp_path, project="two")), mode=mode) as c:
        listed = await ok(c, "plan_list", {})
    assert listed["plans"] == []


@pytest.mark.anyio
@ERAS
async def test_explain_tells_why_confidence_moved(tmp_path: Path, mode: str) -> None:
    """The journal reads as sentences: the creation, the score, the replan flag."""
    async with Client(build_server(make_settings(tmp_path)), mode=mode) as c:
        plan_id = await new_plan(c)
        await ok(c, "plan_record", {"plan_id": plan_id, "task_id": "a", "output_score": 0.3})
        ex = await ok(c, "plan_explain", {"plan_id": plan_id})
    text = "\n".join(ex["lines"])
    assert "created with 3 tasks" in text
    assert "scored 0.300" in text
    assert "replan needed" in ex["summary"]


@pytest.mark.anyio
@ERAS
async def test_explain_refuses_an_unknown_plan(tmp_path: Path, mode: str) -> None:
    """plan_explain on an unknown id is not found."""
    async with Client(build_server(make_settings(tmp_path)), mode=mode) as c:
        text = await err(c, "plan_explain", {"plan_id": "pl_nope"})
    assert "not found" in text


@pytest.mark.anyio
@ERAS
async def test_archived_plan_is_read_only(tmp_path: Path, mode: str) -> None:
    """An archived plan is kept and listed as archived, and refuses new scores."""
    async with Client(build_server(make_settings(tmp_path)), mode=mode) as c:
        plan_id = await new_plan(c)
        brief = await ok(c, "plan_archive", {"plan_id": plan_id})
        text = await err(c, "plan_record", {"plan_id": plan_id, "task_id": "a", "output_score": 1})
        archived = await ok(c, "plan_list", {"status": "archived"})
    assert brief["status"] == "archived"
    assert "conflict" in text
    assert [p["plan_id"] for p in archived["plans"]] == [plan_id]


@pytest.mark.anyio
@ERAS
async def test_delete_without_elicitation_needs_confirm(tmp_path: Path, mode: str) -> None:
    """A host that cannot ask the user gets an error asking for confirm=true; the plan stays."""
    async with Client(build_server(make_settings(tmp_path)), mode=mode) as c:
        plan_id = await new_plan(c)
        text = await err(c, "plan_delete", {"plan_id": plan_id})
        still = await ok(c, "plan_status", {"plan_id": plan_id})
    assert "confirm" in text
    assert still["plan_id"] == plan_id


@pytest.mark.anyio
@ERAS
async def test_delete_with_confirm_deletes(tmp_path: Path, mode: str) -> None:
    """confirm=true deletes on a host without elicitation; the id is then unknown."""
    async with Client(build_server(make_settings(tmp_path)), mode=mode) as c:
        plan_id = await new_plan(c)
        res = await ok(c, "plan_delete", {"plan_id": plan_id, "confirm": True})
        text = await err(c, "plan_status", {"plan_id": plan_id})
    assert res["deleted"] is True
    assert "not found" in text


@pytest.mark.anyio
@ERAS
async def test_delete_asks_the_user_and_deletes_on_yes(tmp_path: Path, mode: str) -> None:
    """With elicitation the user is asked (naming the plan) and a yes deletes it."""
    user = User("accept")
    server = build_server(make_settings(tmp_path))
    async with Client(server, mode=mode, elicitation_callback=user) as c:
        plan_id = await new_plan(c)
        res = await ok(c, "plan_delete", {"plan_id": plan_id})
        listed = await ok(c, "plan_list", {})
    assert res["deleted"] is True
    assert len(user.asked) == 1
    assert plan_id in user.asked[0]
    assert listed["plans"] == []


@pytest.mark.anyio
@ERAS
async def test_delete_keeps_the_plan_when_the_user_declines(tmp_path: Path, mode: str) -> None:
    """A declined elicitation keeps the plan, even with confirm=true."""
    user = User("decline")
    async with Client(
        build_server(make_settings(tmp_path)), mode=mode, elicitation_callback=user
    ) as c:
        plan_id = await new_plan(c)
        res = await ok(c, "plan_delete", {"plan_id": plan_id, "confirm": True})
        still = await ok(c, "plan_status", {"plan_id": plan_id})
    assert (res["deleted"], res["message"]) == (False, "kept: the user declined")
    assert still["plan_id"] == plan_id


@pytest.mark.anyio
@ERAS
async def test_delete_keeps_the_plan_when_the_user_says_no(tmp_path: Path, mode: str) -> None:
    """An accepted form answering delete=false keeps the plan."""
    user = User("accept", delete=False)
    async with Client(
        build_server(make_settings(tmp_path)), mode=mode, elicitation_callback=user
    ) as c:
        plan_id = await new_plan(c)
        res = await ok(c, "plan_delete", {"plan_id": plan_id})
    assert (res["deleted"], res["message"]) == (False, "kept: the user said no")


@pytest.mark.anyio
@ERAS
async def test_delete_of_an_unknown_plan_is_not_found(tmp_path: Path, mode: str) -> None:
    """Deleting an unknown id is not found, and the user is not asked."""
    user = User("accept")
    async with Client(
        build_server(make_settings(tmp_path)), mode=mode, elicitation_callback=user
    ) as c:
        text = await err(c, "plan_delete", {"plan_id": "pl_nope"})
    assert "not found" in text
    assert user.asked == []
