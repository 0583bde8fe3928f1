"""Refinement loops: agent-driven sessions, the server-driven engine, and when they stop.

Inside: ``sessions`` (the agent-driven ``LoopService``: the agent produces,
the server judges), ``model`` (its results and helpers), ``engine``
(``refine``: the server runs the loop on a provider), ``stopping`` (the exit
rules shared by both), ``bayes_exit`` (stop when reaching the threshold is
worth less than a step) and ``priors`` (what finished loops teach).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from loopcore.loops.priors import Priors, PriorsCache, PriorSummary, SuggestedConfig
from loopcore.loops.sessions import LoopRecord, LoopService, LoopSummary, LoopView, StepResult
from loopcore.loops.stopping import ExitReason, StopConfig, StopDecision

if TYPE_CHECKING:
    from loopcore.loops.engine import IterationRecord, Prices, RefineConfig, RefineResult, refine

# The engine (``refine``) loads on first use: a server that serves agent-driven loops, or
# none, never needs it, and importing any ``loopcore.loops`` module runs this file.
_ENGINE = frozenset({"IterationRecord", "Prices", "RefineConfig", "RefineResult", "refine"})


def __getattr__(name: str) -> Any:
    if name in _ENGINE:
        from loopcore.loops import engine

        return getattr(engine, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "ExitReason",
    "IterationRecord",
    "LoopRecord",
    "LoopService",
    "LoopSummary",
    "LoopView",
    "Prices",
    "PriorSummary",
    "Priors",
    "PriorsCache",
    "RefineConfig",
    "RefineResult",
    "StepResult",
    "StopConfig",
    "StopDecision",
    "SuggestedConfig",
    "refine",
]
