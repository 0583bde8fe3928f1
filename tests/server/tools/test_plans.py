"""plan_create, plan_next_task, plan_record, plan_replan, plan_update_task, plan_status."""

from __future__ import annotations

from pathlib import Path

import pytest
from mcp import Client

from server.app import build_server
from tests.server.helpers import ERAS, err, make_settings, new_plan, ok


@pytest.mark.anyio
@ERAS
async def test_create_returns_id_tasks_and_ready(tmp_path: Path, mode: str) -> None:
    """A new plan lists its tasks and only the task without dependencies is ready."""
    async with Client(build_server(make_settings(tmp_path)), mode=mode) as c:
        plan = await ok(c, "plan_create", {"goal": "g", "tasks": [{"id": "a", "title": "A"}]})
    assert plan["plan_id"].startswith("pl_")
    assert plan["ready"] == ["a"]
    assert [t["id"] for t in plan["tasks"]] == ["a"]
    assert (plan["confidence"], plan["threshold"], plan["needs_replan"]) == (1.0, 0.72, False)


@pytest.mark.anyio
@ERAS
async def test_create_refuses_a_cycle(tmp_path: Path, mode: str) -> None:
    """Tasks that depend on each other in a circle are refused, naming the cycle."""
    tasks = [
        {"id": "a", "title": "A", "depends_on": ["b"]},
        {"id": "b", "title": "B", "depends_on": ["a"]},
    ]
    async with Client(build_server(make_settings(tmp_path)), mode=mode) as c:
        text = await err(c, "plan_create", {"goal": "g", "tasks": tasks})
    assert "cycle" in text


@pytest.mark.anyio
@ERAS
async def test_create_refuses_an_unknown_dependency(tmp_path: Path, mode: str) -> None:
    """A dependency on a task id that is not in the plan is refused, naming it."""
    tasks = [{"id": "a", "title": "A", "depends_on": ["ghost"]}]
    async with Client(build_server(make_settings(tmp_path)), mode=mode) as c:
        text = await err(c, "plan_create", {"goal": "g", "tasks": tasks})
    assert "ghost" in text


@pytest.mark.anyio
@ERAS
async def test_create_refuses_a_threshold_above_one(tmp_path: Path, mode: str) -> None:
    """confidence_threshold must lie in [0, 1]."""
    args = {"goal": "g", "tasks": [{"id": "a", "title": "A"}], "confidence_threshold": 1.5}
    async with Client(build_server(make_settings(tmp_path)), mode=mode) as c:
        text = await err(c, "plan_create", args)
    assert "confidence_threshold" in text


@pytest.mark.anyio
@ERAS
async def test_create_refuses_an_empty_task_list(tmp_path: Path, mode: str) -> None:
    """A plan needs at least one task."""
    async with Client(build_server(make_settings(tmp_path)), mode=mode) as c:
        text = await err(c, "plan_create", {"goal": "g", "tasks": []})
    assert "tasks" in text


@pytest.mark.anyio
@ERAS
async def test_create_refuses_a_bad_acceptance_spec(tmp_path: Path, mode: str) -> None:
    """An invalid acceptance spec is refused at creation, naming the task's field."""
    tasks = [{"id": "a", "title": "A", "acceptance": {"type": "length", "min_words": -1}}]
    async with Client(build_server(make_settings(tmp_path)), mode=mode) as c:
        text = await err(c, "plan_create", {"goal": "g", "tasks": tasks})
    assert "acceptance" in text


@pytest.mark.anyio
@ERAS
async def test_next_task_claims_in_order_then_blocks(tmp_path: Path, mode: str) -> None:
    """The first ready task is claimed; a second agent then finds nothing ready."""
    async with Client(build_server(make_settings(tmp_path)), mode=mode) as c:
        plan_id = await new_plan(c)
        first = await ok(c, "plan_next_task", {"plan_id": plan_id, "agent": "one"})
        second = await ok(c, "plan_next_task", {"plan_id": plan_id, "agent": "two"})
    assert (first["kind"], first["task"]["id"], first["task"]["claimed_by"]) == ("task", "a", "one")
    assert first["task"]["acceptance"]["type"] == "length"
    assert second["kind"] == "blocked"
    assert "a" in second["reason"]


@pytest.mark.anyio
@ERAS
async def test_next_task_refuses_an_unknown_plan(tmp_path: Path, mode: str) -> None:
    """An unknown plan id is not found, never "complete"."""
    async with Client(build_server(make_settings(tmp_path)), mode=mode) as c:
        text = await err(c, "plan_next_task", {"plan_id": "pl_missing"})
    assert "not found" in text


@pytest.mark.anyio
@ERAS
async def test_next_task_refuses_a_bad_lease(tmp_path: Path, mode: str) -> None:
    """lease_s must be positive."""
    async with Client(build_server(make_settings(tmp_path)), mode=mode) as c:
        plan_id = await new_plan(c)
        text = await err(c, "plan_next_task", {"plan_id": plan_id, "lease_s": 0})
    assert "lease_s" in text


@pytest.mark.anyio
@ERAS
async def test_record_output_scores_and_completes(tmp_path: Path, mode: str) -> None:
    """An output passing the acceptance spec makes the task done and the next one ready."""
    async with Client(build_server(make_settings(tmp_path)), mode=mode) as c:
        plan_id = await new_plan(c)
        await ok(c, "plan_next_task", {"plan_id": plan_id})
        rec = await ok(
            c, "plan_record", {"plan_id": plan_id, "task_id": "a", "output": "one two three"}
        )
        status = await ok(c, "plan_status", {"plan_id": plan_id})
    assert rec["task"]["status"] == "done"
    assert rec["evaluation"]["passed"] is True
    assert status["ready"] == ["b"]
    assert status["counts"]["done"] == 1


@pytest.mark.anyio
@ERAS
async def test_low_score_fails_task_and_flags_replan(tmp_path: Path, mode: str) -> None:
    """A score under the threshold fails the task and flags the plan for a replan."""
    async with Client(build_server(make_settings(tmp_path)), mode=mode) as c:
        plan_id = await new_plan(c)
        rec = await ok(c, "plan_record", {"plan_id": plan_id, "task_id": "a", "output_score": 0.2})
    assert rec["task"]["status"] == "failed"
    assert rec["confidence"] == pytest.approx(0.2)
    assert rec["needs_replan"] is True


@pytest.mark.anyio
@ERAS
async def test_zero_is_a_real_score(tmp_path: Path, mode: str) -> None:
    """An output score of 0.0 is recorded as a score, not as "unscored"."""
    async with Client(build_server(make_settings(tmp_path)), mode=mode) as c:
        plan_id = await new_plan(c)
        rec = await ok(c, "plan_record", {"plan_id": plan_id, "task_id": "a", "output_score": 0.0})
    assert rec["task"]["output_score"] == 0.0
    assert rec["confidence"] == 0.0


@pytest.mark.anyio
@ERAS
async def test_record_without_anything_is_refused(tmp_path: Path, mode: str) -> None:
    """plan_record with no score and no output says what to pass."""
    async with Client(build_server(make_settings(tmp_path)), mode=mode) as c:
        plan_id = await new_plan(c)
        text = await err(c, "plan_record", {"plan_id": plan_id, "task_id": "a"})
    assert "nothing to record" in text


@pytest.mark.anyio
@ERAS
async def test_record_refuses_a_score_out_of_range(tmp_path: Path, mode: str) -> None:
    """Scores must lie in [0, 1]."""
    async with Client(build_server(make_settings(tmp_path)), mode=mode) as c:
        plan_id = await new_plan(c)
        text = await err(
            c, "plan_record", {"plan_id": plan_id, "task_id": "a", "output_score": 1.01}
        )
    assert "output_score" in text


@pytest.mark.anyio
@ERAS
async def test_block_policy_refuses_work_until_replan(tmp_path: Path, mode: str) -> None:
    """Under replan_policy=block a plan below threshold hands out no work until replanned."""
    args = {
        "goal": "g",
        "tasks": [{"id": "a", "title": "A"}, {"id": "b", "title": "B"}],
        "replan_policy": "block",
    }
    async with Client(build_server(make_settings(tmp_path)), mode=mode) as c:
        plan_id = (await ok(c, "plan_create", args))["plan_id"]
        await ok(c, "plan_record", {"plan_id": plan_id, "task_id": "a", "output_score": 0.1})
        blocked = await ok(c, "plan_next_task", {"plan_id": plan_id})
        replan = await ok(
            c,
            "plan_replan",
            {
                "plan_id": plan_id,
                "reason": "a was done badly",
                "add": [{"id": "a2", "title": "Redo A"}],
                "update": [{"id": "b", "depends_on": ["a2"]}],
            },
        )
        nxt = await ok(c, "plan_next_task", {"plan_id": plan_id})
    assert blocked["kind"] == "needs_replan"
    assert (replan["revision"], replan["added"], replan["updated"]) == (2, ["a2"], ["b"])
    assert replan["needs_replan"] is False
    assert nxt["task"]["id"] == "a2"


@pytest.mark.anyio
@ERAS
async def test_replan_refuses_an_unknown_update(tmp_path: Path, mode: str) -> None:
    """Updating a task that is not in the plan is refused and nothing changes."""
    async with Client(build_server(make_settings(tmp_path)), mode=mode) as c:
        plan_id = await new_plan(c)
        text = await err(
            c, "plan_replan", {"plan_id": plan_id, "reason": "r", "update": [{"id": "ghost"}]}
        )
        status = await ok(c, "plan_status", {"plan_id": plan_id, "verbose": True})
    assert "ghost" in text
    assert [t["id"] for t in status["tasks"]] == ["a", "b", "c"]


@pytest.mark.anyio
@ERAS
async def test_update_task_retries_a_failed_task(tmp_path: Path, mode: str) -> None:
    """Setting a failed task back to pending makes it ready again, with notes kept."""
    async with Client(build_server(make_settings(tmp_path)), mode=mode) as c:
        plan_id = await new_plan(c)
        await ok(c, "plan_record", {"plan_id": plan_id, "task_id": "a", "output_score": 0.1})
        task = await ok(
            c,
            "plan_update_task",
            {"plan_id": plan_id, "task_id": "a", "status": "pending", "notes": "retry"},
        )
        status = await ok(c, "plan_status", {"plan_id": plan_id})
    assert (task["status"], task["notes"]) == ("pending", "retry")
    assert status["ready"] == ["a"]


@pytest.mark.anyio
@ERAS
async def test_update_task_refuses_an_unknown_status(tmp_path: Path, mode: str) -> None:
    """Only the five task statuses are accepted."""
    async with Client(build_server(make_settings(tmp_path)), mode=mode) as c:
        plan_id = await new_plan(c)
        text = await err(
            c, "plan_update_task", {"plan_id": plan_id, "task_id": "a", "status": "finished"}
        )
    assert "status" in text


@pytest.mark.anyio
@ERAS
async def test_status_is_compact_unless_verbose(tmp_path: Path, mode: str) -> None:
    """plan_status lists tasks only with verbose=true."""
    async with Client(build_server(make_settings(tmp_path)), mode=mode) as c:
        plan_id = await new_plan(c)
        compact = await ok(c, "plan_status", {"plan_id": plan_id})
        verbose = await ok(c, "plan_status", {"plan_id": plan_id, "verbose": True})
    assert "tasks" not in compact
    assert len(verbose["tasks"]) == 3
    assert compact["counts"]["pending"] == 3


@pytest.mark.anyio
@ERAS
async def test_status_refuses_a_malformed_id(tmp_path: Path, mode: str) -> None:
    """A plan id with characters outside the id pattern is refused by validation."""
    async with Client(build_server(make_settings(tmp_path)), mode=mode) as c:
        text = await err(c, "plan_status", {"plan_id": "../../etc"})
    assert "plan_id" in text


@pytest.mark.anyio
@ERAS
async def test_plan_import_creates_a_plan_from_markdown(tmp_path: Path, mode: str) -> None:
    """plan_import: a checklist becomes a plan; a bad one is a tool error naming the line."""
    doc = "# Ship it\n\n- [ ] a: Build\n  - [ ] b: Test\n- [x] c: Docs\n  depends on: a\n"
    async with Client(build_server(make_settings(tmp_path)), mode=mode) as c:
        plan = await ok(c, "plan_import", {"markdown": doc})
        bad = await err(c, "plan_import", {"markdown": "# g\n- [ ] a: A\n  depends on: zz\n"})
    assert plan["goal"] == "Ship it"
    assert [(t["id"], t["status"]) for t in plan["tasks"]] == [
        ("a", "pending"),
        ("b", "pending"),
        ("c", "done"),
    ]
    assert plan["ready"] == ["b"]
    assert "line 3: depends on 'zz'" in bad


@pytest.mark.anyio
async def test_record_keeps_order_and_says_what_to_do(client: Client) -> None:
    """Out of order or another agent's task: refused with advice; your own claim: recorded."""
    plan_id = await new_plan(client)
    early = await err(
        client, "plan_record", {"plan_id": plan_id, "task_id": "b", "output_score": 1}
    )
    await ok(client, "plan_next_task", {"plan_id": plan_id, "agent": "alice"})
    held = await err(
        client,
        "plan_record",
        {"plan_id": plan_id, "task_id": "a", "output_score": 1, "agent": "bob"},
    )
    mine = await ok(
        client,
        "plan_record",
        {"plan_id": plan_id, "task_id": "a", "output": "three good words", "agent": "alice"},
    )
    assert "depends on 'a' (pending)" in early and "record those first" in early
    assert "claimed by 'alice'" in held and "wait for the lease" in held
    assert mine["task"]["status"] == "done"


@pytest.mark.anyio
@pytest.mark.parametrize("mode", ["legacy", "2026-07-28"])
async def test_a_host_that_cannot_be_asked_records_without_the_resolvers(
    tmp_path: Path, mode: str
) -> None:
    """plan_record's twin answers a host with no form elicitation (its questions could only
    say "unsupported"); a host that can be asked still goes through them. Same answers."""
    from mcp.client.context import ClientRequestContext
    from mcp.types import ElicitRequestParams, ElicitResult

    async def never(context: ClientRequestContext, params: ElicitRequestParams) -> ElicitResult:
        raise AssertionError(f"nothing to ask about: {params}")

    answers = []
    for asks in (False, True):
        srv = build_server(make_settings(tmp_path / f"{asks}"))
        srv.lazy_tools.load()  # registers the tools and their twins
        route = srv.deps.fast_paths["plan_record"]
        client = (
            Client(srv, mode=mode, elicitation_callback=never) if asks else Client(srv, mode=mode)
        )
        async with client as c:
            plan_id = await new_plan(c)
            await ok(c, "plan_next_task", {"plan_id": plan_id})
            args = {"plan_id": plan_id, "task_id": "a", "output": "three words here"}
            answers.append(await ok(c, "plan_record", args))
            refused = await err(c, "plan_record", {"plan_id": plan_id, "task_id": "nope"})
        assert ("tool" in route.__dict__) is not asks  # the twin is built on its first use
        assert "no task 'nope'" in refused
    assert answers[0] == answers[1] and answers[0]["task"]["status"] == "done"
    full = srv._tool_manager.get_tool("plan_record")
    untitled = {k: v for k, v in route.tool.parameters.items() if k != "title"}
    assert full is not None and untitled == {
        k: v for k, v in full.parameters.items() if k != "title"
    }
