"""suggest_config from the priors; the priors cache belongs to each store's services."""

from __future__ import annotations

from pathlib import Path

import pytest
from mcp import Client

from loopcore.clock import system_clock
from loopcore.store.observations import LoopObservation
from server.runtime import Runtime
from tests.server.helpers import make_settings
from tests.server.prompt_helpers import HostModel, served

SPEC = {"type": "regex", "required": ["alpha", "beta"]}


def obs(task_type: str = "code", model: str = "m1", *, converged: bool = True) -> LoopObservation:
    """A finished loop of three iterations."""
    scores = (0.5, 0.8, 0.9) if converged else (0.3, 0.35, 0.36)
    return LoopObservation(
        task_type=task_type, model=model, scores=scores, threshold=0.85, converged=converged
    )


@pytest.mark.anyio
async def test_suggest_config_before_any_loop_gives_the_defaults(tmp_path: Path) -> None:
    """No loop observed: the defaults, based on 0 loops, no prior rows."""
    with served(tmp_path) as (srv, _):
        async with Client(srv) as c:
            r = await c.call_tool("suggest_config", {"task_type": "code"})
    out = r.structured_content
    assert out is not None
    assert (out["source"], out["based_on_loops"], out["max_iterations"]) == ("default", 0, 5)
    assert out["quality_threshold"] == 0.85 and out["priors"] == []
    assert "no loops observed" in out["rationale"]


@pytest.mark.anyio
async def test_suggest_config_after_loops_closed_with_loop_end(tmp_path: Path) -> None:
    """Five agent-driven loops closed with loop_end turn the defaults into a learned config."""
    with served(tmp_path) as (srv, _):
        async with Client(srv) as c:
            before = await c.call_tool("suggest_config", {"task_type": "code"})
            for _ in range(5):
                start = await c.call_tool(
                    "loop_start", {"goal": "say alpha beta", "evaluator": SPEC, "task_type": "code"}
                )
                assert start.structured_content is not None
                loop_id = start.structured_content["loop_id"]
                await c.call_tool("loop_step", {"loop_id": loop_id, "output": "alpha"})
                await c.call_tool("loop_step", {"loop_id": loop_id, "output": "alpha beta"})
                await c.call_tool("loop_end", {"loop_id": loop_id})
            after = await c.call_tool("suggest_config", {"task_type": "code"})
    assert before.structured_content is not None and after.structured_content is not None
    assert before.structured_content["source"] == "default"
    out = after.structured_content
    assert (out["source"], out["based_on_loops"]) == ("prior", 5)
    assert out["expected_iterations"] == 2.0
    assert [(p["model"], p["loops"], p["converged"]) for p in out["priors"]] == [("", 5, 5)]


@pytest.mark.anyio
async def test_suggest_config_counts_refine_loops(tmp_path: Path) -> None:
    """Loops run by refine are learned too, under the host's model."""
    host = HostModel(["alpha", "alpha beta"], model="host-m")
    with served(tmp_path) as (srv, _):
        async with Client(srv, mode="legacy", sampling_callback=host) as c:
            args = {"prompt": "say it", "evaluator": SPEC, "task_type": "docs"}
            await c.call_tool("refine", args)
            r = await c.call_tool("suggest_config", {"task_type": "docs", "model": "host-m"})
    out = r.structured_content
    assert out is not None
    assert out["based_on_loops"] == 1
    assert [(p["model"], p["loops"]) for p in out["priors"]] == [("host-m", 1)]


@pytest.mark.anyio
async def test_suggest_config_keeps_the_callers_threshold(tmp_path: Path) -> None:
    """The threshold is the caller's, never learned."""
    with served(tmp_path) as (srv, store):
        for _ in range(6):
            store.record_observation(obs())
        async with Client(srv) as c:
            r = await c.call_tool("suggest_config", {"task_type": "code", "quality_threshold": 0.7})
    out = r.structured_content
    assert out is not None and (out["quality_threshold"], out["source"]) == (0.7, "prior")


@pytest.mark.anyio
async def test_suggest_config_rejects_a_bad_task_type(tmp_path: Path) -> None:
    """task_type is a short label."""
    with served(tmp_path) as (srv, _):
        async with Client(srv) as c:
            r = await c.call_tool("suggest_config", {"task_type": "two words"})
    assert r.is_error


def test_each_store_has_one_priors_cache(tmp_path: Path) -> None:
    """The services of an open store hold one priors cache; a reopened store, a new one."""
    runtime = Runtime(make_settings(tmp_path), system_clock)
    runtime.acquire()
    runtime.acquire()
    first = runtime.services
    same = first.priors is runtime.services.priors
    runtime.release()
    runtime.release()
    runtime.acquire()
    try:
        assert same and runtime.services.priors is not first.priors
    finally:
        runtime.release()
