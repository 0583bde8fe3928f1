"""Scoring a task's result with its acceptance spec, and tracking its tests across records.

A task whose acceptance spec runs a command (``{"type": "command", ...}``, or a
composite with such a part) can be recorded with nothing but its ids: the
server runs the command and records what it found. Each run that reached a
test verdict is kept on the task (``Task.last_details``; the first one as
``Task.baseline_details``), so the next run of the same task is scored against
the tests that failed at first and flags a test that newly fails as a
regression, across records and server restarts, as a loop does across steps.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from loopcore.evaluators.base import EvalContext, Evaluation
from loopcore.ids import check_text
from loopcore.plans.confidence import check_score
from loopcore.store.records import Plan, Task

__all__ = [
    "check_record",
    "has_verdict",
    "run_outcome",
    "runs_command",
    "task_context",
    "task_goal",
    "tracked_details",
]

# Kept out of the stored details: the output tail is for the model reading this result.
_BULKY = frozenset({"output_tail"})


def runs_command(spec: Mapping[str, Any] | None) -> bool:
    """Whether a (validated) evaluator spec runs a command: itself or one of its parts."""
    if not isinstance(spec, Mapping):
        return False
    if spec.get("type") == "command":
        return True
    parts = spec.get("parts") if spec.get("type") == "composite" else None
    if not isinstance(parts, list | tuple):
        return False
    return any(isinstance(p, Mapping) and runs_command(p.get("spec")) for p in parts)


def has_verdict(details: Mapping[str, Any] | None) -> bool:
    """Whether evaluation details name the failing tests of a run (or a part's do).

    A run that timed out or could not start has ``failing: None``: no verdict.
    """
    if not isinstance(details, Mapping):
        return False
    if isinstance(details.get("failing"), list | tuple):
        return True
    parts = details.get("parts")
    if not isinstance(parts, Mapping):
        return False
    return any(isinstance(p, Mapping) and has_verdict(p.get("details")) for p in parts.values())


def run_outcome(details: Mapping[str, Any] | None) -> tuple[tuple[str, ...], bool]:
    """The failing test ids (sorted, composite parts merged) and whether a test newly fails."""
    if not isinstance(details, Mapping):
        return (), False
    failing = details.get("failing")
    names = {str(n) for n in failing} if isinstance(failing, list | tuple) else set()
    regression = details.get("regression") is True
    parts = details.get("parts")
    for part in parts.values() if isinstance(parts, Mapping) else ():
        inner = part.get("details") if isinstance(part, Mapping) else None
        more, flagged = run_outcome(inner)
        names.update(more)
        regression = regression or flagged
    return tuple(sorted(names)), regression


def _compact(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _compact(v) for k, v in value.items() if k not in _BULKY}
    return value


def tracked_details(evaluation: Evaluation | None) -> dict[str, Any] | None:
    """What a task keeps of an evaluation for the next run: its details with a verdict, or None."""
    if evaluation is None or not has_verdict(evaluation.details):
        return None
    compact: dict[str, Any] = _compact(evaluation.details)
    return compact


def _reference(details: Mapping[str, Any] | None) -> Evaluation | None:
    # Only the details are compared (``testrun.score_run``, composite parts).
    return None if details is None else Evaluation(score=0.0, passed=False, details=details)


def task_goal(plan: Plan, task: Task) -> str:
    """The goal a task's output is scored against: the plan's goal, the task's title and text."""
    return f"{plan.goal}\n\n{task.title}\n{task.description}".strip()


def task_context(task: Task, goal: str, project_root: Path | None) -> EvalContext:
    """The context a task's evaluation runs in: its goal and its earlier test verdicts."""
    return EvalContext(
        goal=goal,
        baseline=_reference(task.baseline_details),
        previous=_reference(task.last_details),
        project_root=project_root,
    )


def check_record(
    prompt_score: object, output_score: object, output: object, max_chars: int
) -> tuple[float | None, float | None]:
    """The validated scores of a record call (and the output's length, when given)."""
    if output is not None:
        check_text(output, "output", max_chars=max_chars)
    return (
        None if prompt_score is None else check_score(prompt_score, "prompt_score"),
        None if output_score is None else check_score(output_score, "output_score"),
    )
