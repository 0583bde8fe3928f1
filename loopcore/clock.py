"""The clock seam: the only place loopcore reads the time.

A ``Clock`` returns seconds since the epoch as a float. Production code uses
``system_clock``; tests pass a ``FixedClock`` they can move by hand.
"""

from __future__ import annotations

import time
from collections.abc import Callable

__all__ = ["Clock", "FixedClock", "iso", "monotonic", "system_clock"]

Clock = Callable[[], float]


def system_clock() -> float:
    """Wall-clock seconds since the epoch."""
    return time.time()


def iso(at: float) -> str:
    """Epoch seconds as an ISO 8601 UTC stamp, to the second (``2026-01-02T03:04:05Z``)."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(at))


def monotonic() -> float:
    """Monotonic seconds, for measuring durations (latency, budgets)."""
    return time.monotonic()


class FixedClock:
    """A clock that only moves when told to (for tests and simulations)."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        """Move the clock forward by ``seconds``."""
        self.now += seconds
