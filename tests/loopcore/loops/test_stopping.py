"""Tests for loopcore.loops.stopping: every exit reason at its edges, and config validation."""

from __future__ import annotations

from dataclasses import dataclass, replace

import pytest

from loopcore.errors import InvalidInput
from loopcore.loops.stopping import (
    EXIT_REASONS,
    LoopState,
    StopCondition,
    StopConfig,
    decide,
    output_fingerprint,
)


def state(*scores: float, outputs: tuple[str, ...] | None = None, **kw: float) -> LoopState:
    """A loop state whose outputs are all distinct unless given."""
    outs = outputs if outputs is not None else tuple(f"answer {i}" for i in range(len(scores)))
    return LoopState(
        scores=scores,
        outputs=outs,
        tokens_used=int(kw.get("tokens", 0)),
        elapsed_s=kw.get("elapsed", 0.0),
    )


@dataclass
class Always:
    """A custom condition with a fixed verdict that counts its calls."""

    name: str
    verdict: bool = True
    calls: int = 0

    def check(self, state: LoopState, config: StopConfig) -> bool:
        self.calls += 1
        return self.verdict


# --- quality threshold -------------------------------------------------------------------


def test_quality_threshold_stops_at_exact_threshold() -> None:
    """A latest score equal to the threshold stops with quality_threshold."""
    d = decide(state(0.85), StopConfig(quality_threshold=0.85))
    assert (d.stop, d.reason) == (True, "quality_threshold")
    assert "0.85" in d.detail


def test_quality_threshold_just_below_goes_on() -> None:
    """A latest score just below the threshold does not stop."""
    d = decide(state(0.8499), StopConfig(quality_threshold=0.85))
    assert (d.stop, d.reason) == (False, None)
    assert "below the threshold" in d.detail


def test_quality_threshold_zero_accepts_a_zero_score() -> None:
    """With threshold 0.0, a score of 0.0 is a real score that meets it."""
    d = decide(state(0.0), StopConfig(quality_threshold=0.0))
    assert d.reason == "quality_threshold"


def test_quality_threshold_uses_latest_not_best() -> None:
    """An earlier score above the threshold does not stop the loop later on."""
    d = decide(state(0.9, 0.5), StopConfig(quality_threshold=0.85, min_iterations=2))
    assert d.stop is False


def test_min_iterations_holds_back_quality_exit() -> None:
    """Before min_iterations, a passing score does not stop the loop."""
    cfg = StopConfig(min_iterations=2, quality_threshold=0.5)
    assert decide(state(1.0), cfg).stop is False
    assert decide(state(1.0), cfg).detail.startswith("iteration 1 of a minimum 2")
    assert decide(state(1.0, 1.0), cfg).reason == "quality_threshold"


def test_quality_threshold_wins_over_budgets() -> None:
    """When the threshold is met and a budget is spent, the threshold is the reason."""
    cfg = StopConfig(max_tokens=10, timeout_s=1.0)
    d = decide(state(0.9, tokens=50, elapsed=5.0), cfg)
    assert d.reason == "quality_threshold"


# --- plateau -----------------------------------------------------------------------------


def test_plateau_needs_two_consecutive_small_deltas() -> None:
    """One small delta is not a plateau; two consecutive ones are."""
    cfg = StopConfig(convergence_delta=0.01, no_progress_window=10, max_iterations=10)
    assert decide(state(0.5, 0.505), cfg).stop is False
    assert decide(state(0.5, 0.505, 0.51), cfg).reason == "plateau"


def test_plateau_not_when_small_deltas_are_not_consecutive() -> None:
    """Small, large, small deltas do not make a plateau."""
    cfg = StopConfig(convergence_delta=0.01, no_progress_window=10, max_iterations=10)
    assert decide(state(0.5, 0.505, 0.6, 0.605), cfg).stop is False


def test_plateau_delta_equal_to_threshold_is_not_below() -> None:
    """A delta exactly equal to convergence_delta does not count as small."""
    cfg = StopConfig(convergence_delta=0.25, no_progress_window=10, max_iterations=10)
    assert decide(state(0.0, 0.25, 0.5), cfg).stop is False
    assert decide(state(0.0, 0.2, 0.4), cfg).reason == "plateau"


def test_plateau_counts_small_drops_too() -> None:
    """Deltas are absolute: two small drops are a plateau."""
    cfg = StopConfig(convergence_delta=0.01, no_progress_window=10, max_iterations=10)
    assert decide(state(0.5, 0.495, 0.49), cfg).reason == "plateau"


def test_plateau_of_zero_scores() -> None:
    """Three scores of 0.0 plateau (deltas 0 < 0.01)."""
    cfg = StopConfig(no_progress_window=10, max_iterations=10)
    assert decide(state(0.0, 0.0, 0.0), cfg).reason == "plateau"


def test_plateau_off_with_zero_delta() -> None:
    """convergence_delta 0 turns plateau detection off."""
    cfg = StopConfig(convergence_delta=0.0, no_progress_window=10, max_iterations=10)
    assert decide(state(0.0, 0.0, 0.0), cfg).stop is False


def test_plateau_respects_min_iterations() -> None:
    """A plateau before min_iterations does not stop."""
    cfg = StopConfig(min_iterations=4, no_progress_window=10, max_iterations=10)
    assert decide(state(0.3, 0.3, 0.3), cfg).stop is False


# --- no progress -------------------------------------------------------------------------


def test_no_progress_after_window_without_new_best() -> None:
    """Oscillating scores stop once the best is window iterations old."""
    cfg = StopConfig(no_progress_window=3, max_iterations=10)
    assert decide(state(0.6, 0.3, 0.5), cfg).stop is False
    d = decide(state(0.6, 0.3, 0.5, 0.2), cfg)
    assert d.reason == "no_progress"
    assert "3 iterations" in d.detail


def test_no_progress_reset_by_a_new_best() -> None:
    """A new best score restarts the window."""
    cfg = StopConfig(no_progress_window=2, max_iterations=10)
    assert decide(state(0.6, 0.3, 0.7, 0.4), cfg).stop is False
    assert decide(state(0.6, 0.3, 0.7, 0.4, 0.5), cfg).reason == "no_progress"


def test_no_progress_equal_score_is_not_an_improvement() -> None:
    """Matching the best score again does not count as progress."""
    cfg = StopConfig(no_progress_window=2, convergence_delta=0.0, max_iterations=10)
    assert decide(state(0.6, 0.1, 0.6), cfg).reason == "no_progress"


def test_no_progress_window_one() -> None:
    """With window 1, any iteration that does not raise the best stops."""
    cfg = StopConfig(no_progress_window=1, max_iterations=10)
    assert decide(state(0.5, 0.7), cfg).stop is False
    assert decide(state(0.5, 0.4), cfg).reason == "no_progress"


# --- repeated output ---------------------------------------------------------------------


def test_repeated_output_after_whitespace_normalisation() -> None:
    """An output equal to an earlier one up to whitespace stops the loop."""
    outs = ("def f():\n  return 1", " def f():  return 1\n")
    d = decide(state(0.2, 0.4, outputs=outs), StopConfig())
    assert d.reason == "repeated_output"
    assert "repeats iteration 1" in d.detail


def test_repeated_output_matches_any_earlier_iteration() -> None:
    """The repeat may be of any earlier output, not only the previous one."""
    cfg = StopConfig(max_iterations=10)
    d = decide(state(0.1, 0.5, 0.3, outputs=("a b", "c", "a  b")), cfg)
    assert d.reason == "repeated_output"


def test_different_case_is_not_a_repeat() -> None:
    """Normalisation is whitespace only: case differences are a new output."""
    assert decide(state(0.1, 0.5, outputs=("Answer", "answer")), StopConfig()).stop is False


def test_output_fingerprint_ignores_whitespace_only() -> None:
    """The fingerprint collapses whitespace runs and strips the ends."""
    assert output_fingerprint(" a\t b\n") == output_fingerprint("a b")
    assert output_fingerprint("ab") != output_fingerprint("a b")


# --- custom and Bayesian conditions ------------------------------------------------------


def test_custom_condition_reason_is_condition() -> None:
    """A custom condition that says stop gives the reason 'condition'."""
    d = decide(state(0.1), StopConfig(), [Always("budget-guard")])
    assert d.reason == "condition"
    assert "budget-guard" in d.detail


def test_condition_named_bayesian_gives_reason_bayesian() -> None:
    """A condition named 'bayesian' gives the reason 'bayesian'."""
    assert decide(state(0.1), StopConfig(), [Always("bayesian")]).reason == "bayesian"


def test_conditions_checked_in_order_after_builtin_exits() -> None:
    """Conditions run in order, only after the built-in quality exits."""
    first, second = Always("first", verdict=False), Always("bayesian")
    assert decide(state(0.1), StopConfig(), [first, second]).reason == "bayesian"
    assert first.calls == 1
    assert decide(state(0.9), StopConfig(), [second]).reason == "quality_threshold"


def test_conditions_wait_for_min_iterations() -> None:
    """Custom conditions are not consulted before min_iterations."""
    cond = Always("bayesian")
    assert decide(state(0.1), StopConfig(min_iterations=2), [cond]).stop is False
    assert cond.calls == 0


def test_always_condition_satisfies_protocol() -> None:
    """The test condition is a StopCondition."""
    assert isinstance(Always("x"), StopCondition)


# --- budgets and max_iterations ----------------------------------------------------------


def test_timeout_at_exact_budget() -> None:
    """Elapsed time equal to timeout_s stops with timeout."""
    cfg = StopConfig(timeout_s=30.0)
    assert decide(state(0.1, elapsed=29.99), cfg).stop is False
    assert decide(state(0.1, elapsed=30.0), cfg).reason == "timeout"


def test_token_budget_at_exact_budget() -> None:
    """Tokens used equal to max_tokens stops with token_budget."""
    cfg = StopConfig(max_tokens=1000)
    assert decide(state(0.1, tokens=999), cfg).stop is False
    d = decide(state(0.1, tokens=1000), cfg)
    assert d.reason == "token_budget"
    assert "1000 of 1000" in d.detail


def test_timeout_checked_before_token_budget() -> None:
    """With both budgets spent, timeout is the reason."""
    cfg = StopConfig(max_tokens=10, timeout_s=1.0)
    assert decide(state(0.1, tokens=10, elapsed=1.0), cfg).reason == "timeout"


def test_budgets_apply_before_min_iterations() -> None:
    """Budgets are hard limits: they stop a loop even before min_iterations."""
    cfg = StopConfig(min_iterations=3, max_tokens=100)
    assert decide(state(0.1, tokens=100), cfg).reason == "token_budget"


def test_budget_wins_over_max_iterations() -> None:
    """A spent budget on the last iteration is reported as the budget."""
    cfg = StopConfig(max_iterations=1, timeout_s=5.0)
    assert decide(state(0.1, elapsed=6.0), cfg).reason == "timeout"


def test_max_iterations_at_cap() -> None:
    """Reaching max_iterations with nothing else firing stops with max_iterations."""
    cfg = StopConfig(max_iterations=2, convergence_delta=0.0)
    assert decide(state(0.1), cfg).stop is False
    d = decide(state(0.1, 0.5), cfg)
    assert d.reason == "max_iterations"


def test_max_iterations_one_with_min_one() -> None:
    """max_iterations 1 stops after the first iteration."""
    assert decide(state(0.0), StopConfig(max_iterations=1)).reason == "max_iterations"


def test_empty_state_goes_on() -> None:
    """No iteration yet: continue, with no reason."""
    d = decide(LoopState(scores=(), outputs=()), StopConfig())
    assert (d.stop, d.reason, d.detail) == (False, None, "no iteration yet")


def test_quality_exits_win_over_max_iterations() -> None:
    """A plateau on the last allowed iteration is reported as plateau."""
    cfg = StopConfig(max_iterations=3, no_progress_window=10)
    assert decide(state(0.3, 0.3, 0.3), cfg).reason == "plateau"


def test_exit_reasons_cover_the_literal() -> None:
    """EXIT_REASONS lists every reason once, including the engine's own."""
    assert len(set(EXIT_REASONS)) == len(EXIT_REASONS) == 12
    assert {"cancelled", "error"} <= set(EXIT_REASONS)


# --- validation --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"max_iterations": 0}, "max_iterations"),
        ({"max_iterations": 101}, "max_iterations"),
        ({"max_iterations": True}, "max_iterations"),
        ({"max_iterations": 2.0}, "max_iterations"),
        ({"min_iterations": 0}, "min_iterations"),
        ({"min_iterations": 6, "max_iterations": 5}, "min_iterations"),
        ({"quality_threshold": 1.01}, "quality_threshold"),
        ({"quality_threshold": -0.1}, "quality_threshold"),
        ({"quality_threshold": float("nan")}, "quality_threshold"),
        ({"convergence_delta": -0.01}, "convergence_delta"),
        ({"convergence_delta": float("inf")}, "convergence_delta"),
        ({"no_progress_window": 0}, "no_progress_window"),
        ({"max_tokens": 0}, "max_tokens"),
        ({"timeout_s": 0.0}, "timeout_s"),
        ({"timeout_s": -1.0}, "timeout_s"),
        ({"timeout_s": float("inf")}, "timeout_s"),
    ],
)
def test_stop_config_rejects_out_of_range(kwargs: dict[str, object], field: str) -> None:
    """Every out-of-range field is an InvalidInput naming that field."""
    with pytest.raises(InvalidInput) as err:
        StopConfig(**kwargs)  # type: ignore[arg-type]
    assert err.value.field == field


def test_stop_config_accepts_the_edges() -> None:
    """The edges of every range are accepted."""
    cfg = StopConfig(
        max_iterations=100,
        min_iterations=100,
        quality_threshold=1.0,
        convergence_delta=0.0,
        no_progress_window=100,
        max_tokens=1,
        timeout_s=0.001,
    )
    assert (cfg.max_iterations, cfg.min_iterations, cfg.quality_threshold) == (100, 100, 1.0)


def test_loop_state_rejects_mismatched_outputs() -> None:
    """A state needs one output per score."""
    with pytest.raises(InvalidInput) as err:
        LoopState(scores=(0.1, 0.2), outputs=("a",))
    assert err.value.field == "outputs"


def test_loop_state_rejects_score_out_of_range() -> None:
    """Scores outside [0, 1] are rejected."""
    with pytest.raises(InvalidInput) as err:
        LoopState(scores=(1.5,), outputs=("a",))
    assert err.value.field == "scores"


def test_loop_state_rejects_negative_budget_figures() -> None:
    """Negative tokens or elapsed time are rejected."""
    with pytest.raises(InvalidInput) as err:
        LoopState(scores=(), outputs=(), tokens_used=-1)
    assert err.value.field == "tokens_used"
    with pytest.raises(InvalidInput) as err2:
        LoopState(scores=(), outputs=(), elapsed_s=-0.5)
    assert err2.value.field == "elapsed_s"


def test_an_extended_loop_judges_progress_only_after_the_extension() -> None:
    """Flat scores that plateaued before the extension do not stop the first step after it."""
    flat = LoopState(scores=(0.5, 0.5, 0.5, 0.5), outputs=("a", "b", "c", "d"))
    assert decide(flat, StopConfig(max_iterations=10)).reason == "plateau"
    resumed = StopConfig(max_iterations=10, resumed_at=3)
    assert decide(flat, resumed).stop is False
    later = LoopState(scores=(0.5, 0.5, 0.5, 0.5, 0.5), outputs=("a", "b", "c", "d", "e"))
    assert decide(later, resumed).reason == "plateau"


def test_no_progress_counts_from_the_extension() -> None:
    """The best score is old, but the window counts only iterations since resumed_at."""
    state = LoopState(scores=(0.6, 0.4, 0.4, 0.3), outputs=("a", "b", "c", "d"))
    config = StopConfig(max_iterations=10, convergence_delta=0.0, no_progress_window=2)
    assert decide(state, config).reason == "no_progress"
    assert decide(state, replace(config, resumed_at=3)).stop is False


def test_cost_budget_is_a_hard_limit() -> None:
    """A spent cost budget stops the loop even before min_iterations."""
    state = LoopState(scores=(0.1,), outputs=("a",), cost=2.0)
    decision = decide(state, StopConfig(max_iterations=5, min_iterations=3, max_cost=2.0))
    assert decision.reason == "cost_budget"
    assert "2.0000 of 2" in decision.detail
