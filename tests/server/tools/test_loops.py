"""loop_start, loop_step, loop_end, loop_status and stats, in both protocol eras."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from server.app import build_server
from tests.server.helpers import ERAS, err, make_settings, new_plan, ok

WORDS5 = {"type": "length", "min_words": 5}


async def _start(c: Client, **extra: Any) -> str:
    res = await ok(c, "loop_start", {"goal": "write five words", "evaluator": WORDS5, **extra})
    return str(res["loop_id"])


@pytest.mark.anyio
@ERAS
async def test_start_returns_id_config_and_guidance(tmp_path: Path, mode: str) -> None:
    """loop_start answers a loop id, the stopping config in force and what to do next."""
    async with Client(build_server(make_settings(tmp_path)), mode=mode) as c:
        res = await ok(
            c,
            "loop_start",
            {"goal": "g", "evaluator": WORDS5, "quality_threshold": 0.9, "max_iterations": 3},
        )
    assert res["loop_id"].startswith("lp_")
    assert (res["config"]["quality_threshold"], res["config"]["max_iterations"]) == (0.9, 3)
    assert "loop_step" in res["guidance"]


@pytest.mark.anyio
@ERAS
async def test_start_refuses_an_invalid_spec(tmp_path: Path, mode: str) -> None:
    """An invalid evaluator spec is refused at loop_start, naming the field."""
    async with Client(build_server(make_settings(tmp_path)), mode=mode) as c:
        text = await err(
            c, "loop_start", {"goal": "g", "evaluator": {"type": "regex", "required": ["("]}}
        )
    assert "evaluator" in text


@pytest.mark.anyio
@ERAS
async def test_start_refuses_max_iterations_over_100(tmp_path: Path, mode: str) -> None:
    """max_iterations is bounded to 1..100."""
    async with Client(build_server(make_settings(tmp_path)), mode=mode) as c:
        text = await err(c, "loop_start", {"goal": "g", "evaluator": WORDS5, "max_iterations": 101})
    assert "max_iterations" in text


@pytest.mark.anyio
@ERAS
async def test_step_continues_then_stops_at_threshold(tmp_path: Path, mode: str) -> None:
    """A short output continues with feedback; a good one stops; loop_end returns the best.

    No step echoes the output back (issue 15): the best output comes with loop_end.
    """
    async with Client(build_server(make_settings(tmp_path)), mode=mode) as c:
        loop_id = await _start(c)
        first = await ok(c, "loop_step", {"loop_id": loop_id, "output": "two words"})
        second = await ok(c, "loop_step", {"loop_id": loop_id, "output": "one two three four five"})
        end = await ok(c, "loop_end", {"loop_id": loop_id})
    assert (first["decision"], first["iteration"]) == ("continue", 1)
    assert "too short" in first["feedback"]
    assert "best_output" not in first and "best_output" not in second
    assert "one two three four five" not in str(second)
    assert (second["decision"], second["exit_reason"]) == ("stop", "quality_threshold")
    assert end["best_output"] == "one two three four five"


@pytest.mark.anyio
@ERAS
async def test_step_after_stop_is_a_conflict(tmp_path: Path, mode: str) -> None:
    """A stopped loop takes no more steps and says to call loop_end."""
    async with Client(build_server(make_settings(tmp_path)), mode=mode) as c:
        loop_id = await _start(c)
        await ok(c, "loop_step", {"loop_id": loop_id, "output": "one two three four five"})
        text = await err(c, "loop_step", {"loop_id": loop_id, "output": "more"})
    assert "conflict" in text
    assert "loop_end" in text


@pytest.mark.anyio
@ERAS
async def test_step_refuses_an_unknown_loop(tmp_path: Path, mode: str) -> None:
    """An unknown loop id is not found."""
    async with Client(build_server(make_settings(tmp_path)), mode=mode) as c:
        text = await err(c, "loop_step", {"loop_id": "lp_nope", "output": "x"})
    assert "not found" in text


@pytest.mark.anyio
@ERAS
async def test_step_refuses_negative_tokens(tmp_path: Path, mode: str) -> None:
    """tokens_used cannot be negative."""
    async with Client(build_server(make_settings(tmp_path)), mode=mode) as c:
        loop_id = await _start(c)
        text = await err(c, "loop_step", {"loop_id": loop_id, "output": "x", "tokens_used": -1})
    assert "tokens_used" in text


@pytest.mark.anyio
@ERAS
async def test_end_is_idempotent(tmp_path: Path, mode: str) -> None:
    """A second loop_end returns the same summary."""
    async with Client(build_server(make_settings(tmp_path)), mode=mode) as c:
        loop_id = await _start(c)
        await ok(c, "loop_step", {"loop_id": loop_id, "output": "a b"})
        first = await ok(c, "loop_end", {"loop_id": loop_id, "outcome": "gave up"})
        second = await ok(c, "loop_end", {"loop_id": loop_id})
    assert first == second
    assert (first["status"], first["converged"], len(first["scores"])) == ("closed", False, 1)


@pytest.mark.anyio
@ERAS
async def test_end_refuses_an_unknown_loop(tmp_path: Path, mode: str) -> None:
    """loop_end on an unknown id is not found."""
    async with Client(build_server(make_settings(tmp_path)), mode=mode) as c:
        text = await err(c, "loop_end", {"loop_id": "lp_nope"})
    assert "not found" in text


@pytest.mark.anyio
@ERAS
async def test_end_records_best_score_on_the_plan_task(tmp_path: Path, mode: str) -> None:
    """A loop tied to a plan task records its best score there when it ends."""
    async with Client(build_server(make_settings(tmp_path)), mode=mode) as c:
        plan_id = await new_plan(c)
        loop_id = await _start(c, plan_id=plan_id, task_id="a")
        await ok(c, "loop_step", {"loop_id": loop_id, "output": "one two three four five"})
        end = await ok(c, "loop_end", {"loop_id": loop_id})
        status = await ok(c, "plan_status", {"plan_id": plan_id, "verbose": True})
    assert "recorded output score 1.000" in end["note"]
    assert (status["tasks"][0]["status"], status["tasks"][0]["output_score"]) == ("done", 1.0)


@pytest.mark.anyio
@ERAS
async def test_status_shows_scores_and_state(tmp_path: Path, mode: str) -> None:
    """loop_status shows an open loop's scores and its last feedback."""
    async with Client(build_server(make_settings(tmp_path)), mode=mode) as c:
        loop_id = await _start(c)
        await ok(c, "loop_step", {"loop_id": loop_id, "output": "a b"})
        status = await ok(c, "loop_status", {"loop_id": loop_id})
    assert (status["status"], len(status["scores"]), status["best_output"]) == ("open", 1, "a b")
    assert "too short" in status["note"]


@pytest.mark.anyio
@ERAS
async def test_open_loop_resumes_after_a_restart(tmp_path: Path, mode: str) -> None:
    """A loop left open is listed by stats and takes its next step after a new server starts."""
    settings = make_settings(tmp_path)
    async with Client(build_server(settings), mode=mode) as c:
        loop_id = await _start(c)
        await ok(c, "loop_step", {"loop_id": loop_id, "output": "a b"})
    async with Client(build_server(settings), mode=mode) as c:
        stats = await ok(c, "stats", {})
        step = await ok(c, "loop_step", {"loop_id": loop_id, "output": "one two three four five"})
    assert [lp["loop_id"] for lp in stats["open_loops"]] == [loop_id]
    assert (step["iteration"], step["decision"]) == (2, "stop")


@pytest.mark.anyio
@ERAS
async def test_stats_counts_this_project(tmp_path: Path, mode: str) -> None:
    """stats counts plans, tasks and loops by status for the project."""
    async with Client(build_server(make_settings(tmp_path)), mode=mode) as c:
        await new_plan(c)
        loop_id = await _start(c)
        await ok(c, "loop_end", {"loop_id": loop_id})
        stats = await ok(c, "stats", {})
    assert stats["project"] == "test-project"
    assert (stats["plans"], stats["tasks"], stats["loops"]) == (
        {"active": 1},
        {"pending": 3},
        {"closed": 1},
    )
    assert "open_loops" not in stats
