"""Learned priors: pooled statistics, suggested configs and the Bayesian exit."""

from __future__ import annotations

import math
import random
import statistics
from pathlib import Path

import pytest

from loopcore.clock import FixedClock
from loopcore.errors import InvalidInput
from loopcore.loops.priors import Priors, PriorsCache
from loopcore.loops.stopping import LoopState, StopConfig, decide
from loopcore.stats import Welford, beta_cdf
from loopcore.store import open_store
from loopcore.store.observations import IterationStats, LoopObservation, OutcomeStats


def _obs(scores: tuple[float, ...], model: str = "m", task_type: str = "code") -> LoopObservation:
    return LoopObservation(
        task_type=task_type,
        model=model,
        scores=scores,
        threshold=0.85,
        converged=max(scores) >= 0.85,
        latency_s=float(len(scores)),
    )


def _learned(n: int = 80, seed: int = 0, model: str = "m") -> Priors:
    """Loops that climb towards a ceiling with noise, stopped at 0.85 or after 5 rounds."""
    rng = random.Random(seed)
    priors = Priors()
    for _ in range(n):
        start, ceiling = rng.uniform(0.2, 0.5), rng.uniform(0.4, 1.0)
        scores: list[float] = []
        for i in range(1, 6):
            q = ceiling - (ceiling - start) * 0.5 ** (i - 1)
            scores.append(min(1.0, max(0.0, q + rng.gauss(0.0, 0.03))))
            if scores[-1] >= 0.85:
                break
        priors = priors.observe(_obs(tuple(scores), model=model))
    return priors


def _state(*scores: float) -> LoopState:
    return LoopState(scores=scores, outputs=tuple(f"out {i}" for i in range(len(scores))))


def _welford(xs: list[float]) -> Welford:
    w = Welford()
    for x in xs:
        w = w.add(x)
    return w


CONFIG = StopConfig(max_iterations=6, quality_threshold=0.85)


def test_pooling_over_models_merges_the_welford_statistics() -> None:
    """model=None pools two models' per-iteration deltas into one exact Welford."""
    a, b = [(0.3, 0.5), (0.2, 0.6)], [(0.4, 0.45), (0.1, 0.4), (0.5, 0.9)]
    priors = Priors()
    for s in a:
        priors = priors.observe(_obs(s, model="a"))
    for s in b:
        priors = priors.observe(_obs(s, model="b"))
    pooled = priors.stop_condition("code").stats.iterations[2].delta
    expected = _welford([y - x for x, y in a + b])
    assert pooled.n == 5
    assert math.isclose(pooled.mean, expected.mean)
    assert math.isclose(pooled.variance, expected.variance)


def test_pooled_suggestion_counts_every_model() -> None:
    """suggest_config without a model reports the loops and mean iterations of all models."""
    a, b = _learned(30, seed=1, model="a"), _learned(20, seed=2, model="b")
    priors = Priors.from_stats(
        [*a.iterations.values(), *b.iterations.values()],
        [*a.outcomes.values(), *b.outcomes.values()],
    )
    lengths_a = a.outcomes[("code", "a")].iterations
    lengths_b = b.outcomes[("code", "b")].iterations
    config = priors.suggest_config("code")
    assert config.based_on_loops == 50
    assert config.expected_iterations == pytest.approx(
        (lengths_a.mean * 30 + lengths_b.mean * 20) / 50
    )
    assert priors.suggest_config("code", "a").based_on_loops == 30


def test_from_stats_merges_rows_of_the_same_key() -> None:
    """Two stored rows for one key (e.g. from two processes) are merged, not overwritten."""
    one = OutcomeStats(
        task_type="code", model="m", loops=3, converged=1, iterations=_welford([2, 3, 4])
    )
    two = OutcomeStats(
        task_type="code", model="m", loops=2, converged=2, iterations=_welford([1, 5])
    )
    it1 = IterationStats(task_type="code", model="m", iteration=1, score=_welford([0.1, 0.2]))
    it2 = IterationStats(task_type="code", model="m", iteration=1, score=_welford([0.3]))
    priors = Priors.from_stats([it1, it2], [one, two])
    merged = priors.outcomes[("code", "m")]
    assert (merged.loops, merged.converged, merged.iterations.n) == (5, 3, 5)
    assert math.isclose(merged.iterations.mean, 3.0)
    assert math.isclose(priors.iterations[("code", "m", 1)].score.mean, 0.2)


def test_unknown_task_type_gets_the_defaults() -> None:
    """A task type never seen answers the default config, and says so."""
    config = _learned().suggest_config("docs")
    assert config.source == "default"
    assert (config.max_iterations, config.min_iterations, config.quality_threshold) == (5, 1, 0.85)
    assert config.based_on_loops == 0
    assert "no loops observed" in config.rationale


def test_too_few_loops_get_the_defaults() -> None:
    """Below five loops the suggestion is the default, naming how many were seen."""
    config = _learned(3).suggest_config("code", "m", threshold=0.7)
    assert (config.source, config.based_on_loops, config.quality_threshold) == ("default", 3, 0.7)
    assert "only 3 loop(s)" in config.rationale


def test_learned_config_follows_where_loops_converge() -> None:
    """Loops that converge at round 2 or never get a budget of 2 and the Beta rate."""
    priors = Priors()
    for _ in range(10):
        priors = priors.observe(_obs((0.5, 0.9)))
        priors = priors.observe(_obs((0.3, 0.35, 0.36, 0.36, 0.36)))
    config = priors.suggest_config("code", "m")
    assert config.source == "prior"
    assert (config.max_iterations, config.min_iterations) == (2, 2)
    assert config.expected_iterations == 3.5
    assert math.isclose(config.convergence_rate, 11 / 22)
    assert config.based_on_loops == 20
    assert config.quality_threshold == 0.85


def test_unseen_model_falls_back_to_the_task_type() -> None:
    """A model with no loops of its own borrows every model's loops for the task type."""
    config = _learned(40).suggest_config("code", "other-model")
    assert config.source == "prior"
    assert config.based_on_loops == 40
    assert "all models" in config.rationale


def test_bayesian_exit_stops_a_hopeless_loop() -> None:
    """A loop stuck far below the threshold has a tiny chance, and decide stops it as bayesian."""
    cond = _learned().stop_condition("code", "m")
    state = _state(0.25, 0.27, 0.26)
    p = cond.probability(state, CONFIG)
    assert p is not None and p < 0.05
    decision = decide(state, CONFIG, (cond,))
    assert (cond.name, decision.stop, decision.reason) == ("bayesian", True, "bayesian")


def test_bayesian_exit_lets_a_loop_on_track_go_on() -> None:
    """A loop climbing towards the threshold keeps a good chance and is not stopped."""
    cond = _learned().stop_condition("code", "m")
    state = _state(0.55, 0.72, 0.8)
    p = cond.probability(state, CONFIG)
    assert p is not None and p > 0.5
    assert decide(state, CONFIG, (cond,)).stop is False


def test_bayesian_exit_never_stops_below_min_loops() -> None:
    """With fewer loops than min_loops the condition abstains, even on a hopeless loop."""
    cond = _learned(4).stop_condition("code", "m", min_loops=5)
    state = _state(0.1, 0.1, 0.1)
    assert cond.probability(state, CONFIG) is None
    assert cond.check(state, CONFIG) is False


def test_bayesian_exit_waits_for_a_second_score() -> None:
    """After one score the loop has shown no pace of its own, so the exit abstains."""
    cond = _learned().stop_condition("code", "m")
    assert cond.probability(_state(0.05), CONFIG) is None
    assert cond.check(_state(0.05), CONFIG) is False


def test_bayesian_exit_abstains_for_an_unknown_key() -> None:
    """A task type with no loops never triggers the exit."""
    cond = _learned().stop_condition("unknown")
    assert cond.check(_state(0.1, 0.1, 0.1), CONFIG) is False


def test_bayesian_exit_reaches_past_the_iterations_seen() -> None:
    """A budget longer than any loop seen extrapolates the decaying deltas and still decides."""
    cond = _learned().stop_condition("code", "m")
    p = cond.probability(_state(0.2, 0.21, 0.2), StopConfig(max_iterations=9))
    assert p is not None and 0.0 <= p < 0.05


def test_observe_is_pure() -> None:
    """observe returns new priors and leaves the original untouched."""
    before = _learned(10)
    snapshot = dict(before.outcomes), dict(before.iterations)
    after = before.observe(_obs((0.4, 0.9), model="new"))
    assert (dict(before.outcomes), dict(before.iterations)) == snapshot
    assert after.outcomes[("code", "new")].loops == 1
    assert after.outcomes[("code", "m")] == before.outcomes[("code", "m")]
    assert after.iterations[("code", "new", 2)].delta.mean == pytest.approx(0.5)


def test_summary_reports_a_sane_beta_interval() -> None:
    """The 90% interval brackets the Beta mean and agrees with sampling from the Beta."""
    priors = Priors()
    for i in range(20):
        priors = priors.observe(_obs((0.5, 0.9) if i % 4 == 0 else (0.5, 0.6)))
    (row,) = priors.summary()
    assert (row.loops, row.converged) == (20, 5)
    assert row.convergence_rate == pytest.approx(6 / 22)
    assert 0.0 < row.rate_low < row.convergence_rate < row.rate_high < 1.0
    rng = random.Random(3)
    draws = sorted(rng.betavariate(6, 16) for _ in range(40_000))
    assert row.rate_low == pytest.approx(draws[2_000], abs=0.01)
    assert row.rate_high == pytest.approx(draws[38_000], abs=0.01)
    assert row.mean_iterations == 2.0
    assert row.mean_latency_s == 2.0


def test_incomplete_beta_matches_closed_forms() -> None:
    """I_x(2, 3) and I_x(1, 1) agree with their closed forms."""
    assert beta_cdf(2, 3, 0.5) == pytest.approx(0.6875)
    assert beta_cdf(1, 1, 0.3) == pytest.approx(0.3)
    assert beta_cdf(2, 3, 0.0) == 0.0


def test_summary_of_empty_priors_is_empty() -> None:
    """No loops, no rows."""
    assert Priors().summary() == []


def test_cost_weight_out_of_range_is_rejected() -> None:
    """A cost weight outside [0, 1] is an InvalidInput naming the field."""
    with pytest.raises(InvalidInput) as err:
        Priors().suggest_config("code", cost_weight=2.0)
    assert err.value.field == "cost_weight"


def test_learned_scores_match_the_statistics_module() -> None:
    """Iteration-one scores folded by observe agree with statistics.fmean and variance."""
    priors = Priors()
    firsts = [0.2, 0.4, 0.7, 0.1]
    for f in firsts:
        priors = priors.observe(_obs((f, 0.5)))
    w = priors.iterations[("code", "m", 1)].score
    assert w.mean == pytest.approx(statistics.fmean(firsts))
    assert w.variance == pytest.approx(statistics.variance(firsts))


def test_cache_folds_its_own_observations_without_reloading(tmp_path: Path) -> None:
    """record() writes to the store and updates the cached priors in memory."""
    store, _ = open_store(tmp_path / "p.db")
    try:
        cache = PriorsCache(store, clock=FixedClock(100.0))
        cache.get()
        cache.record(_obs((0.5, 0.8, 0.9), model="m1"))
        held = cache.get().summary()
        stored = PriorsCache(store).get().summary()
    finally:
        store.close()
    assert cache.loads == 1
    assert [(s.task_type, s.loops) for s in held] == [("code", 1)]
    assert held == stored


def test_cache_reloads_after_its_ttl(tmp_path: Path) -> None:
    """Loops recorded elsewhere show up once the cached priors are older than the TTL."""
    store, _ = open_store(tmp_path / "p.db")
    clock = FixedClock(100.0)
    try:
        cache = PriorsCache(store, ttl_s=30.0, clock=clock)
        assert cache.get().summary() == []
        store.record_observation(_obs((0.5, 0.8, 0.9), model="m1"))
        stale = cache.get().summary()
        clock.advance(30.0)
        fresh = cache.get().summary()
    finally:
        store.close()
    assert stale == [] and [s.loops for s in fresh] == [1]
    assert cache.loads == 2


def test_fresh_get_and_invalidate_reload(tmp_path: Path) -> None:
    """get(fresh=True) and invalidate() both make the next read go to the store."""
    store, _ = open_store(tmp_path / "p.db")
    try:
        cache = PriorsCache(store, clock=FixedClock(0.0))
        cache.get()
        store.record_observation(_obs((0.5, 0.8, 0.9), model="m1"))
        fresh = cache.get(fresh=True).summary()
        store.record_observation(_obs((0.5, 0.8, 0.9), model="m1"))
        cache.invalidate()
        again = cache.get().summary()
    finally:
        store.close()
    assert [s.loops for s in fresh] == [1] and [s.loops for s in again] == [2]
    assert cache.loads == 3


def test_stop_config_puts_the_callers_limits_over_the_suggestion() -> None:
    """max_iterations, tokens and time are the caller's; the learned minimum stays under the top."""
    priors = _learned()
    suggested = priors.suggest_config("code", "m", threshold=0.8)
    cfg, got = priors.stop_config(
        "code", "m", threshold=0.8, max_iterations=1, max_tokens=500, timeout_s=9.0
    )
    assert got == suggested
    assert (cfg.max_iterations, cfg.min_iterations) == (1, 1)
    assert (cfg.quality_threshold, cfg.max_tokens, cfg.timeout_s) == (0.8, 500, 9.0)
    default, _ = priors.stop_config("code", "m")
    assert default.max_iterations == priors.suggest_config("code", "m").max_iterations
