"""Small statistics shared by the priors, the Bayesian exit and the store.

``Welford`` keeps a running mean and variance in O(1) memory (Welford, 1962);
``merge`` combines two of them exactly (Chan et al.), so observations recorded
by separate processes can be folded together in any order.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["Welford", "beta_cdf", "beta_ppf", "normal_sf"]


@dataclass(frozen=True, kw_only=True, slots=True)
class Welford:
    """Running count, mean and sum of squared deviations (``m2``)."""

    n: int = 0
    mean: float = 0.0
    m2: float = 0.0

    def add(self, x: float) -> Welford:
        """Return the statistics with ``x`` added. Non-finite values are ignored."""
        if not math.isfinite(x):
            return self
        n = self.n + 1
        delta = x - self.mean
        mean = self.mean + delta / n
        return Welford(n=n, mean=mean, m2=self.m2 + delta * (x - mean))

    def merge(self, other: Welford) -> Welford:
        """Return the statistics of both samples together."""
        if other.n == 0:
            return self
        if self.n == 0:
            return other
        n = self.n + other.n
        delta = other.mean - self.mean
        mean = self.mean + delta * other.n / n
        m2 = self.m2 + other.m2 + delta * delta * self.n * other.n / n
        return Welford(n=n, mean=mean, m2=m2)

    @property
    def variance(self) -> float:
        """Sample variance (n - 1 in the denominator); 0.0 below two observations."""
        return self.m2 / (self.n - 1) if self.n > 1 else 0.0


def normal_sf(x: float, mean: float, variance: float) -> float:
    """P(X >= x) for X ~ N(mean, variance); a step function when the variance is 0."""
    if variance <= 0.0:
        return 1.0 if mean >= x else 0.0
    return 0.5 * math.erfc((x - mean) / math.sqrt(2.0 * variance))


def beta_cdf(a: float, b: float, x: float) -> float:
    """P(X <= x) for X ~ Beta(a, b), the regularised incomplete beta I_x(a, b).

    Lentz's continued fraction, on the side of the mean where it converges fast.
    """
    if x <= 0.0 or x >= 1.0:
        return 0.0 if x <= 0.0 else 1.0
    if x > (a + 1.0) / (a + b + 2.0):
        return 1.0 - beta_cdf(b, a, 1.0 - x)
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


def beta_ppf(q: float, a: float, b: float) -> float:
    """The ``q`` quantile of Beta(a, b), by bisection on ``beta_cdf``."""
    lo, hi = 0.0, 1.0
    for _ in range(60):
        mid = (lo + hi) / 2.0
        if beta_cdf(a, b, mid) < q:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2.0
