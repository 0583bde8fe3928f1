"""What the server learns from finished loops: suggested configs and a Bayesian exit.

The statistics (``loopcore.observations``) are kept per key ``(task_type, model)``:
per iteration ``i`` a Welford of the score ``S_i`` and of the delta
``D_i = S_i - S_{i-1}``, and per key Beta counts of convergence with Welford
costs. ``model=None`` pools every model of a task type (Welford ``merge``).
Human prompt ratings never feed these priors: nothing here accepts them.

**The Bayesian exit.** After iteration ``k >= 2`` (scores ``s_1..s_k``,
threshold ``t``), the learned deltas of iterations ``m >= 2`` (mean ``mu_m``,
variance ``v_m``, count ``n_m``) give a model of one loop::

    s_i = L + C_i + z U_i + e_i,   C_i = sum_{m=2..i} mu_m,   U_i = sum_{m=2..i} tau_m

``e_i ~ N(0, nu)`` is the evaluator's noise, ``nu`` half the smallest
well-observed delta variance (a delta carries two scores' noise; the quietest
iteration is the nearest to pure noise). ``tau_m = sqrt(max(v_m - 2 nu, 0))``
is the real spread of progress between loops, one effect ``z ~ N(0, 1)`` per
loop: a loop that climbs faster than its peers keeps doing so. A flat prior on
the level ``L`` and the loop's own scores give a Gaussian posterior on
``(L, z)`` (Bayesian linear regression, two parameters) and a predictive
``S_j ~ N(L + C_j + z U_j, x' Sigma x + nu + sum_{m=k+1..j} v_m / n_m)``,
``x = (1, U_j)``, the last term the uncertainty of the learned means.
Iterations past those observed continue the last mean delta with its observed
decay ratio (at most 0.9). ``p_path = min(1, sum_{j=k+1..max} P(S_j >= t))``
is an upper bound on the chance of reaching ``t`` within the budget, so the
exit errs towards going on. It is shrunk towards the key's Beta mean ``r`` of
convergence, worth ``PRIOR_WEIGHT`` loops against the ``n_{k+1}`` behind the
next step::

    p = w p_path + (1 - w) r,    w = n_{k+1} / (n_{k+1} + PRIOR_WEIGHT)

The loop stops when ``p * 1 < cost_weight`` (success is worth 1, a step costs
``cost_weight``): going on costs at least a step and gains at most ``p``, so
below that line no way of going on pays. Over many loops it still gives up
about the sum of ``p`` over the loops it stops (bench/adaptive_stopping.py).

The exit abstains (ordinary stopping decides) with fewer than ``min_loops``
loops for the key, with no delta learned for the next iteration, with the
budget spent or the threshold reached, and after the first score: until the
loop has moved once, nothing is known of its own pace, and one round of
feedback is the least a refinement loop owes a task.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Literal

from loopcore.errors import InvalidInput
from loopcore.observations import (
    IterationStats,
    LoopObservation,
    OutcomeStats,
    fold_iteration,
    fold_outcome,
)
from loopcore.stats import Welford
from loopcore.stopping import LoopState, StopConfig

__all__ = ["BayesianStop", "PriorSummary", "Priors", "SuggestedConfig"]

PRIOR_WEIGHT = 10.0
"""Loops' worth of weight the Beta convergence rate keeps against the path model."""
MIN_SUGGEST_LOOPS = 5
"""Below this many loops ``suggest_config`` answers the defaults."""
MAX_SUGGESTED_ITERATIONS = 10
"""A learned budget never grows past this, however long loops kept converging."""
_DECAY_CAP = 0.9
_WELL_OBSERVED = 5
_MIN_NOISE = 1e-6

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


@dataclass(frozen=True, kw_only=True)
class _Pooled:
    outcome: OutcomeStats
    iterations: Mapping[int, IterationStats]


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

    def _pooled(self, task_type: str, model: str | None) -> _Pooled | None:
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
        return _Pooled(outcome=outcome, iterations=its)

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

    def stop_condition(
        self,
        task_type: str,
        model: str | None = None,
        *,
        cost_weight: float = 0.05,
        min_loops: int = 5,
    ) -> BayesianStop:
        """The Bayesian exit for loops of this key (maths in the module docstring).

        Raises:
            InvalidInput: on a cost_weight outside [0, 1] or a negative min_loops.
        """
        _check_unit(cost_weight, "cost_weight")
        if min_loops < 0:
            raise InvalidInput(f"must be >= 0, got {min_loops}", field="min_loops")
        pooled = self._pooled(task_type, model)
        empty = _Pooled(outcome=OutcomeStats(task_type=task_type, model=model or ""), iterations={})
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
                    rate_low=_beta_ppf(0.05, o.alpha, o.beta),
                    rate_high=_beta_ppf(0.95, o.alpha, o.beta),
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
    pooled: _Pooled, threshold: float, cost_weight: float, scope: str
) -> SuggestedConfig:
    o, its = pooled.outcome, pooled.iterations
    hazards = {
        i: _sf(threshold, s.score.mean, s.score.variance)
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


class BayesianStop:
    """The Bayesian exit as a ``StopCondition`` named ``"bayesian"``.

    A plain class rather than a frozen dataclass because the ``StopCondition``
    protocol declares ``name`` as a plain attribute; nothing here is mutated.
    """

    __slots__ = ("cost_weight", "min_loops", "name", "stats")

    def __init__(self, *, stats: _Pooled, cost_weight: float, min_loops: int) -> None:
        self.name = "bayesian"
        self.stats = stats
        self.cost_weight = cost_weight
        self.min_loops = min_loops

    def probability(self, state: LoopState, config: StopConfig) -> float | None:
        """The chance ``p`` of reaching the threshold within the budget; None when unknowable."""
        k = len(state.scores)
        if self.stats.outcome.loops < self.min_loops or k < 2 or k >= config.max_iterations:
            return None
        nxt = self.stats.iterations.get(k + 1)
        if nxt is None or nxt.delta.n < 2:
            return None
        steps = _delta_steps(self.stats.iterations, config.max_iterations)
        if steps is None:
            return None
        p_path = _path_probability(state.scores, config.quality_threshold, steps)
        o = self.stats.outcome
        w = nxt.delta.n / (nxt.delta.n + PRIOR_WEIGHT)
        return w * p_path + (1.0 - w) * o.alpha / (o.alpha + o.beta)

    def check(self, state: LoopState, config: StopConfig) -> bool:
        """True when the chance of success is worth less than another iteration."""
        if state.scores and max(state.scores) >= config.quality_threshold:
            return False
        p = self.probability(state, config)
        return p is not None and p * 1.0 < self.cost_weight


def _delta_steps(its: Mapping[int, IterationStats], last: int) -> list[Welford] | None:
    """Delta statistics for iterations ``2..last`` (index 0 is iteration 2), gaps filled.

    Iterations past the last one observed continue its mean with the observed
    decay ratio; a gap below it borrows the next iteration observed.
    """
    known = {i: s.delta for i, s in its.items() if i >= 2 and s.delta.n >= 2}
    if not known:
        return None
    top = max(known)
    prev = known.get(top - 1)
    ratio = 0.5
    if prev is not None and prev.mean > 0:
        ratio = min(_DECAY_CAP, max(0.0, known[top].mean / prev.mean))
    steps: list[Welford] = []
    for i in range(2, last + 1):
        if i in known:
            steps.append(known[i])
        elif i > top:
            steps.append(replace(known[top], mean=known[top].mean * ratio ** (i - top)))
        else:
            steps.append(known[min(j for j in known if j > i)])
    return steps


def _noise_variance(steps: list[Welford]) -> float:
    """Half the smallest delta variance among well-observed steps: the evaluator's noise."""
    pool = [w.variance for w in steps if w.n >= _WELL_OBSERVED] or [w.variance for w in steps]
    return max(min(pool) / 2.0, _MIN_NOISE)


def _posterior(
    scores: tuple[float, ...], cum_mu: list[float], cum_tau: list[float], nu: float
) -> tuple[float, float, float, float, float]:
    """Posterior of (level L, effect z) from ``s_i = L + C_i + z U_i + e_i``.

    Flat prior on L, N(0, 1) on z, noise variance ``nu``. Returns the means of
    L and z and the covariance entries (var L, cov, var z).
    """
    a11 = len(scores) / nu
    a12 = sum(cum_tau[: len(scores)]) / nu
    a22 = 1.0 + sum(u * u for u in cum_tau[: len(scores)]) / nu
    ys = [s - c for s, c in zip(scores, cum_mu, strict=False)]
    b1 = sum(ys) / nu
    b2 = sum(y * u for y, u in zip(ys, cum_tau, strict=False)) / nu
    det = a11 * a22 - a12 * a12
    v11, v12, v22 = a22 / det, -a12 / det, a11 / det
    return v11 * b1 + v12 * b2, v12 * b1 + v22 * b2, v11, v12, v22


def _path_probability(scores: tuple[float, ...], threshold: float, steps: list[Welford]) -> float:
    """Union bound on the chance the predicted score path reaches ``threshold``."""
    nu = _noise_variance(steps)
    cum_mu, cum_tau, learned = [0.0], [0.0], [0.0]
    for w in steps:
        cum_mu.append(cum_mu[-1] + w.mean)
        cum_tau.append(cum_tau[-1] + math.sqrt(max(w.variance - 2.0 * nu, 0.0)))
        learned.append(learned[-1] + w.variance / max(w.n, 1))
    level, z, v11, v12, v22 = _posterior(scores, cum_mu, cum_tau, nu)
    k, total = len(scores), 0.0
    for i in range(k, len(cum_mu)):
        u = cum_tau[i]
        mean = level + cum_mu[i] + z * u
        var = v11 + 2.0 * u * v12 + u * u * v22 + nu + learned[i] - learned[k - 1]
        total += _sf(threshold, mean, var)
    return min(1.0, total)


def _sf(x: float, mean: float, variance: float) -> float:
    """P(X >= x) for X ~ N(mean, variance); a step function when the variance is 0."""
    if variance <= 0.0:
        return 1.0 if mean >= x else 0.0
    return 0.5 * math.erfc((x - mean) / math.sqrt(2.0 * variance))


def _betainc(a: float, b: float, x: float) -> float:
    """Regularised incomplete beta I_x(a, b) by Lentz's continued fraction."""
    if x <= 0.0 or x >= 1.0:
        return 0.0 if x <= 0.0 else 1.0
    if x > (a + 1.0) / (a + b + 2.0):
        return 1.0 - _betainc(b, a, 1.0 - x)
    ln_front = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b)
    front = math.exp(ln_front + a * math.log(x) + b * math.log1p(-x)) / a
    tiny = 1e-300
    f, c, d = 1.0, 1.0, 0.0
    for i in range(400):
        m = i // 2
        if i == 0:
            num = 1.0
        elif i % 2 == 0:
            num = m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m))
        else:
            num = -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1))
        d = 1.0 + num * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + num / c
        c = c if abs(c) > tiny else tiny
        f *= c * d
        if abs(1.0 - c * d) < 1e-12:
            break
    return front * (f - 1.0)


def _beta_ppf(q: float, a: float, b: float) -> float:
    """The ``q`` quantile of Beta(a, b), by bisection on ``_betainc``."""
    lo, hi = 0.0, 1.0
    for _ in range(60):
        mid = (lo + hi) / 2.0
        if _betainc(a, b, mid) < q:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2.0
