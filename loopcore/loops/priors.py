"""What the server learns from finished loops: suggested configs and a Bayesian exit.

The statistics (``loopcore.store.observations``) are kept per key ``(task_type, model)``:
per iteration ``i`` a Welford of the score ``S_i`` and of the delta
``D_i = S_i - S_{i-1}``, and per key Beta counts of convergence with Welford
costs. ``model=None`` pools every model of a task type (Welford ``merge``).
Human prompt ratings never feed these priors: nothing here accepts them.

The Bayesian exit, its maths and its ``StopCondition``, live in
``loopcore.loops.bayes_exit``; ``Priors.stop_condition`` builds one for a key.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any, Literal

from loopcore.errors import InvalidInput
from loopcore.loops.bayes_exit import BayesianStop, PooledStats
from loopcore.loops.stopping import StopConfig
from loopcore.stats import beta_ppf, normal_sf
from loopcore.store.observations import (
    IterationStats,
    LoopObservation,
    OutcomeStats,
    fold_iteration,
    fold_outcome,
)
from loopcore.store.protocol import Store

__all__ = ["BayesianStop", "PriorSummary", "Priors", "PriorsCache", "SuggestedConfig"]

MIN_SUGGEST_LOOPS = 5
"""Below this many loops ``suggest_config`` answers the defaults."""
MAX_SUGGESTED_ITERATIONS = 10
"""A learned budget never grows past this, however long loops kept converging."""

_DEFAULTS = StopConfig()
_PLATEAU = _DEFAULTS.convergence_delta

Key = tuple[str, str]


@dataclass(frozen=True, kw_only=True)
class SuggestedConfig:
    """A loop configuration learned from past loops (or the defaults when none fit).

    Attributes:
        max_iterations, quality_threshold, min_iterations: the config to run.
        expected_iterations: mean iterations of past loops (the budget when default).
        convergence_rate: Beta posterior mean of converging (0.5 when default).
        based_on_loops: loops behind the suggestion.
        source: "prior" when learned, "default" when too few loops fit.
        rationale: one sentence a model or a person can read.
    """

    max_iterations: int
    quality_threshold: float
    min_iterations: int
    expected_iterations: float
    convergence_rate: float
    based_on_loops: int
    source: Literal["prior", "default"]
    rationale: str


@dataclass(frozen=True, kw_only=True)
class PriorSummary:
    """What the priors hold for one (task type, model); rates are Beta(1 + c, 1 + n - c)."""

    task_type: str
    model: str
    loops: int
    converged: int
    convergence_rate: float
    rate_low: float
    rate_high: float
    mean_iterations: float
    mean_latency_s: float


def _merge_outcome(a: OutcomeStats, b: OutcomeStats) -> OutcomeStats:
    return replace(
        a,
        loops=a.loops + b.loops,
        converged=a.converged + b.converged,
        iterations=a.iterations.merge(b.iterations),
        latency=a.latency.merge(b.latency),
        tokens=a.tokens.merge(b.tokens),
    )


def _merge_iteration(a: IterationStats, b: IterationStats) -> IterationStats:
    return replace(a, score=a.score.merge(b.score), delta=a.delta.merge(b.delta))


def _check_unit(value: float, name: str) -> None:
    if not (math.isfinite(value) and 0.0 <= value <= 1.0):
        raise InvalidInput(f"must be a finite number in [0, 1], got {value!r}", field=name)


@dataclass(frozen=True, kw_only=True)
class Priors:
    """Immutable learned statistics; ``observe`` returns a new ``Priors``."""

    outcomes: Mapping[Key, OutcomeStats] = field(default_factory=dict)
    iterations: Mapping[tuple[str, str, int], IterationStats] = field(default_factory=dict)

    @classmethod
    def from_stats(
        cls, iterations: Iterable[IterationStats], outcomes: Iterable[OutcomeStats]
    ) -> Priors:
        """Build priors from stored statistics; rows sharing a key are merged."""
        outs: dict[Key, OutcomeStats] = {}
        for o in outcomes:
            k = (o.task_type, o.model)
            outs[k] = _merge_outcome(outs[k], o) if k in outs else o
        its: dict[tuple[str, str, int], IterationStats] = {}
        for s in iterations:
            ik = (s.task_type, s.model, s.iteration)
            its[ik] = _merge_iteration(its[ik], s) if ik in its else s
        return cls(outcomes=MappingProxyType(outs), iterations=MappingProxyType(its))

    def observe(self, obs: LoopObservation) -> Priors:
        """Return these priors with one finished loop folded in (``self`` is unchanged)."""
        key = (obs.task_type, obs.model)
        outs = dict(self.outcomes)
        outs[key] = fold_outcome(outs.get(key, OutcomeStats(task_type=key[0], model=key[1])), obs)
        its = dict(self.iterations)
        for i in range(1, len(obs.scores) + 1):
            ik = (*key, i)
            base = its.get(ik, IterationStats(task_type=key[0], model=key[1], iteration=i))
            its[ik] = fold_iteration(base, obs)
        return Priors(outcomes=MappingProxyType(outs), iterations=MappingProxyType(its))

    def _pooled(self, task_type: str, model: str | None) -> PooledStats | None:
        """The statistics of one key, or of every model of ``task_type`` when model is None."""
        outcome: OutcomeStats | None = None
        for (tt, m), o in self.outcomes.items():
            if tt == task_type and (model is None or m == model):
                outcome = o if outcome is None else _merge_outcome(outcome, o)
        if outcome is None:
            return None
        its: dict[int, IterationStats] = {}
        for (tt, m, i), s in self.iterations.items():
            if tt == task_type and (model is None or m == model):
                its[i] = _merge_iteration(its[i], s) if i in its else s
        return PooledStats(outcome=outcome, iterations=its)

    def suggest_config(
        self,
        task_type: str,
        model: str | None = None,
        *,
        cost_weight: float = 0.05,
        threshold: float | None = None,
    ) -> SuggestedConfig:
        """Suggest a loop config for a task type (and model) from what past loops did.

        The threshold is the caller's (default 0.85) and is never learned: loops
        stop once they reach it, so the scores seen later are biased low, and a
        threshold learned from them would ratchet the quality bar down. Learned
        are the budget and the minimum: ``max_iterations`` is the last
        iteration whose chance of converging a still-running loop,
        ``P(S_i >= threshold)`` under a normal fit of the scores seen there, is
        worth its ``cost_weight`` (one more when that is the last iteration
        seen, at most ``MAX_SUGGESTED_ITERATIONS``); ``min_iterations`` is 2
        when the first round of feedback gains more than the plateau delta.
        An unseen model falls back to all models of the task type.

        Raises:
            InvalidInput: on a cost_weight or threshold outside [0, 1].
        """
        _check_unit(cost_weight, "cost_weight")
        t = _DEFAULTS.quality_threshold if threshold is None else threshold
        _check_unit(t, "threshold")
        pooled, scope = self._pooled(task_type, model), _scope(task_type, model)
        if model is not None and (pooled is None or pooled.outcome.loops < MIN_SUGGEST_LOOPS):
            pooled, scope = self._pooled(task_type, None), f"{task_type} (all models)"
        loops = pooled.outcome.loops if pooled else 0
        if pooled is None or loops < MIN_SUGGEST_LOOPS:
            return _default_config(t, loops, scope)
        return _learned_config(pooled, t, cost_weight, scope)

    def stop_config(
        self,
        task_type: str,
        model: str | None = None,
        *,
        threshold: float | None = None,
        max_iterations: int | None = None,
        max_tokens: int | None = None,
        timeout_s: float | None = None,
        max_cost: float | None = None,
        tuning: Mapping[str, Any] | None = None,
    ) -> tuple[StopConfig, SuggestedConfig]:
        """The caller's limits over what the priors suggest: the one place they merge.

        The caller's ``max_iterations`` wins over the learned budget, and the
        learned minimum never exceeds it; the threshold is the caller's (or the
        default); tokens, time and cost are the caller's alone, and so is
        ``tuning`` (``min_iterations``, ``no_progress_window``,
        ``convergence_delta``; None values are left to the defaults). Returns the
        config and the suggestion it came from (for its source and rationale).

        Raises:
            InvalidInput: a threshold outside [0, 1].
        """
        suggested = self.suggest_config(task_type, model, threshold=threshold)
        top = max_iterations if max_iterations is not None else suggested.max_iterations
        given = {k: v for k, v in (tuning or {}).items() if v is not None}
        cfg = StopConfig(
            max_iterations=top,
            min_iterations=min(given.pop("min_iterations", suggested.min_iterations), top),
            quality_threshold=suggested.quality_threshold,
            max_tokens=max_tokens,
            timeout_s=timeout_s,
            max_cost=max_cost,
            **given,
        )
        return cfg, suggested

    def stop_condition(
        self,
        task_type: str,
        model: str | None = None,
        *,
        cost_weight: float = 0.05,
        min_loops: int = 5,
    ) -> BayesianStop:
        """The Bayesian exit for loops of this key (maths in ``loopcore.loops.bayes_exit``).

        Raises:
            InvalidInput: on a cost_weight outside [0, 1] or a negative min_loops.
        """
        _check_unit(cost_weight, "cost_weight")
        if min_loops < 0:
            raise InvalidInput(f"must be >= 0, got {min_loops}", field="min_loops")
        pooled = self._pooled(task_type, model)
        empty = PooledStats(
            outcome=OutcomeStats(task_type=task_type, model=model or ""), iterations={}
        )
        return BayesianStop(
            stats=pooled or empty, cost_weight=cost_weight, min_loops=max(1, min_loops)
        )

    def summary(self) -> list[PriorSummary]:
        """Per (task type, model), sorted: loops, convergence rate with a 90% interval, costs."""
        rows = []
        for (tt, m), o in sorted(self.outcomes.items()):
            rows.append(
                PriorSummary(
                    task_type=tt,
                    model=m,
                    loops=o.loops,
                    converged=o.converged,
                    convergence_rate=o.alpha / (o.alpha + o.beta),
                    rate_low=beta_ppf(0.05, o.alpha, o.beta),
                    rate_high=beta_ppf(0.95, o.alpha, o.beta),
                    mean_iterations=o.iterations.mean,
                    mean_latency_s=o.latency.mean,
                )
            )
        return rows


def _scope(task_type: str, model: str | None) -> str:
    return f"{task_type} (all models)" if model is None else f"{task_type} on {model or '?'}"


def _default_config(threshold: float, loops: int, scope: str) -> SuggestedConfig:
    why = "no loops observed" if loops == 0 else f"only {loops} loop(s) observed"
    return SuggestedConfig(
        max_iterations=_DEFAULTS.max_iterations,
        quality_threshold=threshold,
        min_iterations=_DEFAULTS.min_iterations,
        expected_iterations=float(_DEFAULTS.max_iterations),
        convergence_rate=0.5,
        based_on_loops=loops,
        source="default",
        rationale=f"{why} for {scope} (need {MIN_SUGGEST_LOOPS}); using the defaults",
    )


def _learned_config(
    pooled: PooledStats, threshold: float, cost_weight: float, scope: str
) -> SuggestedConfig:
    o, its = pooled.outcome, pooled.iterations
    hazards = {
        i: normal_sf(threshold, s.score.mean, s.score.variance)
        for i, s in sorted(its.items())
        if s.score.n >= 2
    }
    worth = [i for i, h in hazards.items() if h >= cost_weight]
    last_seen = max(hazards, default=1)
    if worth:
        top = max(worth)
        max_it = min(MAX_SUGGESTED_ITERATIONS, top + 1 if top == last_seen else top)
        why_max = f"iteration {top} still converges {hazards[top]:.0%} of running loops"
    else:
        max_it = max(2, min(last_seen, _DEFAULTS.max_iterations))
        why_max = f"no iteration converges {cost_weight:.0%} of running loops"
    second = its.get(2)
    gains = second is not None and second.delta.n >= 2 and second.delta.mean > _PLATEAU
    min_it = min(2 if gains else 1, max_it)
    rate = o.alpha / (o.alpha + o.beta)
    return SuggestedConfig(
        max_iterations=max_it,
        quality_threshold=threshold,
        min_iterations=min_it,
        expected_iterations=o.iterations.mean,
        convergence_rate=rate,
        based_on_loops=o.loops,
        source="prior",
        rationale=(
            f"{o.loops} loops of {scope}: {o.converged} converged (rate {rate:.2f}), "
            f"{o.iterations.mean:.1f} iterations on average; {why_max} at threshold "
            f"{threshold:.2f}, worth a step at cost {cost_weight:g}"
        ),
    )


DEFAULT_TTL_S = 30.0
"""How old cached priors may be before ``PriorsCache.get`` reloads them."""


class PriorsCache:
    """The priors of one store, held in memory and refreshed cheaply.

    Building ``Priors`` reads every statistic row (7-37 ms for 60 (task type,
    model) keys on a 2-core box), too much for every loop step. So each open
    store gets one cache (the server's per-store services hold it): loaded on
    first use, folded forward in memory after each observation recorded
    through it (``Priors.observe``, no reload), and reloaded when older than
    ``ttl_s``, so that loops recorded elsewhere (a loop closed, or a second
    editor on the same database) show up too. A caller that must see every loop
    recorded so far asks for ``fresh``.

    Args:
        store: where observations are recorded and statistics loaded from.
        ttl_s: reload from the store when the cached priors are older than this.
        clock: monotonic seconds (tests pass a fixed clock).
    """

    def __init__(
        self,
        store: Store,
        *,
        ttl_s: float = DEFAULT_TTL_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._ttl_s = ttl_s
        self._clock = clock
        self._lock = threading.Lock()
        self._priors: Priors | None = None
        self._loaded_at = 0.0
        self.loads = 0

    def get(self, *, fresh: bool = False) -> Priors:
        """The priors, reloaded from the store when missing, stale or ``fresh``. Blocking."""
        with self._lock:
            now = self._clock()
            if fresh or self._priors is None or now - self._loaded_at >= self._ttl_s:
                self._priors = Priors.from_stats(*self._store.load_prior_stats())
                self._loaded_at = now
                self.loads += 1
            return self._priors

    def record(self, obs: LoopObservation) -> None:
        """Record a finished loop in the store, then fold it into the cached priors.

        Raises:
            StoreError: the store could not record it (the cache is left as it was).
        """
        self._store.record_observation(obs)
        with self._lock:
            if self._priors is not None:
                self._priors = self._priors.observe(obs)

    def invalidate(self) -> None:
        """Drop the cached priors; the next ``get`` reloads them."""
        with self._lock:
            self._priors = None
