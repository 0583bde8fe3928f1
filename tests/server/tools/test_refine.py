"""The refine tool: host sampling or a configured HTTP provider, progress, limits, priors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client

from loopcore.store.observations import LoopObservation
from tests.loopcore.providers.chat_server import Reply, chat_reply, running_chat_server
from tests.server.prompt_helpers import HostModel, served

SPEC = {"type": "regex", "required": ["alpha", "beta", "gamma", "delta", "epsilon"]}
ARGS: dict[str, Any] = {"prompt": "List five Greek letters.", "evaluator": SPEC}


class Progress:
    """Records progress notifications."""

    def __init__(self) -> None:
        self.seen: list[tuple[float, float | None, str | None]] = []
        self.first = anyio.Event()

    async def __call__(self, progress: float, total: float | None, message: str | None) -> None:
        self.seen.append((progress, total, message))
        self.first.set()


def text_of(result: Any) -> str:
    """The first text block of a tool result."""
    return str(result.content[0].text)


@pytest.mark.anyio
async def test_refine_runs_on_host_sampling_until_the_threshold(tmp_path: Path) -> None:
    """Legacy client with sampling: two answers, the second passes; the result says sampling."""
    host = HostModel(["alpha beta", "alpha beta gamma delta epsilon"], model="host-m")
    with served(tmp_path) as (srv, _):
        async with Client(srv, mode="legacy", sampling_callback=host) as c:
            r = await c.call_tool("refine", ARGS)
    out = r.structured_content
    assert out is not None and not r.is_error
    assert (out["provider"], out["provider_name"], out["model"]) == (
        "sampling",
        "sampling:host-m",
        "host-m",
    )
    assert [it["score"] for it in out["iterations"]] == [0.4, 1.0]
    assert (out["exit_reason"], out["converged"], out["best_score"]) == (
        "quality_threshold",
        True,
        1.0,
    )
    assert out["output"] == "alpha beta gamma delta epsilon"
    assert out["tokens_reported"] is False


@pytest.mark.anyio
async def test_feedback_of_the_first_attempt_reaches_the_second_request(tmp_path: Path) -> None:
    """The second sampling request carries the previous answer and its deficiencies."""
    host = HostModel(["alpha beta", "alpha beta gamma delta epsilon"])
    with served(tmp_path) as (srv, _):
        async with Client(srv, mode="legacy", sampling_callback=host) as c:
            await c.call_tool("refine", ARGS)
    second = host.seen[1].messages[-1].content.text  # type: ignore[union-attr]
    assert "alpha beta" in second and "missing required pattern 'gamma'" in second


@pytest.mark.anyio
async def test_refine_reports_progress_per_iteration(tmp_path: Path) -> None:
    """One progress notification per iteration, out of the loop's iteration budget."""
    host = HostModel(["alpha", "alpha beta", "alpha beta gamma delta epsilon"])
    progress = Progress()
    with served(tmp_path) as (srv, _):
        async with Client(srv, mode="legacy", sampling_callback=host) as c:
            await c.call_tool("refine", {**ARGS, "max_iterations": 4}, progress_callback=progress)
    assert progress.seen == [
        (1.0, 4.0, "iteration 1: score 0.20"),
        (2.0, 4.0, "iteration 2: score 0.40"),
        (3.0, 4.0, "iteration 3: score 1.00"),
    ]


@pytest.mark.anyio
async def test_refine_uses_the_configured_http_provider_without_sampling(tmp_path: Path) -> None:
    """2026-07-28 client, provider configured: the loop runs over real HTTP, tokens counted."""
    with running_chat_server() as chat:
        chat.script(chat_reply("alpha beta gamma", prompt_tokens=10, completion_tokens=5))
        chat.script(
            chat_reply("alpha beta gamma delta epsilon", prompt_tokens=30, completion_tokens=6)
        )
        settings = {"provider_base_url": chat.base_url, "provider_model": "served-model"}
        progress = Progress()
        with served(tmp_path, **settings) as (srv, _):
            async with Client(srv, mode="2026-07-28") as c:
                r = await c.call_tool("refine", ARGS, progress_callback=progress)
    out = r.structured_content
    assert out is not None and not r.is_error
    assert (out["provider"], out["provider_name"]) == ("configured", "openai_compat:served-model")
    assert (out["total_tokens"], out["tokens_reported"]) == (51, True)
    assert [it["tokens"] for it in out["iterations"]] == [15, 36]
    assert [p[0] for p in progress.seen] == [1.0, 2.0]
    assert chat.seen[0].body["model"] == "served-model"


@pytest.mark.anyio
async def test_refine_without_any_provider_points_to_loop_tools(tmp_path: Path) -> None:
    """No sampling, nothing configured: an error naming the settings and loop_start/loop_step."""
    with served(tmp_path) as (srv, _):
        async with Client(srv, mode="legacy") as c:
            r = await c.call_tool("refine", ARGS)
    assert r.is_error
    text = text_of(r)
    assert "model provider problem: no model to run the loop with" in text
    assert "LOOPCORE_PROVIDER_BASE_URL" in text and "loop_start, then loop_step" in text


@pytest.mark.anyio
async def test_sampling_on_a_modern_session_is_refused_with_the_reason(tmp_path: Path) -> None:
    """provider='sampling' on 2026-07-28: the error says mid-call sampling needs legacy."""
    with served(tmp_path) as (srv, _):
        async with Client(srv, mode="2026-07-28", sampling_callback=HostModel(["x"])) as c:
            r = await c.call_tool("refine", {**ARGS, "provider": "sampling"})
    assert r.is_error
    assert "mid-call sampling needs the legacy handshake" in text_of(r)


@pytest.mark.anyio
async def test_a_bad_evaluator_spec_is_reported_before_any_model(tmp_path: Path) -> None:
    """An unknown evaluator type is an invalid-input error; the host is never asked."""
    host = HostModel(["x"])
    with served(tmp_path) as (srv, _):
        async with Client(srv, mode="legacy", sampling_callback=host) as c:
            r = await c.call_tool("refine", {**ARGS, "evaluator": {"type": "nope"}})
    assert r.is_error
    assert "invalid input" in text_of(r)
    assert host.seen == []


@pytest.mark.anyio
async def test_timeout_above_the_bound_is_rejected(tmp_path: Path) -> None:
    """timeout_s is bounded at 600 seconds."""
    with served(tmp_path) as (srv, _):
        async with Client(srv, mode="legacy") as c:
            r = await c.call_tool("refine", {**ARGS, "timeout_s": 601})
    assert r.is_error
    assert "timeout_s" in text_of(r) and "600" in text_of(r)


@pytest.mark.anyio
async def test_a_provider_slower_than_the_time_limit_is_cut(tmp_path: Path) -> None:
    """A first answer later than timeout_s ends the call with a provider error saying so."""
    with running_chat_server() as chat:
        chat.script(Reply(body=b"{}", delay_s=30))
        settings = {"provider_base_url": chat.base_url, "provider_model": "slow"}
        with served(tmp_path, **settings) as (srv, _):
            async with Client(srv, mode="legacy") as c:
                r = await c.call_tool("refine", {**ARGS, "timeout_s": 0.5})
    assert r.is_error
    assert "no answer within the loop's time budget (timeout_s=0.5)" in text_of(r)


@pytest.mark.anyio
async def test_finished_loops_are_recorded_for_the_priors(tmp_path: Path) -> None:
    """A finished refine lands in the priors under its task type and the host's model."""
    host = HostModel(["alpha beta gamma delta epsilon"], model="host-m")
    with served(tmp_path) as (srv, store):
        async with Client(srv, mode="legacy", sampling_callback=host) as c:
            r = await c.call_tool("refine", {**ARGS, "task_type": "letters"})
        _, outcomes = store.load_prior_stats()
    assert r.structured_content is not None and r.structured_content["learned"] is True
    assert [(o.task_type, o.model, o.loops, o.converged) for o in outcomes] == [
        ("letters", "host-m", 1, 1)
    ]


@pytest.mark.anyio
async def test_cancelled_call_stops_and_teaches_nothing(tmp_path: Path) -> None:
    """The client cancels mid-loop: the server drops its pending sampling request, records
    nothing, and the session goes on."""
    abandoned = anyio.Event()

    class SlowHost(HostModel):
        async def __call__(self, context: Any, params: Any) -> Any:
            if self.seen:
                try:
                    await anyio.sleep_forever()  # the second answer never comes
                except anyio.get_cancelled_exc_class():
                    abandoned.set()  # the server withdrew the request
                    raise
            return await super().__call__(context, params)

    host, progress = SlowHost(["alpha", "alpha beta"]), Progress()
    with served(tmp_path) as (srv, store):
        async with Client(srv, mode="legacy", sampling_callback=host) as c:
            async with anyio.create_task_group() as tg:

                async def call() -> None:
                    await c.call_tool("refine", ARGS, progress_callback=progress)

                tg.start_soon(call)
                await progress.first.wait()
                tg.cancel_scope.cancel()
            with anyio.fail_after(10):
                await abandoned.wait()
            after = await c.call_tool("suggest_config", {"task_type": "general"})
        _, outcomes = store.load_prior_stats()
    assert [p[0] for p in progress.seen] == [1.0]
    assert outcomes == []
    assert after.structured_content is not None and after.structured_content["based_on_loops"] == 0


@pytest.mark.anyio
async def test_learned_priors_stop_a_hopeless_loop_early(tmp_path: Path) -> None:
    """After loops of this kind never converged, the Bayesian exit stops at iteration 2."""
    host = HostModel(["alpha", "alpha beta", "alpha beta gamma"])
    with served(tmp_path) as (srv, store):
        for _ in range(12):
            store.record_observation(
                LoopObservation(
                    task_type="hopeless",
                    scores=(0.2, 0.25, 0.28, 0.3, 0.31, 0.31),
                    threshold=0.85,
                    converged=False,
                )
            )
        async with Client(srv, mode="legacy", sampling_callback=host) as c:
            r = await c.call_tool("refine", {**ARGS, "task_type": "hopeless", "max_iterations": 6})
    out = r.structured_content
    assert out is not None and not r.is_error
    assert (out["exit_reason"], len(out["iterations"])) == ("bayesian", 2)


@pytest.mark.anyio
async def test_refine_stops_on_its_whole_loop_token_budget(tmp_path: Path) -> None:
    """Two reported answers of 40 tokens against a 70-token budget: the loop stops at two."""
    with running_chat_server() as chat:
        for text in ("alpha", "alpha beta", "alpha beta gamma"):
            chat.script(chat_reply(text, prompt_tokens=30, completion_tokens=10))
        settings = {"provider_base_url": chat.base_url, "provider_model": "served-model"}
        with served(tmp_path, **settings) as (srv, _):
            async with Client(srv, mode="2026-07-28") as c:
                r = await c.call_tool("refine", {**ARGS, "token_budget": 70, "max_iterations": 5})
    out = r.structured_content
    assert out is not None and not r.is_error, text_of(r)
    assert (out["exit_reason"], len(out["iterations"]), out["total_tokens"]) == (
        "token_budget",
        2,
        80,
    )
    assert out["config"]["token_budget"] == 70
    assert out.get("cost") is None


@pytest.mark.anyio
async def test_refine_reports_cost_and_stops_on_its_cost_budget(tmp_path: Path) -> None:
    """Priced at 2.0/1k in and 4.0/1k out, each answer costs 0.1: a 0.15 budget stops at two."""
    with running_chat_server() as chat:
        for text in ("alpha", "alpha beta", "alpha beta gamma"):
            chat.script(chat_reply(text, prompt_tokens=30, completion_tokens=10))
        settings = {
            "provider_base_url": chat.base_url,
            "provider_model": "served-model",
            "price_input_per_1k": 2.0,
            "price_output_per_1k": 4.0,
        }
        with served(tmp_path, **settings) as (srv, _):
            async with Client(srv, mode="2026-07-28") as c:
                r = await c.call_tool("refine", {**ARGS, "max_cost": 0.15, "max_iterations": 5})
    out = r.structured_content
    assert out is not None and not r.is_error, text_of(r)
    assert (out["exit_reason"], len(out["iterations"])) == ("cost_budget", 2)
    assert out["cost"] == pytest.approx(0.2)


@pytest.mark.anyio
async def test_a_cost_budget_without_prices_is_refused_before_any_call(tmp_path: Path) -> None:
    """No prices configured: max_cost is a clear error naming the settings; no model is called."""
    with running_chat_server() as chat:
        settings = {"provider_base_url": chat.base_url, "provider_model": "served-model"}
        with served(tmp_path, **settings) as (srv, _):
            async with Client(srv, mode="2026-07-28") as c:
                r = await c.call_tool("refine", {**ARGS, "max_cost": 1.0})
        assert chat.seen == []
    assert r.is_error
    assert "LOOPCORE_PRICE_INPUT_PER_1K" in text_of(r)
