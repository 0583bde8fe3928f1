"""Tests for loopcore.loops.engine: the loop over a scripted provider and a real evaluator."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import anyio
import pytest

from loopcore.clock import FixedClock
from loopcore.errors import InvalidInput, ProviderError
from loopcore.evaluators.base import EvalContext, Evaluation
from loopcore.loops.engine import (
    IterationRecord,
    Prices,
    RefineConfig,
    RefineResult,
    feedback_prompt,
    refine,
)
from loopcore.loops.stopping import LoopState, StopConfig
from loopcore.providers.base import Completion, Message
from loopcore.providers.scripted import ScriptedProvider

SCORE = re.compile(r"score=([0-9.]+)")


class ScoreTag:
    """A deterministic evaluator: the score an output declares ('score=0.62'), 0.0 when none;
    each 'todo: ...' line is a deficiency. It keeps the contexts it was given."""

    name = "score_tag"

    def __init__(self, threshold: float = 0.85) -> None:
        self.threshold = threshold
        self.contexts: list[EvalContext | None] = []

    def evaluate(self, output: str, context: EvalContext | None = None) -> Evaluation:
        self.contexts.append(context)
        m = SCORE.search(output)
        score = float(m.group(1)) if m else 0.0
        todos = [line[5:].strip() for line in output.splitlines() if line.startswith("todo:")]
        return Evaluation.of(score, score >= self.threshold, todos)


@dataclass
class Stalling:
    """A provider that answers from a list until call ``stall_at``, where it runs ``on_stall``
    and then waits forever (a hung model)."""

    outputs: list[str]
    stall_at: int
    on_stall: Callable[[], None] = lambda: None
    calls: int = 0
    name: str = "stalling"

    async def complete(
        self,
        messages: Sequence[Message],
        *,
        max_tokens: int | None = None,
        temperature: float | None = None,
    ) -> Completion:
        self.calls += 1
        if self.calls == self.stall_at:
            self.on_stall()
            await anyio.sleep_forever()
        return Completion(text=self.outputs[self.calls - 1], completion_tokens=1)


@dataclass
class Collector:
    """An on_iteration callback that keeps every record."""

    records: list[IterationRecord] = field(default_factory=list)

    async def __call__(self, record: IterationRecord) -> None:
        self.records.append(record)


@dataclass
class Named:
    """A custom stop condition with a fixed verdict."""

    name: str
    verdict: bool = True

    def check(self, state: LoopState, config: StopConfig) -> bool:
        return self.verdict


def cfg(**stop: object) -> RefineConfig:
    """A RefineConfig with the given stop settings."""
    return RefineConfig(stop=StopConfig(**stop))  # type: ignore[arg-type]


async def run(
    outputs: Sequence[str | Exception], config: RefineConfig, **kw: object
) -> RefineResult:
    """Refine 'Write f.' over a scripted provider and the ScoreTag evaluator."""
    return await refine("Write f.", ScoreTag(), ScriptedProvider(outputs), config, **kw)  # type: ignore[arg-type]


# --- exit reasons ------------------------------------------------------------------------


@pytest.mark.anyio
async def test_quality_threshold_exit() -> None:
    """The loop stops at the first score that reaches the threshold."""
    r = await run(["score=0.5", "score=0.9", "score=1.0"], cfg())
    assert (r.exit_reason, len(r.iterations), r.converged) == ("quality_threshold", 2, True)
    assert (r.best_output, r.best_score, r.output) == ("score=0.9", 0.9, "score=0.9")


@pytest.mark.anyio
async def test_min_iterations_keeps_going_after_a_pass() -> None:
    """With min_iterations 2, a first passing answer does not end the loop."""
    r = await run(["score=0.9", "score=0.95"], cfg(min_iterations=2))
    assert (r.exit_reason, len(r.iterations)) == ("quality_threshold", 2)


@pytest.mark.anyio
async def test_plateau_exit() -> None:
    """Three near-equal scores stop the loop with plateau."""
    r = await run(["score=0.5 a", "score=0.5 b", "score=0.505 c", "x"], cfg(no_progress_window=9))
    assert (r.exit_reason, len(r.iterations)) == ("plateau", 3)
    assert r.converged is False


@pytest.mark.anyio
async def test_no_progress_exit() -> None:
    """Scores that never beat the first stop after the window."""
    outs = ["score=0.6", "score=0.3", "score=0.5", "score=0.2", "score=0.9"]
    r = await run(outs, cfg(max_iterations=10, no_progress_window=3))
    assert (r.exit_reason, len(r.iterations), r.best_output) == ("no_progress", 4, "score=0.6")


@pytest.mark.anyio
async def test_repeated_output_exit() -> None:
    """An answer repeated up to whitespace stops the loop."""
    r = await run(["score=0.4\nbody", "score=0.4   body ", "score=0.9"], cfg())
    assert (r.exit_reason, len(r.iterations)) == ("repeated_output", 2)


@pytest.mark.anyio
async def test_custom_condition_exits() -> None:
    """A custom condition gives 'condition'; one named 'bayesian' gives 'bayesian'."""
    r1 = await run(["score=0.1"], cfg(), conditions=[Named("cost")])
    r2 = await run(["score=0.1"], cfg(), conditions=[Named("nope", False), Named("bayesian")])
    assert (r1.exit_reason, r2.exit_reason) == ("condition", "bayesian")


@pytest.mark.anyio
async def test_max_iterations_exit() -> None:
    """Rising scores that never pass stop at max_iterations."""
    r = await run(["score=0.1", "score=0.3", "score=0.5", "score=0.7"], cfg(max_iterations=3))
    assert (r.exit_reason, len(r.iterations), r.converged) == ("max_iterations", 3, False)
    assert r.exit_detail == "reached max_iterations (3)"


@pytest.mark.anyio
async def test_token_budget_exit() -> None:
    """The loop stops once the tokens spent reach max_tokens."""
    provider = ScriptedProvider(
        ["score=0.1", "score=0.2", "score=0.3", "score=0.4"], tokens_per_call=(100, 50)
    )
    r = await refine("Write f.", ScoreTag(), provider, cfg(max_tokens=400, max_iterations=10))
    assert (r.exit_reason, len(r.iterations), r.total_tokens) == ("token_budget", 3, 450)
    assert [(i.prompt_tokens, i.completion_tokens) for i in r.iterations] == [(100, 50)] * 3


@pytest.mark.anyio
async def test_time_budget_with_fake_clock() -> None:
    """Each call takes 10 fake seconds; a 25 s budget stops after the third."""
    clock = FixedClock()
    scores = iter(["score=0.1", "score=0.2", "score=0.3", "score=0.4"])

    def slow(_: Sequence[Message]) -> str:
        clock.advance(10.0)
        return next(scores)

    r = await refine(
        "Write f.",
        ScoreTag(),
        ScriptedProvider(slow),
        cfg(timeout_s=25.0, max_iterations=10),
        clock=clock,
    )
    assert (r.exit_reason, len(r.iterations), r.elapsed_s) == ("timeout", 3, 30.0)
    assert [i.latency_s for i in r.iterations] == [10.0, 10.0, 10.0]


@pytest.mark.anyio
async def test_time_budget_cuts_a_hung_call() -> None:
    """A call in flight when the budget runs out is cut; the best so far is returned."""
    provider = Stalling(["score=0.4"], stall_at=2)
    r = await refine("Write f.", ScoreTag(), provider, cfg(timeout_s=0.2))
    assert (r.exit_reason, len(r.iterations), r.output) == ("timeout", 1, "score=0.4")
    assert "during iteration 2" in r.exit_detail


@pytest.mark.anyio
async def test_time_budget_on_first_call_raises() -> None:
    """No answer at all within the budget is a ProviderError naming timeout_s."""
    with pytest.raises(ProviderError, match=r"timeout_s=0\.1"):
        await refine("Write f.", ScoreTag(), Stalling([], stall_at=1), cfg(timeout_s=0.1))


# --- provider errors ---------------------------------------------------------------------


@pytest.mark.anyio
async def test_provider_error_mid_loop_returns_best_so_far() -> None:
    """A failure after a good iteration ends the loop with 'error' and keeps the best."""
    r = await run(["score=0.6", "score=0.3", ProviderError("HTTP 503 three times")], cfg())
    assert (r.exit_reason, len(r.iterations), r.output) == ("error", 2, "score=0.6")
    assert "HTTP 503 three times" in r.exit_detail
    assert "iteration 3" in r.exit_detail


@pytest.mark.anyio
async def test_provider_error_on_first_iteration_propagates() -> None:
    """A failure before any answer is raised to the caller."""
    with pytest.raises(ProviderError, match="bad key"):
        await run([ProviderError("bad key")], cfg())


@pytest.mark.anyio
async def test_exhausted_script_mid_loop_is_an_error_exit() -> None:
    """The scripted provider running dry mid-loop ends the loop with 'error'."""
    r = await run(["score=0.2"], cfg())
    assert r.exit_reason == "error"
    assert "no output left" in r.exit_detail


@pytest.mark.anyio
async def test_provider_error_is_not_wrapped_when_cancel_is_watched() -> None:
    """With a cancel event, a provider error still arrives as itself, not an ExceptionGroup."""
    with pytest.raises(ProviderError, match="bad key"):
        await run([ProviderError("bad key")], cfg(), cancel=anyio.Event())


# --- best_of, records, feedback ----------------------------------------------------------


@pytest.mark.anyio
async def test_best_of_false_returns_last() -> None:
    """best_of=False returns the final answer; best_* still name the best one."""
    config = RefineConfig(stop=StopConfig(max_iterations=2), best_of=False)
    r = await run(["score=0.7", "score=0.4"], config)
    assert (r.output, r.final_output, r.final_score) == ("score=0.4", "score=0.4", 0.4)
    assert (r.best_output, r.best_score) == ("score=0.7", 0.7)


@pytest.mark.anyio
async def test_best_of_prefers_earliest_of_equal_scores() -> None:
    """Among equal best scores, the earliest answer is the best."""
    r = await run(["score=0.7 first", "score=0.7 second"], cfg(max_iterations=2))
    assert r.output == "score=0.7 first"


@pytest.mark.anyio
async def test_feedback_prompt_sent_on_second_iteration() -> None:
    """The second prompt carries the original, the previous answer and its deficiencies."""
    provider = ScriptedProvider(
        ["score=0.62\ntodo: handle None\ntodo: add a docstring", "score=0.9"]
    )
    await refine("Write f.", ScoreTag(), provider, cfg())
    first, second = (c.prompt for c in provider.calls)
    assert first == "Write f."
    assert second.startswith("Write f.\n")
    assert "score=0.62\ntodo: handle None" in second
    assert (
        "previous attempt scored 0.62/1.0; issues to fix:\n- handle None\n- add a docstring"
        in second
    )


def test_feedback_prompt_without_deficiencies() -> None:
    """With no deficiency named, the feedback still gives the score and asks for better."""
    text = feedback_prompt("Do it.", "done", Evaluation.of(0.3, False))
    assert "scored 0.30/1.0; no specific issue was named" in text
    assert text.startswith("Do it.\n")


@pytest.mark.anyio
async def test_records_keep_prompt_output_score_and_cost() -> None:
    """Every iteration keeps its prompt, output, score, deficiencies, tokens and latency."""
    provider = ScriptedProvider(["score=0.5\ntodo: more", "score=0.9"], tokens_per_call=(7, 3))
    r = await refine("Write f.", ScoreTag(), provider, cfg())
    one, two = r.iterations
    assert (one.iteration, one.prompt, one.output) == (1, "Write f.", "score=0.5\ntodo: more")
    assert (one.score, one.passed, one.deficiencies) == (0.5, False, ("more",))
    assert (one.prompt_tokens, one.completion_tokens, one.latency_s >= 0.0) == (7, 3, True)
    assert (two.iteration, two.passed, two.prompt) == (2, True, provider.calls[1].prompt)
    assert (r.total_tokens, r.provider) == (20, "scripted")


@pytest.mark.anyio
async def test_on_iteration_sees_each_record() -> None:
    """on_iteration is awaited once per finished iteration, with the same records."""
    seen = Collector()
    r = await run(["score=0.1", "score=0.2", "score=0.95"], cfg(), on_iteration=seen)
    assert tuple(seen.records) == r.iterations


@pytest.mark.anyio
async def test_system_prompt_and_call_options_reach_the_provider() -> None:
    """The system prompt leads every call; token cap and temperature are passed on."""
    provider = ScriptedProvider(["score=0.1", "score=0.95"])
    config = RefineConfig(system_prompt="Be terse.", max_tokens_per_call=64, temperature=0.2)
    await refine("Write f.", ScoreTag(), provider, config)
    call = provider.calls[1]
    assert [m.role for m in call.messages] == ["system", "user"]
    assert (call.messages[0].content, call.max_tokens, call.temperature) == ("Be terse.", 64, 0.2)


@pytest.mark.anyio
async def test_evaluator_gets_previous_and_baseline() -> None:
    """The context carries the goal, the previous evaluation and the first one."""
    ev = ScoreTag()
    await refine("Write f.", ev, ScriptedProvider(["score=0.1", "score=0.2", "score=0.9"]), cfg())
    c1, c2, c3 = ev.contexts
    assert c1 is not None and c2 is not None and c3 is not None
    assert (c1.goal, c1.previous, c1.baseline) == ("Write f.", None, None)
    assert c3.previous is not None and c3.baseline is not None
    assert (c3.previous.score, c3.baseline.score) == (0.2, 0.1)


@pytest.mark.anyio
async def test_given_context_is_kept_and_extended() -> None:
    """A caller's context keeps its fields; its own baseline is not overwritten."""
    ev = ScoreTag()
    base = Evaluation.of(0.05, False)
    ctx = EvalContext(goal="the goal", acceptance="tests pass", baseline=base)
    await refine("Write f.", ev, ScriptedProvider(["score=0.1", "score=0.9"]), cfg(), context=ctx)
    last = ev.contexts[-1]
    assert last is not None
    assert (last.goal, last.acceptance, last.baseline) == ("the goal", "tests pass", base)
    assert last.previous is not None and last.previous.score == 0.1


# --- cancellation ------------------------------------------------------------------------


@pytest.mark.anyio
async def test_cancel_event_between_iterations() -> None:
    """Setting the cancel event after an iteration returns a partial 'cancelled' result."""
    cancel = anyio.Event()

    async def stop_after_first(_: IterationRecord) -> None:
        cancel.set()

    r = await run(["score=0.4", "score=0.9"], cfg(), on_iteration=stop_after_first, cancel=cancel)
    assert (r.exit_reason, len(r.iterations), r.output) == ("cancelled", 1, "score=0.4")
    assert "after 1 finished iterations" in r.exit_detail


@pytest.mark.anyio
async def test_cancel_event_interrupts_a_call_in_flight() -> None:
    """Setting the event while the provider hangs cuts the call and returns the partial result."""
    cancel = anyio.Event()
    provider = Stalling(["score=0.3"], stall_at=2, on_stall=cancel.set)
    r = await refine("Write f.", ScoreTag(), provider, cfg(), cancel=cancel)
    assert (r.exit_reason, len(r.iterations), r.best_score) == ("cancelled", 1, 0.3)


@pytest.mark.anyio
async def test_cancel_before_first_answer_gives_empty_result() -> None:
    """Cancelled before any answer: a consistent result with no iterations."""
    cancel = anyio.Event()
    provider = Stalling([], stall_at=1, on_stall=cancel.set)
    r = await refine("Write f.", ScoreTag(), provider, cfg(), cancel=cancel)
    assert (r.exit_reason, r.iterations, r.output, r.best_score, r.converged) == (
        "cancelled",
        (),
        "",
        0.0,
        False,
    )


@pytest.mark.anyio
@pytest.mark.parametrize("watch", [False, True])
async def test_task_cancellation_is_reraised(watch: bool) -> None:
    """Cancelling the caller's scope propagates (no result); on_iteration kept what finished."""
    seen = Collector()
    results: list[RefineResult] = []
    with anyio.CancelScope() as scope:
        provider = Stalling(["score=0.3"], stall_at=2, on_stall=scope.cancel)
        cancel = anyio.Event() if watch else None
        results.append(
            await refine("Write f.", ScoreTag(), provider, cfg(), on_iteration=seen, cancel=cancel)
        )
    assert scope.cancelled_caught is True
    assert results == []
    assert [r.output for r in seen.records] == ["score=0.3"]


# --- validation --------------------------------------------------------------------------


@pytest.mark.anyio
async def test_empty_prompt_is_invalid() -> None:
    """A blank prompt is an InvalidInput on 'prompt'."""
    with pytest.raises(InvalidInput) as err:
        await refine("  \n", ScoreTag(), ScriptedProvider(["x"]))
    assert err.value.field == "prompt"


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"max_tokens_per_call": 0}, "max_tokens_per_call"),
        ({"max_tokens_per_call": True}, "max_tokens_per_call"),
        ({"max_tokens_per_call": 2.5}, "max_tokens_per_call"),
        ({"temperature": -0.1}, "temperature"),
        ({"temperature": 2.5}, "temperature"),
        ({"temperature": float("nan")}, "temperature"),
        ({"stop": {"max_iterations": 3}}, "stop"),
    ],
)
def test_refine_config_rejects_bad_values(kwargs: dict[str, object], field: str) -> None:
    """Each bad RefineConfig field is an InvalidInput naming it."""
    with pytest.raises(InvalidInput) as err:
        RefineConfig(**kwargs)  # type: ignore[arg-type]
    assert err.value.field == field


def test_refine_config_defaults() -> None:
    """Defaults: best-of on, the default stop rules, no call options."""
    c = RefineConfig()
    assert (c.best_of, c.stop, c.system_prompt, c.temperature) == (True, StopConfig(), None, None)


@pytest.mark.anyio
async def test_refine_with_a_regex_spec_from_the_factory() -> None:
    """A real regex evaluator's deficiencies are fed back and the fixed answer converges."""
    from loopcore.evaluators.factory import build_evaluator

    evaluator = build_evaluator({"type": "regex", "required": ["def retry"], "forbidden": ["TODO"]})
    provider = ScriptedProvider(["TODO: write it", "def retry(fn): ..."])
    r = await refine("Write a retry function.", evaluator, provider)
    assert (r.exit_reason, [i.score for i in r.iterations], r.converged) == (
        "quality_threshold",
        [0.0, 1.0],
        True,
    )
    assert "- missing required pattern 'def retry'" in provider.calls[1].prompt
    assert "- forbidden pattern 'TODO' found: 'TODO'" in provider.calls[1].prompt


# --- whole-loop budgets --------------------------------------------------------------------


@pytest.mark.anyio
async def test_token_budget_stops_the_whole_loop() -> None:
    """100 tokens a call against a 250-token budget: the third answer spends it."""
    provider = ScriptedProvider(
        ["score=0.1", "score=0.2", "score=0.3", "score=0.4"], tokens_per_call=(60, 40)
    )
    r = await refine("Write f.", ScoreTag(), provider, cfg(max_tokens=250, max_iterations=10))
    assert (r.exit_reason, len(r.iterations), r.total_tokens) == ("token_budget", 3, 300)


@pytest.mark.anyio
async def test_prices_give_a_cost_and_a_cost_budget() -> None:
    """At 1.0 per 1k prompt and 2.0 per 1k completion tokens, each call costs 0.14."""
    provider = ScriptedProvider(["score=0.1", "score=0.2", "score=0.3"], tokens_per_call=(60, 40))
    config = RefineConfig(
        stop=StopConfig(max_cost=0.25, max_iterations=10),
        prices=Prices(input_per_1k=1.0, output_per_1k=2.0),
    )
    r = await refine("Write f.", ScoreTag(), provider, config)
    assert (r.exit_reason, len(r.iterations)) == ("cost_budget", 2)
    assert r.cost == pytest.approx(0.28)


@pytest.mark.anyio
async def test_unpriced_loops_report_no_cost() -> None:
    """Without prices the result has no cost, and a cost budget is refused up front."""
    r = await run(["score=0.9"], cfg())
    assert r.cost is None
    with pytest.raises(InvalidInput) as caught:
        RefineConfig(stop=StopConfig(max_cost=1.0))
    assert caught.value.field == "max_cost"
