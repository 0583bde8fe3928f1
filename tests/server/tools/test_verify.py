"""verify_output in memory, in both protocol eras."""

from __future__ import annotations

from pathlib import Path

import pytest
from mcp import Client

from server.app import build_server
from tests.server.helpers import ERAS, REGEX_DEF, err, make_settings, new_plan, ok


@pytest.mark.anyio
@ERAS
async def test_passing_output_scores_one(tmp_path: Path, mode: str) -> None:
    """An output matching every required pattern passes with score 1."""
    async with Client(build_server(make_settings(tmp_path)), mode=mode) as c:
        res = await ok(c, "verify_output", {"output": "def f(x): ...", "evaluator": REGEX_DEF})
    assert (res["score"], res["passed"], res["deficiencies"]) == (1.0, True, [])


@pytest.mark.anyio
@ERAS
async def test_failing_output_lists_deficiencies(tmp_path: Path, mode: str) -> None:
    """An output missing a required pattern fails and the feedback names the pattern."""
    async with Client(build_server(make_settings(tmp_path)), mode=mode) as c:
        res = await ok(c, "verify_output", {"output": "no code", "evaluator": REGEX_DEF})
    assert res["passed"] is False
    assert res["score"] < 1.0
    assert "feedback" not in res  # the deficiencies say it once
    assert any("def" in d for d in res["deficiencies"])


@pytest.mark.anyio
@ERAS
async def test_unknown_evaluator_type_names_the_field(tmp_path: Path, mode: str) -> None:
    """An unknown spec type is an invalid-input error listing the known types."""
    async with Client(build_server(make_settings(tmp_path)), mode=mode) as c:
        text = await err(c, "verify_output", {"output": "x", "evaluator": {"type": "magic"}})
    assert "invalid input" in text
    assert "type" in text
    assert "regex" in text


@pytest.mark.anyio
@ERAS
async def test_evaluator_required_without_a_task(tmp_path: Path, mode: str) -> None:
    """Without plan and task ids the evaluator spec is required."""
    async with Client(build_server(make_settings(tmp_path)), mode=mode) as c:
        text = await err(c, "verify_output", {"output": "x"})
    assert "evaluator" in text


@pytest.mark.anyio
@ERAS
async def test_plan_id_without_task_id_is_refused(tmp_path: Path, mode: str) -> None:
    """plan_id and task_id go together."""
    async with Client(build_server(make_settings(tmp_path)), mode=mode) as c:
        text = await err(
            c, "verify_output", {"output": "x", "evaluator": REGEX_DEF, "plan_id": "pl_x"}
        )
    assert "task_id" in text


@pytest.mark.anyio
@ERAS
async def test_oversized_output_is_refused_with_its_limit(tmp_path: Path, mode: str) -> None:
    """An output over 200,000 characters is rejected by the schema, naming the limit."""
    async with Client(build_server(make_settings(tmp_path)), mode=mode) as c:
        text = await err(c, "verify_output", {"output": "x" * 200_001, "evaluator": REGEX_DEF})
    assert "200000" in text


@pytest.mark.anyio
@ERAS
async def test_checking_a_task_draft_records_nothing(tmp_path: Path, mode: str) -> None:
    """With plan and task ids the task's spec scores the draft; plan and task stay as they were."""
    async with Client(build_server(make_settings(tmp_path)), mode=mode) as c:
        plan_id = await new_plan(c)
        before = await ok(c, "plan_status", {"plan_id": plan_id, "verbose": True})
        draft = await ok(c, "verify_output", {"output": "two", "plan_id": plan_id, "task_id": "a"})
        fixed = await ok(
            c, "verify_output", {"output": "three good words", "plan_id": plan_id, "task_id": "a"}
        )
        after = await ok(c, "plan_status", {"plan_id": plan_id, "verbose": True})
        journal = await ok(c, "plan_explain", {"plan_id": plan_id})
        rec = await ok(
            c, "plan_record", {"plan_id": plan_id, "task_id": "a", "output": "three good words"}
        )
    assert (draft["passed"], fixed["passed"]) == (False, True)
    assert (
        set(draft)
        == {"score", "passed", "deficiencies", "feedback", "sub_scores", "details"}
        - (set() if draft.get("details") else {"details"})
        - (set() if draft.get("sub_scores") else {"sub_scores"})
        or "task" not in draft
    )
    assert after == before
    assert not any("scored" in line for line in journal["lines"])
    assert rec["task"]["status"] == "done"
    assert rec["needs_replan"] is False


@pytest.mark.anyio
@ERAS
async def test_task_without_acceptance_needs_an_evaluator(tmp_path: Path, mode: str) -> None:
    """A task with no acceptance spec cannot be verified without an evaluator."""
    async with Client(build_server(make_settings(tmp_path)), mode=mode) as c:
        plan_id = await new_plan(c)
        text = await err(c, "verify_output", {"output": "x", "plan_id": plan_id, "task_id": "b"})
    assert "acceptance" in text
    assert "evaluator" in text


@pytest.mark.anyio
@ERAS
async def test_unknown_task_is_not_found(tmp_path: Path, mode: str) -> None:
    """An unknown task id is a not-found error, never a silent pass."""
    async with Client(build_server(make_settings(tmp_path)), mode=mode) as c:
        plan_id = await new_plan(c)
        text = await err(
            c,
            "verify_output",
            {"output": "x", "evaluator": REGEX_DEF, "plan_id": plan_id, "task_id": "zz"},
        )
    assert "not found" in text
    assert "zz" in text


@pytest.mark.anyio
@ERAS
async def test_session_works_after_an_error(tmp_path: Path, mode: str) -> None:
    """A failed call leaves the session usable for the next one."""
    async with Client(build_server(make_settings(tmp_path)), mode=mode) as c:
        await err(c, "verify_output", {"output": "x", "evaluator": {"type": "nope"}})
        res = await ok(c, "verify_output", {"output": "def g(): ...", "evaluator": REGEX_DEF})
    assert res["passed"] is True
