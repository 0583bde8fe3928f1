"""When a refinement loop stops, and why.

Shared by the server-driven engine (``loopcore.loops.engine.refine``) and the
agent-driven loops (``loop_step``): both build a ``LoopState`` after each
iteration and ask ``decide`` whether to go on.

Order of the checks (DESIGN.md, seed semantics kept):

1. Once ``len(scores) >= min_iterations``, in this order: ``quality_threshold``
   (latest score >= threshold), ``plateau`` (the last two consecutive
   ``|delta|`` both strictly below ``convergence_delta``, so it needs three
   scores), ``no_progress`` (the best score was last raised
   ``no_progress_window`` or more iterations ago), ``repeated_output`` (the
   latest output equals an earlier one after whitespace normalisation), then
   the custom conditions in the order given (reason ``"bayesian"`` for a
   condition named ``"bayesian"``, else ``"condition"``).
2. The budgets, ``timeout``, ``token_budget`` then ``cost_budget``, are hard limits checked
   always, even before ``min_iterations``: a budget is what the caller agreed
   to spend, and ``min_iterations`` must not overrule it.
3. ``max_iterations`` once ``len(scores) >= max_iterations``.

Setting ``convergence_delta`` to 0 turns plateau detection off; a
``no_progress_window`` of ``max_iterations`` or more never fires.

An extended loop (``LoopService.extend``) keeps its scores, but the exits that
judge progress (plateau, no progress, the custom conditions) look only at what
came after the extension (``resumed_at``): more budget means more tries, not
the same verdict again at the next step.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol, get_args, runtime_checkable

from loopcore.errors import InvalidInput
from loopcore.limits import LIMITS

__all__ = [
    "EXIT_REASONS",
    "EXTENDABLE",
    "ExitReason",
    "LoopState",
    "StopCondition",
    "StopConfig",
    "StopDecision",
    "decide",
    "output_fingerprint",
]

ExitReason = Literal[
    "quality_threshold",
    "plateau",
    "no_progress",
    "repeated_output",
    "bayesian",
    "condition",
    "timeout",
    "token_budget",
    "cost_budget",
    "max_iterations",
    "cancelled",
    "error",
]

# Derived from the Literal so the two can never drift apart.
EXIT_REASONS: tuple[ExitReason, ...] = get_args(ExitReason)

EXTENDABLE: frozenset[ExitReason] = frozenset(
    {
        "plateau",
        "no_progress",
        "repeated_output",
        "bayesian",
        "condition",
        "timeout",
        "token_budget",
        "cost_budget",
        "max_iterations",
    }
)
"""Exits after which a loop may be given more budget: not a pass, a cancel or an error."""

MAX_ITERATIONS_CAP = LIMITS.loop_iterations


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_int(value: object, name: str, low: int, high: int) -> None:
    if not (isinstance(value, int) and not isinstance(value, bool) and low <= value <= high):
        raise InvalidInput(f"must be an integer in [{low}, {high}], got {value!r}", field=name)


def _check_unit(value: object, name: str) -> None:
    ok = (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(value)
        and 0.0 <= value <= 1.0
    )
    if not ok:
        raise InvalidInput(f"must be a finite number in [0, 1], got {value!r}", field=name)


def _check_seconds(value: object, name: str) -> None:
    ok = (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(value)
        and value > 0
    )
    if not ok:
        raise InvalidInput(f"must be a finite number of seconds > 0, got {value!r}", field=name)


@dataclass(frozen=True, kw_only=True)
class StopConfig:
    """The stopping rules of one loop.

    Attributes:
        max_iterations: hard cap on iterations, 1..100.
        min_iterations: iterations before the quality-based exits may fire,
            1..max_iterations (the budgets ignore it).
        quality_threshold: stop once the latest score reaches it, in [0, 1].
        convergence_delta: plateau when two consecutive ``|delta|`` are below
            it, in [0, 1]; 0 turns plateau detection off.
        no_progress_window: stop when the best score has not been raised in
            this many iterations, 1..100.
        max_tokens: token budget over the whole loop (None: unlimited).
        timeout_s: time budget over the whole loop in seconds (None: unlimited).
        max_cost: cost budget over the whole loop, in the currency of the prices
            the caller priced tokens with (None: unlimited).
        resumed_at: the number of iterations when the loop was last extended (0:
            never); the progress exits judge only the iterations after it.

    Raises:
        InvalidInput: naming the first field out of range.
    """

    max_iterations: int = 5
    min_iterations: int = 1
    quality_threshold: float = 0.85
    convergence_delta: float = 0.01
    no_progress_window: int = 3
    max_tokens: int | None = None
    timeout_s: float | None = None
    max_cost: float | None = None
    resumed_at: int = 0

    def __post_init__(self) -> None:
        _check_int(self.max_iterations, "max_iterations", 1, MAX_ITERATIONS_CAP)
        _check_int(self.min_iterations, "min_iterations", 1, self.max_iterations)
        _check_unit(self.quality_threshold, "quality_threshold")
        _check_unit(self.convergence_delta, "convergence_delta")
        _check_int(self.no_progress_window, "no_progress_window", 1, MAX_ITERATIONS_CAP)
        if self.max_tokens is not None:
            _check_int(self.max_tokens, "max_tokens", 1, 2**62)
        if self.timeout_s is not None:
            _check_seconds(self.timeout_s, "timeout_s")
        if self.max_cost is not None:
            _check_seconds(self.max_cost, "max_cost")  # a finite amount > 0, like seconds
        _check_int(self.resumed_at, "resumed_at", 0, MAX_ITERATIONS_CAP)


@dataclass(frozen=True, kw_only=True)
class LoopState:
    """What a loop has done so far.

    Attributes:
        scores: one per iteration, latest last, each in [0, 1].
        outputs: the output of each iteration (same length as ``scores``).
        tokens_used: tokens spent so far.
        elapsed_s: seconds since the loop started.
        cost: what the tokens cost so far (0 when unpriced).

    Raises:
        InvalidInput: on a score outside [0, 1], mismatched lengths or a
            negative budget figure.
    """

    scores: tuple[float, ...]
    outputs: tuple[str, ...]
    tokens_used: int = 0
    elapsed_s: float = 0.0
    cost: float = 0.0

    def __post_init__(self) -> None:
        for s in self.scores:
            _check_unit(s, "scores")
        if len(self.outputs) != len(self.scores):
            raise InvalidInput(
                f"needs one output per score ({len(self.scores)}), got {len(self.outputs)}",
                field="outputs",
            )
        if not _is_int(self.tokens_used) or self.tokens_used < 0:
            raise InvalidInput("must be a non-negative integer", field="tokens_used")
        if not math.isfinite(self.elapsed_s) or self.elapsed_s < 0:
            raise InvalidInput("must be a finite number >= 0", field="elapsed_s")
        if not math.isfinite(self.cost) or self.cost < 0:
            raise InvalidInput("must be a finite number >= 0", field="cost")


@runtime_checkable
class StopCondition(Protocol):
    """A custom exit (e.g. the Bayesian one of ``loopcore.loops.priors``)."""

    name: str

    def check(self, state: LoopState, config: StopConfig) -> bool:
        """True when the loop should stop."""
        ...


@dataclass(frozen=True, kw_only=True)
class StopDecision:
    """Whether to stop, the exit reason when stopping, and a sentence saying why."""

    stop: bool
    reason: ExitReason | None
    detail: str


def output_fingerprint(output: str) -> str:
    """A hash of ``output`` with whitespace runs collapsed and the ends stripped."""
    normalised = " ".join(output.split())
    return hashlib.sha256(normalised.encode("utf-8")).hexdigest()


def _stop(reason: ExitReason, detail: str) -> StopDecision:
    return StopDecision(stop=True, reason=reason, detail=detail)


def _plateau(scores: tuple[float, ...], delta: float) -> bool:
    if len(scores) < 3:
        return False
    d1 = abs(scores[-1] - scores[-2])
    d2 = abs(scores[-2] - scores[-3])
    return d1 < delta and d2 < delta


def _since_best(scores: tuple[float, ...]) -> int:
    """Iterations since the best score was first reached (0 when it is the latest)."""
    best = max(scores)
    return len(scores) - 1 - scores.index(best)


def _repeated(outputs: tuple[str, ...]) -> int | None:
    """The 1-based iteration whose output the latest one repeats, if any."""
    latest = output_fingerprint(outputs[-1])
    for i, earlier in enumerate(outputs[:-1]):
        if output_fingerprint(earlier) == latest:
            return i + 1
    return None


def _quality_exits(
    state: LoopState, config: StopConfig, conditions: Sequence[StopCondition]
) -> StopDecision | None:
    scores, n = state.scores, len(state.scores)
    latest = scores[-1]
    fresh = n - config.resumed_at  # iterations since the last extension (all, if never)
    judged = scores[max(0, config.resumed_at - 1) :]
    if latest >= config.quality_threshold:
        return _stop(
            "quality_threshold",
            f"score {latest:.2f} reached the quality threshold "
            f"{config.quality_threshold:.2f} at iteration {n}",
        )
    if _plateau(judged, config.convergence_delta):
        return _stop(
            "plateau",
            f"scores plateaued: the last two changes were both below "
            f"{config.convergence_delta:g} (latest {latest:.2f})",
        )
    if (stale := min(_since_best(scores), fresh)) >= config.no_progress_window:
        return _stop(
            "no_progress",
            f"the best score {max(scores):.2f} has not improved in {stale} iterations",
        )
    if (first := _repeated(state.outputs)) is not None:
        return _stop("repeated_output", f"output of iteration {n} repeats iteration {first}")
    for cond in conditions if fresh >= 2 or not config.resumed_at else ():
        if cond.check(state, config):
            reason: ExitReason = "bayesian" if cond.name == "bayesian" else "condition"
            return _stop(reason, f"stop condition {cond.name!r} said stop at iteration {n}")
    return None


def _budget_exits(state: LoopState, config: StopConfig) -> StopDecision | None:
    if config.timeout_s is not None and state.elapsed_s >= config.timeout_s:
        return _stop(
            "timeout",
            f"time budget spent: {state.elapsed_s:.1f}s of {config.timeout_s:g}s",
        )
    if config.max_tokens is not None and state.tokens_used >= config.max_tokens:
        return _stop(
            "token_budget",
            f"token budget spent: {state.tokens_used} of {config.max_tokens} tokens",
        )
    if config.max_cost is not None and state.cost >= config.max_cost:
        return _stop(
            "cost_budget",
            f"cost budget spent: {state.cost:.4f} of {config.max_cost:g}",
        )
    return None


def _continue_detail(state: LoopState, config: StopConfig) -> str:
    n = len(state.scores)
    if n == 0:
        return "no iteration yet"
    if n < config.min_iterations:
        return (
            f"iteration {n} of a minimum {config.min_iterations}; quality exits apply "
            f"from iteration {config.min_iterations}"
        )
    return (
        f"score {state.scores[-1]:.2f} is below the threshold {config.quality_threshold:.2f}; "
        f"iteration {n} of at most {config.max_iterations}"
    )


def decide(
    state: LoopState, config: StopConfig, conditions: Sequence[StopCondition] = ()
) -> StopDecision:
    """Decide whether a loop stops after its latest iteration (order in the module docstring).

    Args:
        state: the loop so far.
        config: its stopping rules.
        conditions: custom exits, checked after the built-in quality exits.

    Returns:
        A decision; ``reason`` is None when the loop goes on.
    """
    n = len(state.scores)
    if n >= 1 and n >= config.min_iterations:
        decision = _quality_exits(state, config, conditions)
        if decision is not None:
            return decision
    decision = _budget_exits(state, config)
    if decision is not None:
        return decision
    if n >= config.max_iterations:
        return _stop("max_iterations", f"reached max_iterations ({config.max_iterations})")
    return StopDecision(stop=False, reason=None, detail=_continue_detail(state, config))
