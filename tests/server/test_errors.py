"""Domain errors become tool errors that say what kind of problem, which field, what is allowed."""

from __future__ import annotations

from pathlib import Path

import pytest
from mcp import Client
from mcp.server.mcpserver.exceptions import ToolError

from loopcore.errors import (
    Conflict,
    InvalidInput,
    LoopcoreError,
    LoopNotFound,
    PlanNotFound,
    ProviderError,
    StoreError,
)
from server.app import build_server
from server.errors import CORE_ADVICE, map_errors, to_tool_error
from tests.server.helpers import err, make_settings, ok


@pytest.mark.parametrize(
    ("exc", "text"),
    [
        (
            InvalidInput("must be in [0, 1]", field="score"),
            "invalid input: score: must be in [0, 1]",
        ),
        (PlanNotFound("pl_x"), "not found: no plan with id 'pl_x'"),
        (LoopNotFound("lp_x"), "not found: no loop with id 'lp_x'"),
        (Conflict("archived"), "conflict: archived"),
        (StoreError("disk full"), "storage problem: disk full"),
        (ProviderError("401"), "model provider problem: 401"),
        (LoopcoreError("odd"), "error: odd"),
    ],
)
def test_each_kind_is_labelled(exc: LoopcoreError, text: str) -> None:
    """Each branch of the exception tree gets its own label before the domain's message."""
    assert str(to_tool_error(exc)).startswith(text)


def test_sync_wrapper_maps_and_keeps_the_signature() -> None:
    """A wrapped sync function raises ToolError and keeps its name and annotations."""

    def tool(x: int) -> int:
        raise InvalidInput("too big", field="x")

    wrapped = map_errors(tool)
    assert (wrapped.__name__, wrapped.__annotations__) == ("tool", tool.__annotations__)
    with pytest.raises(ToolError, match="invalid input: x: too big"):
        wrapped(1)


@pytest.mark.anyio
async def test_async_wrapper_maps() -> None:
    """A wrapped async function stays a coroutine function and maps domain errors."""

    async def tool() -> None:
        raise Conflict("taken")

    with pytest.raises(ToolError, match="conflict: taken"):
        await map_errors(tool)()


def test_other_exceptions_pass_through() -> None:
    """Anything that is not a LoopcoreError is left for the SDK to log and withhold."""

    def tool() -> None:
        raise KeyError("bug")

    with pytest.raises(KeyError):
        map_errors(tool)()


# ---- advice fits the tool set (issue 15) ---------------------------------------------------

_NON_CORE = ("plan_replan", "plan_update_task", "plan_list", "plan_explain", "refine")


def test_each_advice_phrase_still_occurs_in_the_sources() -> None:
    """A reworded message would slip past fit_advice: every phrase it rewrites must exist."""
    root = Path(__file__).resolve().parents[2]
    sources = " ".join(
        " ".join(p.read_text(encoding="utf-8").split())
        for d in ("loopcore", "server")
        for p in (root / d).rglob("*.py")
    )
    for full, core in CORE_ADVICE:
        # Sources wrap long strings over lines: compare with string joins removed.
        assert full.replace('"', "") in sources.replace('" "', "").replace('"', ""), full
        assert not any(name in core for name in _NON_CORE), core


@pytest.mark.anyio
@pytest.mark.parametrize("mode", ["legacy", "2026-07-28"])
async def test_core_sessions_are_advised_with_core_tools(tmp_path: Path, mode: str) -> None:
    """Under LOOPCORE_TOOLS=core, errors and reasons name only core tools, and the advice works."""
    settings = make_settings(tmp_path, tools="core")
    tasks = [{"id": "a", "title": "A"}, {"id": "b", "title": "B", "depends_on": ["a"]}]
    async with Client(build_server(settings), mode=mode) as c:
        names = {t.name for t in (await c.list_tools()).tools}
        plan = await ok(c, "plan_create", {"goal": "g", "tasks": tasks, "replan_policy": "block"})
        ids = {"plan_id": plan["plan_id"], "task_id": "a"}
        texts = [await err(c, "plan_status", {"plan_id": "pl_unknown"})]
        texts.append(await err(c, "plan_record", {**ids, "output": "x"}))
        await ok(c, "plan_next_task", {"plan_id": plan["plan_id"]})
        await ok(c, "plan_record", {**ids, "output_score": 0.1})
        blocked = await ok(c, "plan_next_task", {"plan_id": plan["plan_id"]})
        texts.append(blocked["reason"])
        # The advice given: record the task again with a better result.
        again = await ok(c, "plan_record", {**ids, "output_score": 1.0})
        texts.append(" ".join(again["changes"]))
        nxt = await ok(c, "plan_next_task", {"plan_id": plan["plan_id"]})
        advise = await ok(c, "plan_create", {"goal": "g", "tasks": tasks})
        await ok(
            c, "plan_record", {"plan_id": advise["plan_id"], "task_id": "a", "output_score": 0}
        )
        failed = await ok(c, "plan_next_task", {"plan_id": advise["plan_id"]})
        texts.append(failed["reason"])
    assert failed["kind"] == "blocked"
    assert "record one again with plan_record" in failed["reason"]
    assert blocked["kind"] == "needs_replan"
    assert "plan_record" in blocked["reason"]
    assert again["needs_replan"] is False
    assert nxt["kind"] == "task"
    for text in texts:
        mentioned = {n for n in _NON_CORE if n in text}
        assert not mentioned, (text, names)


@pytest.mark.anyio
async def test_core_instructions_and_prompts_name_only_core_tools(tmp_path: Path) -> None:
    """The server's instructions and the scored_plan prompt fit LOOPCORE_TOOLS=core."""
    async with Client(build_server(make_settings(tmp_path, tools="core"))) as core:
        instructions = core.instructions or ""
        prompt = await core.get_prompt("scored_plan", {"goal": "g"})
    async with Client(build_server(make_settings(tmp_path / "all"))) as every:
        full = await every.get_prompt("scored_plan", {"goal": "g"})
    text = getattr(prompt.messages[0].content, "text", "")
    assert "plan_replan" in getattr(full.messages[0].content, "text", "")
    for message in (instructions, text):
        assert not [n for n in _NON_CORE if n in message], message
    assert "record a failed or weak task again" in text
    assert "checking records nothing" in text
