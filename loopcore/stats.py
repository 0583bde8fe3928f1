"""Small running statistics shared by the priors and the store.

``Welford`` keeps a running mean and variance in O(1) memory (Welford, 1962);
``merge`` combines two of them exactly (Chan et al.), so observations recorded
by separate processes can be folded together in any order.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["Welford"]


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

    @property
    def std(self) -> float:
        """Sample standard deviation."""
        return math.sqrt(self.variance)
