"""Running statistics."""

from __future__ import annotations

import math
import statistics

from hypothesis import given
from hypothesis import strategies as st

from loopcore.clock import FixedClock
from loopcore.stats import Welford

finite = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False)


@given(st.lists(finite, min_size=2, max_size=50))
def test_welford_matches_statistics(xs: list[float]) -> None:
    """Mean and sample variance agree with the standard library."""
    w = Welford()
    for x in xs:
        w = w.add(x)
    assert w.n == len(xs)
    assert math.isclose(w.mean, statistics.fmean(xs), rel_tol=1e-9, abs_tol=1e-6)
    assert math.isclose(w.variance, statistics.variance(xs), rel_tol=1e-6, abs_tol=1e-3)


@given(st.lists(finite, max_size=30), st.lists(finite, max_size=30))
def test_merge_equals_adding_in_sequence(a: list[float], b: list[float]) -> None:
    """Merging two partial statistics gives the statistics of both samples."""
    wa, wb, wall = Welford(), Welford(), Welford()
    for x in a:
        wa = wa.add(x)
        wall = wall.add(x)
    for x in b:
        wb = wb.add(x)
        wall = wall.add(x)
    merged = wa.merge(wb)
    assert merged.n == wall.n
    assert math.isclose(merged.mean, wall.mean, rel_tol=1e-9, abs_tol=1e-6)
    assert math.isclose(merged.m2, wall.m2, rel_tol=1e-6, abs_tol=1e-3)


def test_non_finite_values_are_ignored() -> None:
    """NaN and infinities never poison the statistics."""
    w = Welford().add(1.0).add(float("nan")).add(float("inf"))
    assert (w.n, w.mean) == (1, 1.0)


def test_fixed_clock_moves_only_when_told() -> None:
    """A fixed clock returns the same time until advanced."""
    clock = FixedClock(100.0)
    assert clock() == 100.0
    clock.advance(2.5)
    assert clock() == 102.5
