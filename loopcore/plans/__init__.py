"""Scored task plans: a dependency graph of tasks, scores, a rolling confidence, replanning.

The package's contract is ``PlanService`` and the shapes it takes and returns.
Inside: ``service`` (the one ``PlanService``), ``model`` (inputs, limits,
results), ``graph`` (dependencies, readiness), ``confidence`` (the maths),
``operations`` (the read-check-write steps that run inside one store
transaction, shared with the loops and the prompt history), ``replan``,
``acceptance`` (which spec scores a task's output), ``export`` (status views,
journal lines, JSON and Markdown).
"""

from __future__ import annotations

from loopcore.plans.confidence import DEFAULT_THRESHOLD
from loopcore.plans.model import (
    NextTask,
    PlanExplanation,
    PlanLimits,
    PlanPage,
    PlanStatus,
    RecordResult,
    ReplanResult,
    TaskAcceptance,
    TaskPatch,
    TaskSpec,
)
from loopcore.plans.service import PlanService
from loopcore.store.records import Plan, Task

__all__ = [
    "DEFAULT_THRESHOLD",
    "NextTask",
    "Plan",
    "PlanExplanation",
    "PlanLimits",
    "PlanPage",
    "PlanService",
    "PlanStatus",
    "RecordResult",
    "ReplanResult",
    "Task",
    "TaskAcceptance",
    "TaskPatch",
    "TaskSpec",
]
