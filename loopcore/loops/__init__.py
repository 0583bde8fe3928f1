"""Refinement loops: agent-driven sessions, the server-driven engine, and when they stop.

Inside: ``sessions`` (the agent-driven ``LoopService``: the agent produces,
the server judges), ``model`` (its results and helpers), ``engine``
(``refine``: the server runs the loop on a provider), ``stopping`` (the exit
rules shared by both), ``bayes_exit`` (stop when reaching the threshold is
worth less than a step) and ``priors`` (what finished loops teach).
"""

from __future__ import annotations

from loopcore.loops.engine import IterationRecord, Prices, RefineConfig, RefineResult, refine
from loopcore.loops.priors import Priors, PriorSummary, SuggestedConfig
from loopcore.loops.sessions import LoopRecord, LoopService, LoopSummary, LoopView, StepResult
from loopcore.loops.stopping import ExitReason, StopConfig, StopDecision

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
    "RefineConfig",
    "RefineResult",
    "StepResult",
    "StopConfig",
    "StopDecision",
    "SuggestedConfig",
    "refine",
]
