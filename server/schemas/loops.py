"""Outputs of the loop tools, refine, suggest_config and stats."""

from __future__ import annotations

from typing import Any, Literal

from server.schemas.base import Model

__all__ = [
    "IterationOut",
    "LoopBrief",
    "LoopOut",
    "LoopStartOut",
    "LoopStepOut",
    "PriorRow",
    "RefineOut",
    "StatsOut",
    "SuggestOut",
]


class LoopStartOut(Model):
    """A new loop: produce an output, then call loop_step with it."""

    loop_id: str
    config: dict[str, Any]
    guidance: str


class LoopStepOut(Model):
    """decision continue: fix ``feedback`` and step again; stop: call loop_end (it returns
    the best output; the output you sent is not echoed back).

    ``failing``: the tests a command evaluator saw fail; ``regression``: one of them
    passed in an earlier step.
    """

    iteration: int
    score: float
    passed: bool
    decision: Literal["continue", "stop"]
    exit_reason: str | None = None
    feedback: str
    best_score: float
    failing: list[str] = []
    regression: bool = False


class LoopOut(Model):
    """A loop's state (open, stopped or closed) and its scores so far."""

    loop_id: str
    status: str
    scores: list[float] = []
    best_score: float | None = None
    best_output: str | None = None
    converged: bool = False
    exit_reason: str | None = None
    note: str = ""


class LoopBrief(Model):
    """One open loop."""

    loop_id: str
    goal: str
    status: str
    iterations: int
    best_score: float | None = None


class StatsOut(Model):
    """Usage figures of this project and its open loops."""

    project: str
    plans: dict[str, int]
    tasks: dict[str, int]
    loops: dict[str, int]
    intercepts: int
    feedback: int
    open_loops: list[LoopBrief] = []


class IterationOut(Model):
    """One refine iteration, compact (the outputs themselves are not repeated)."""

    iteration: int
    score: float
    passed: bool
    deficiencies: list[str]
    tokens: int
    latency_s: float


class RefineOut(Model):
    """How a server-driven loop ended; ``output`` is the best answer."""

    output: str
    best_score: float
    converged: bool
    exit_reason: str
    exit_detail: str
    iterations: list[IterationOut]
    total_tokens: int
    tokens_reported: bool
    elapsed_s: float
    provider: Literal["sampling", "configured"]
    provider_name: str
    model: str
    config: dict[str, Any]
    learned: bool


class PriorRow(Model):
    """What the priors hold for one (task type, model)."""

    model: str
    loops: int
    converged: int
    convergence_rate: float
    rate_low: float
    rate_high: float
    mean_iterations: float


class SuggestOut(Model):
    """A loop config learned from past loops (source "prior") or the defaults."""

    task_type: str
    model: str | None
    max_iterations: int
    min_iterations: int
    quality_threshold: float
    expected_iterations: float
    convergence_rate: float
    based_on_loops: int
    source: Literal["prior", "default"]
    rationale: str
    priors: list[PriorRow]
