"""What a finished loop teaches the priors, and how it is folded into running statistics.

Shared by ``loopcore.loops.priors`` (which reasons about the statistics) and the
store (which keeps them, updating one row per key inside a transaction so two
processes recording at once both land).

Keys are ``(task_type, model)``; per-iteration statistics are further keyed by
the 1-based iteration number. Human prompt ratings are never an observation.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

from loopcore.errors import InvalidInput
from loopcore.stats import Welford

__all__ = ["IterationStats", "LoopObservation", "OutcomeStats", "fold_iteration", "fold_outcome"]


@dataclass(frozen=True, kw_only=True, slots=True)
class LoopObservation:
    """One finished loop, agent-driven or server-driven.

    Attributes:
        task_type: a short label for the kind of work ("code", "docs", ...).
        model: the model that produced the outputs ("" when unknown).
        scores: the score of every iteration, in order.
        threshold: the quality threshold the loop aimed at.
        converged: whether the best score reached the threshold.
        latency_s: wall time of the whole loop.
        tokens: tokens spent, 0 when unknown.
    """

    task_type: str
    model: str = ""
    scores: tuple[float, ...]
    threshold: float
    converged: bool
    latency_s: float = 0.0
    tokens: int = 0

    def __post_init__(self) -> None:
        if not all(math.isfinite(s) and 0.0 <= s <= 1.0 for s in self.scores):
            raise InvalidInput("every score must be a finite number in [0, 1]", field="scores")
        if not (math.isfinite(self.threshold) and 0.0 <= self.threshold <= 1.0):
            raise InvalidInput("must be a finite number in [0, 1]", field="threshold")


@dataclass(frozen=True, kw_only=True, slots=True)
class IterationStats:
    """Scores seen at one iteration number, and their change from the iteration before."""

    task_type: str
    model: str
    iteration: int
    score: Welford = field(default_factory=Welford)
    delta: Welford = field(default_factory=Welford)


@dataclass(frozen=True, kw_only=True, slots=True)
class OutcomeStats:
    """How loops of one (task type, model) ended: Beta counts and running costs."""

    task_type: str
    model: str
    loops: int = 0
    converged: int = 0
    iterations: Welford = field(default_factory=Welford)
    latency: Welford = field(default_factory=Welford)
    tokens: Welford = field(default_factory=Welford)

    @property
    def alpha(self) -> float:
        """Beta posterior alpha under a uniform Beta(1, 1) prior."""
        return 1.0 + self.converged

    @property
    def beta(self) -> float:
        """Beta posterior beta under a uniform Beta(1, 1) prior."""
        return 1.0 + (self.loops - self.converged)


def fold_iteration(stats: IterationStats, obs: LoopObservation) -> IterationStats:
    """Add ``obs``'s score (and delta) at ``stats.iteration`` to ``stats``.

    An observation with fewer iterations leaves ``stats`` unchanged.
    """
    i = stats.iteration
    if i < 1 or i > len(obs.scores):
        return stats
    score = stats.score.add(obs.scores[i - 1])
    delta = stats.delta.add(obs.scores[i - 1] - obs.scores[i - 2]) if i >= 2 else stats.delta
    return replace(stats, score=score, delta=delta)


def fold_outcome(stats: OutcomeStats, obs: LoopObservation) -> OutcomeStats:
    """Add ``obs``'s ending (converged or not, iterations, latency, tokens) to ``stats``."""
    return replace(
        stats,
        loops=stats.loops + 1,
        converged=stats.converged + int(obs.converged),
        iterations=stats.iterations.add(float(len(obs.scores))),
        latency=stats.latency.add(obs.latency_s),
        tokens=stats.tokens.add(float(obs.tokens)) if obs.tokens else stats.tokens,
    )
