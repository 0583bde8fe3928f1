"""The server-driven refinement loop.

``refine`` iterates: ask the provider, evaluate the answer, record the
iteration, ask ``loopcore.loops.stopping.decide`` whether to stop; when it goes on,
the next prompt is the original one plus the previous answer and the
evaluator's deficiencies (``feedback_prompt``).

Time is read only through the injected ``clock``. When ``StopConfig.timeout_s``
is set, a provider call in flight is also cut at the remaining budget (an
anyio deadline, since only the event loop can interrupt a wait); the loop then
ends with ``"timeout"`` and the best answer so far.

Cancellation, two ways:

- **Soft** (pass ``cancel``, an ``anyio.Event``): setting it interrupts the
  provider call in flight (or stops before the next one) and ``refine``
  returns a consistent partial result with exit reason ``"cancelled"`` holding
  every finished iteration (possibly none).
- **Hard** (the caller's task or scope is cancelled): the cancellation is
  re-raised untouched, as anyio and asyncio require; nothing is returned.
  A caller that needs the finished iterations collects them with
  ``on_iteration``, which sees each record as soon as it is complete.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace

import anyio
import anyio.to_thread
import structlog

from loopcore.clock import Clock, monotonic
from loopcore.errors import InvalidInput, ProviderError
from loopcore.evaluators.base import EvalContext, Evaluation, Evaluator
from loopcore.loops.stopping import ExitReason, LoopState, StopCondition, StopConfig, decide
from loopcore.providers.base import Completion, Message, Provider

__all__ = [
    "IterationRecord",
    "Prices",
    "RefineConfig",
    "RefineResult",
    "feedback_prompt",
    "refine",
]

log = structlog.get_logger()

OnIteration = Callable[["IterationRecord"], Awaitable[None]]
# Runs one blocking evaluation off the event loop (default: an anyio worker thread).
RunBlocking = Callable[[Callable[[], Evaluation]], Awaitable[Evaluation]]


async def _in_thread(fn: Callable[[], Evaluation]) -> Evaluation:
    return await anyio.to_thread.run_sync(fn)


@dataclass(frozen=True, kw_only=True)
class Prices:
    """What tokens cost: per 1,000 prompt (input) and completion (output) tokens.

    Raises:
        InvalidInput: a price that is negative or not finite.
    """

    input_per_1k: float
    output_per_1k: float

    def __post_init__(self) -> None:
        for name in ("input_per_1k", "output_per_1k"):
            value = getattr(self, name)
            if (
                isinstance(value, bool)
                or not isinstance(value, int | float)
                or not (math.isfinite(value) and value >= 0)
            ):
                raise InvalidInput(f"must be a finite number >= 0, got {value!r}", field=name)

    def cost(self, prompt_tokens: int, completion_tokens: int) -> float:
        """The cost of these tokens."""
        return (prompt_tokens * self.input_per_1k + completion_tokens * self.output_per_1k) / 1000


@dataclass(frozen=True, kw_only=True)
class RefineConfig:
    """How a refinement loop runs.

    Attributes:
        stop: the stopping rules.
        best_of: return the best output (True) or the last one (False).
        system_prompt: sent as a system message before every prompt.
        max_tokens_per_call: completion cap passed to the provider, 1..1,000,000.
        temperature: passed to the provider, in [0, 2].
        prices: what 1,000 prompt and 1,000 completion tokens cost (``Prices``);
            gives the result a cost and makes ``stop.max_cost`` a budget.

    Raises:
        InvalidInput: naming the field out of range.
    """

    stop: StopConfig = field(default_factory=StopConfig)
    best_of: bool = True
    system_prompt: str | None = None
    max_tokens_per_call: int | None = None
    temperature: float | None = None
    prices: Prices | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.stop, StopConfig):
            raise InvalidInput("must be a StopConfig", field="stop")
        if self.stop.max_cost is not None and self.prices is None:
            raise InvalidInput("a cost budget needs token prices", field="max_cost")
        cap = self.max_tokens_per_call
        if cap is not None and not (
            isinstance(cap, int) and not isinstance(cap, bool) and 1 <= cap <= 1_000_000
        ):
            raise InvalidInput("must be an integer in [1, 1000000]", field="max_tokens_per_call")
        t = self.temperature
        if t is not None and not (math.isfinite(t) and 0.0 <= t <= 2.0):
            raise InvalidInput("must be a finite number in [0, 2]", field="temperature")


@dataclass(frozen=True, kw_only=True)
class IterationRecord:
    """One iteration: what was asked, what came back, how it scored, what it cost.

    ``iteration`` is 1-based; ``latency_s`` is the provider call's duration.
    """

    iteration: int
    prompt: str
    output: str
    score: float
    passed: bool
    deficiencies: tuple[str, ...]
    prompt_tokens: int
    completion_tokens: int
    latency_s: float


@dataclass(frozen=True, kw_only=True)
class RefineResult:
    """How a loop ended.

    ``output`` is ``best_output`` when ``best_of`` else ``final_output``;
    ``converged`` means the best score reached the quality threshold. With no
    finished iteration (cancelled before the first answer) the outputs are
    empty, the scores 0.0 and ``iterations`` is empty.
    """

    best_output: str
    best_score: float
    final_output: str
    final_score: float
    iterations: tuple[IterationRecord, ...]
    exit_reason: ExitReason
    exit_detail: str
    converged: bool
    total_tokens: int
    elapsed_s: float
    provider: str
    output: str
    cost: float | None = None


def feedback_prompt(original: str, last_output: str, evaluation: Evaluation) -> str:
    """The next prompt: the original request, the previous answer and what to fix."""
    head = f"Your previous attempt scored {evaluation.score:.2f}/1.0"
    if evaluation.deficiencies:
        issues = "\n".join(f"- {d}" for d in evaluation.deficiencies)
        verdict = f"{head}; issues to fix:\n{issues}"
    else:
        verdict = (
            f"{head}; no specific issue was named, but it falls short of the bar: "
            "make it more complete and more precise."
        )
    return (
        f"{original}\n\n"
        f"--- Your previous attempt ---\n{last_output}\n--- End of previous attempt ---\n\n"
        f"{verdict}\n\n"
        "Write a new, complete answer to the original request that fixes these issues. "
        "Reply with the answer only, without commentary on what changed."
    )


@dataclass(frozen=True, kw_only=True, slots=True)
class _Exit:
    """Why the loop ends before (or instead of) evaluating an answer."""

    reason: ExitReason
    detail: str


class _Loop:
    """One run of ``refine``: the injected parts, and the state that changes."""

    def __init__(
        self,
        prompt: str,
        evaluator: Evaluator,
        provider: Provider,
        config: RefineConfig,
        context: EvalContext,
        conditions: Sequence[StopCondition],
        on_iteration: OnIteration | None,
        clock: Clock,
        cancel: anyio.Event | None,
        run_blocking: RunBlocking = _in_thread,
    ) -> None:
        self.original = prompt
        self.evaluator = evaluator
        self.provider = provider
        self.config = config
        self.context = context
        self.conditions = tuple(conditions)
        self.on_iteration = on_iteration
        self.clock = clock
        self.cancel = cancel
        self.run_blocking = run_blocking
        self.started = clock()
        self.records: list[IterationRecord] = []
        self.evaluations: list[Evaluation] = []

    async def run(self) -> RefineResult:
        prompt = self.original
        while True:
            if self.cancel is not None and self.cancel.is_set():
                return self._result("cancelled", self._cancel_detail())
            called = await self._call(prompt)
            if isinstance(called, _Exit):
                return self._result(called.reason, called.detail)
            completion, latency = called
            record = await self._evaluate(prompt, completion, latency)
            if self.on_iteration is not None:
                await self.on_iteration(record)
            decision = decide(self._state(), self.config.stop, self.conditions)
            if decision.stop and decision.reason is not None:
                return self._result(decision.reason, decision.detail)
            prompt = feedback_prompt(self.original, record.output, self.evaluations[-1])

    def _messages(self, prompt: str) -> list[Message]:
        system = self.config.system_prompt
        head = [Message(role="system", content=system)] if system else []
        return [*head, Message(role="user", content=prompt)]

    async def _call(self, prompt: str) -> tuple[Completion, float] | _Exit:
        """The provider's completion and its latency, or why the loop ends here."""
        n = len(self.records) + 1
        before = self.clock()
        try:
            completion = await self._bounded(self._messages(prompt))
        except ProviderError as exc:
            if not self.records:
                raise
            log.warning("refine.provider_failed", iteration=n, error=str(exc))
            return _Exit(
                reason="error",
                detail=f"provider {self.provider.name!r} failed at iteration {n}: {exc}",
            )
        if completion is not None:
            return completion, self.clock() - before
        if self.cancel is not None and self.cancel.is_set():
            return _Exit(reason="cancelled", detail=self._cancel_detail())
        timeout = self.config.stop.timeout_s
        if not self.records:
            raise ProviderError(
                f"provider {self.provider.name!r} gave no answer within the loop's time budget "
                f"(timeout_s={timeout:g}); raise timeout_s or use a faster model"
            )
        return _Exit(
            reason="timeout", detail=f"time budget of {timeout:g}s ran out during iteration {n}"
        )

    def _cancel_detail(self) -> str:
        return f"cancelled by the caller after {len(self.records)} finished iterations"

    async def _bounded(self, messages: Sequence[Message]) -> Completion | None:
        """The completion, or None when the cancel event or the time budget cut it."""
        remaining: float | None = None
        if self.config.stop.timeout_s is not None:
            remaining = self.config.stop.timeout_s - (self.clock() - self.started)
        with anyio.move_on_after(remaining) as scope:
            if self.cancel is None:
                return await self._complete(messages)
            return await self._race(messages, scope)
        return None

    async def _complete(self, messages: Sequence[Message]) -> Completion:
        return await self.provider.complete(
            messages,
            max_tokens=self.config.max_tokens_per_call,
            temperature=self.config.temperature,
        )

    async def _race(self, messages: Sequence[Message], scope: anyio.CancelScope) -> Completion:
        """Run the call while watching the cancel event; the event cancels ``scope``."""
        assert self.cancel is not None
        answers: list[Completion] = []
        errors: list[Exception] = []
        async with anyio.create_task_group() as tg:

            async def call() -> None:
                try:
                    answers.append(await self._complete(messages))
                except Exception as exc:  # relayed below unwrapped, not as an ExceptionGroup
                    errors.append(exc)
                finally:
                    tg.cancel_scope.cancel()  # the call is over: stop watching

            tg.start_soon(call)
            await self.cancel.wait()
            scope.cancel()
        if errors:
            raise errors[0]
        return answers[0]

    async def _evaluate(
        self, prompt: str, completion: Completion, latency: float
    ) -> IterationRecord:
        """Score the answer (in a worker thread: evaluators may run commands) and record it."""
        ctx = replace(
            self.context,
            previous=self.evaluations[-1] if self.evaluations else self.context.previous,
            baseline=self.context.baseline or (self.evaluations[0] if self.evaluations else None),
        )
        text = completion.text
        evaluation = await self.run_blocking(lambda: self.evaluator.evaluate(text, ctx))
        record = IterationRecord(
            iteration=len(self.records) + 1,
            prompt=prompt,
            output=completion.text,
            score=evaluation.score,
            passed=evaluation.passed,
            deficiencies=tuple(evaluation.deficiencies),
            prompt_tokens=completion.prompt_tokens,
            completion_tokens=completion.completion_tokens,
            latency_s=latency,
        )
        self.evaluations.append(evaluation)
        self.records.append(record)
        return record

    def _tokens(self) -> int:
        return sum(r.prompt_tokens + r.completion_tokens for r in self.records)

    def _cost(self) -> float | None:
        prices = self.config.prices
        if prices is None:
            return None
        return sum(prices.cost(r.prompt_tokens, r.completion_tokens) for r in self.records)

    def _state(self) -> LoopState:
        return LoopState(
            scores=tuple(r.score for r in self.records),
            outputs=tuple(r.output for r in self.records),
            tokens_used=self._tokens(),
            elapsed_s=max(0.0, self.clock() - self.started),
            cost=self._cost() or 0.0,
        )

    def _result(self, reason: ExitReason, detail: str) -> RefineResult:
        records = tuple(self.records)
        # max() keeps the first of equal scores: the earliest best answer wins ties.
        best = max(records, key=lambda r: r.score) if records else None
        final = records[-1] if records else None
        best_output, best_score = (best.output, best.score) if best else ("", 0.0)
        final_output, final_score = (final.output, final.score) if final else ("", 0.0)
        result = RefineResult(
            best_output=best_output,
            best_score=best_score,
            final_output=final_output,
            final_score=final_score,
            iterations=records,
            exit_reason=reason,
            exit_detail=detail,
            converged=best is not None and best.score >= self.config.stop.quality_threshold,
            total_tokens=self._tokens(),
            elapsed_s=max(0.0, self.clock() - self.started),
            provider=self.provider.name,
            output=best_output if self.config.best_of else final_output,
            cost=self._cost(),
        )
        log.info(
            "refine.finished",
            exit_reason=reason,
            iterations=len(records),
            best_score=round(best_score, 4),
            provider=result.provider,
        )
        return result


async def refine(
    prompt: str,
    evaluator: Evaluator,
    provider: Provider,
    config: RefineConfig = RefineConfig(),
    *,
    context: EvalContext | None = None,
    conditions: Sequence[StopCondition] = (),
    on_iteration: OnIteration | None = None,
    clock: Clock = monotonic,
    cancel: anyio.Event | None = None,
    run_blocking: RunBlocking = _in_thread,
) -> RefineResult:
    """Run a refinement loop until a stopping condition fires.

    Args:
        prompt: the original request.
        evaluator: scores each answer; it gets ``context`` with ``previous``
            (the last evaluation) and ``baseline`` (the first) filled in.
        provider: produces the answers.
        config: stopping rules and call options.
        context: what the evaluator may know; defaults to the prompt as goal.
        conditions: custom exits (e.g. the Bayesian one).
        on_iteration: awaited with each finished iteration (progress reports).
        clock: monotonic seconds; the only time source for budgets and latency.
        cancel: set it to stop the loop and get the partial result
            (exit reason ``"cancelled"``).
        run_blocking: runs each (blocking) evaluation off the event loop; the server
            passes its evaluation pool.

    Returns:
        The result; ``output`` is the best answer when ``config.best_of``.

    Raises:
        InvalidInput: an empty prompt.
        ProviderError: the provider failed (or ran out of the time budget) on
            the first iteration. Later failures end the loop with exit reason
            ``"error"`` and the best answer so far.
    """
    if not prompt.strip():
        raise InvalidInput("must not be empty", field="prompt")
    loop = _Loop(
        prompt,
        evaluator,
        provider,
        config,
        context if context is not None else EvalContext(goal=prompt),
        conditions,
        on_iteration,
        clock,
        cancel,
        run_blocking,
    )
    return await loop.run()
