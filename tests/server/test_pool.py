"""The evaluation pool: bounded, apart from the transports, and shared fairly by sessions.

Slow evaluations here are real ``command`` evaluations of a script that waits for a file,
so a test decides when they end: no timing, only what can answer while they are held.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client

from loopcore.evaluators import Evaluation, FactoryOptions, build_evaluator
from server.app import build_server
from server.pool import EvaluationPool
from tests.e2e.serving import PY, QUICK_SPEC, WAIT_SPEC, started, waiting_project
from tests.server.helpers import make_settings, ok
from tests.server.prompt_helpers import HostModel

pytestmark = pytest.mark.slow


def test_share_is_half_the_pool_and_never_zero() -> None:
    """A session's share is the fraction of the workers, at least one."""
    assert (EvaluationPool(8, 0.5).per_session, EvaluationPool(1, 0.5).per_session) == (4, 1)


def _recording(spec: dict[str, Any], output: str, options: FactoryOptions, seen: list[int]) -> Any:
    evaluator = build_evaluator(spec, options)

    def run() -> Evaluation:
        seen.append(threading.get_ident())
        return evaluator.evaluate(output)

    return run


@pytest.mark.anyio
async def test_a_cheap_evaluation_is_answered_on_the_event_loop() -> None:
    """try_inline answers a cheap evaluation on the event loop's thread: no hop."""
    seen: list[int] = []
    run = _recording({"type": "regex", "required": ["ok"]}, "ok", FactoryOptions(), seen)
    result = await EvaluationPool(2, 0.5).try_inline(run)
    assert seen == [threading.get_ident()]
    assert (result.score, result.passed) == (1.0, True)


@pytest.mark.anyio
async def test_an_evaluation_past_the_attempt_runs_again_on_a_worker() -> None:
    """A costly evaluation is cut at the attempt's deadline and answered by a pool thread."""
    seen: list[int] = []
    options = FactoryOptions(regex_timeout_s=0.5, evaluation_budget_s=0.3)
    spec = {"type": "regex", "required": ["(a|aa)+$"]}
    run = _recording(spec, "a" * 5_000 + "!", options, seen)
    result = await EvaluationPool(2, 0.5).try_inline(run)
    assert len(seen) == 2 and seen[0] == threading.get_ident() != seen[1]
    assert result.details == {"timed_out": True}
    assert "time budget of 0.3 s ran out" in result.deficiencies[0]


@pytest.mark.anyio
async def test_one_session_cannot_hold_every_worker(tmp_path: Path) -> None:
    """With session A's evaluations all blocked, session B still evaluates on the pool."""
    root = waiting_project(tmp_path / "proj")
    settings = make_settings(
        tmp_path, project=str(root), allow_commands=frozenset({PY}),
        eval_workers=4, eval_session_share=0.5,
    )  # fmt: skip
    mcp = build_server(settings)
    results: list[dict[str, Any]] = []

    async def slow(client: Client) -> None:
        results.append(await ok(client, "verify_output", {"evaluator": WAIT_SPEC}))

    # Handshake era: an in-memory 2026-07-28 client has no session to tell apart (see
    # server.mcp.handlers.session_key); over stdio both eras do (tests/e2e/test_starvation.py).
    a_client, b_client = Client(mcp, mode="legacy"), Client(mcp, mode="legacy")
    async with a_client as a, b_client as b, anyio.create_task_group() as tg:
        for _ in range(4):
            tg.start_soon(slow, a)
        running = await started(root, 2)
        quick = await ok(b, "verify_output", {"evaluator": QUICK_SPEC})
        held = (running, len(results), (root / "go").exists())
        (root / "go").touch()
    assert quick["passed"] is True
    assert held == (2, 0, False)  # A ran only its share (2 of 4) and none had finished
    assert [r["passed"] for r in results] == [True] * 4


@pytest.mark.anyio
async def test_refine_evaluates_on_the_pool(tmp_path: Path) -> None:
    """refine's evaluation holds a pool thread (not one of anyio's default ones) while it runs."""
    root = waiting_project(tmp_path / "proj")
    settings = make_settings(tmp_path, project=str(root), allow_commands=frozenset({PY}))
    mcp = build_server(settings)
    host = HostModel(["an answer"])
    args = {"prompt": "write it", "evaluator": WAIT_SPEC, "max_iterations": 1}
    results: list[Any] = []
    client = Client(mcp, mode="legacy", sampling_callback=host)
    async with client as c, anyio.create_task_group() as tg:

        async def run() -> None:
            results.append(await c.call_tool("refine", args))

        tg.start_soon(run)
        await started(root, 1)
        held = mcp.deps.runtime.pool.limiter.borrowed_tokens
        (root / "go").touch()
    assert held == 1
    assert results[0].is_error is False
