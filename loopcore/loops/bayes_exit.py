"""The Bayesian exit: stop a loop when reaching its threshold is worth less than a step.

After iteration ``k >= 2`` (scores ``s_1..s_k``,
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
from collections.abc import Mapping
from dataclasses import dataclass, replace

from loopcore.loops.stopping import LoopState, StopConfig
from loopcore.stats import Welford, normal_sf
from loopcore.store.observations import IterationStats, OutcomeStats

__all__ = ["PRIOR_WEIGHT", "BayesianStop", "PooledStats"]

PRIOR_WEIGHT = 10.0
"""Loops' worth of weight the Beta convergence rate keeps against the path model."""
_DECAY_CAP = 0.9
_WELL_OBSERVED = 5
_MIN_NOISE = 1e-6


@dataclass(frozen=True, kw_only=True)
class PooledStats:
    """One key's statistics, or several keys' merged (every model of a task type)."""

    outcome: OutcomeStats
    iterations: Mapping[int, IterationStats]


class BayesianStop:
    """The Bayesian exit as a ``StopCondition`` named ``"bayesian"``.

    A plain class rather than a frozen dataclass because the ``StopCondition``
    protocol declares ``name`` as a plain attribute; nothing here is mutated.
    """

    __slots__ = ("cost_weight", "min_loops", "name", "stats")

    def __init__(self, *, stats: PooledStats, cost_weight: float, min_loops: int) -> None:
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
        total += normal_sf(threshold, mean, var)
    return min(1.0, total)
