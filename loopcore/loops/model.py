"""Results and helpers of agent-driven loops (``loopcore.loops.sessions``)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any, Literal

from loopcore.errors import Conflict
from loopcore.evaluators.base import Evaluation
from loopcore.limits import LIMITS
from loopcore.loops.stopping import StopConfig
from loopcore.plans.acceptance import has_verdict
from loopcore.plans.export import iso
from loopcore.store.observations import LoopObservation
from loopcore.store.records import JournalEntry, LoopRecord, StepRecord

__all__ = [
    "KEPT_TASK_OUTPUT_CHARS",
    "MAX_GOAL_CHARS",
    "MAX_OUTCOME_CHARS",
    "MAX_OUTPUT_CHARS",
    "LoopSummary",
    "LoopView",
    "StepResult",
    "best_iteration",
    "build_summary",
    "config_from",
    "evaluation_of",
    "loop_line",
    "observation_of",
    "reference_steps",
    "require_open",
    "step_record",
    "summary_from",
]

MAX_GOAL_CHARS = LIMITS.goal_chars
MAX_OUTPUT_CHARS = LIMITS.output_chars
MAX_OUTCOME_CHARS = LIMITS.reason_chars
KEPT_TASK_OUTPUT_CHARS = LIMITS.kept_output_chars


@dataclass(frozen=True, kw_only=True, slots=True)
class StepResult:
    """How one step was judged and what to do next.

    ``decision`` is ``continue`` (hand ``feedback`` back to the model) or
    ``stop`` (``exit_reason`` and ``exit_detail`` say why; ``best_output`` is
    the best output so far); then call ``end``.
    """

    loop_id: str
    iteration: int
    evaluation: Evaluation
    decision: Literal["continue", "stop"]
    feedback: str
    exit_reason: str | None
    exit_detail: str
    best_output: str
    best_score: float
    best_iteration: int
    tokens_used: int


@dataclass(frozen=True, kw_only=True, slots=True)
class LoopSummary:
    """What ``end`` returns (the same every time it is called for a loop)."""

    loop_id: str
    project: str
    iterations: int
    scores: tuple[float, ...]
    best_score: float | None
    best_iteration: int | None
    best_output: str | None
    converged: bool
    exit_reason: str
    exit_detail: str
    outcome: str | None
    tokens_used: int
    elapsed_s: float
    plan_id: str | None = None
    task_id: str | None = None
    task_note: str = ""


@dataclass(frozen=True, kw_only=True, slots=True)
class LoopView:
    """A loop's state for resuming it: the record, its config, its scores, the last feedback."""

    loop: LoopRecord
    config: StopConfig
    scores: tuple[float, ...]
    last_feedback: str
    best_output: str | None


def config_from(stored: Mapping[str, Any]) -> StopConfig:
    """The stopping configuration stored with a loop (unknown keys from older versions dropped)."""
    known = {f.name for f in fields(StopConfig)}
    return StopConfig(**{k: v for k, v in stored.items() if k in known})


def evaluation_of(step: StepRecord) -> Evaluation:
    """The evaluation a checkpointed step recorded."""
    return Evaluation(
        score=step.score,
        passed=step.passed,
        deficiencies=step.deficiencies,
        sub_scores=dict(step.sub_scores),
        feedback=step.feedback,
        details=dict(step.details),
    )


def reference_steps(
    steps: Sequence[StepRecord],
) -> tuple[Evaluation | None, Evaluation | None]:
    """The (baseline, previous) evaluations a new step is compared with.

    The first and the latest steps whose details reached a test verdict (a run
    that timed out names no failing tests and must not become the reference);
    without any, the first and the latest steps.
    """
    if not steps:
        return None, None
    judged = [s for s in steps if has_verdict(s.details)] or list(steps)
    return evaluation_of(judged[0]), evaluation_of(judged[-1])


def best_iteration(scores: Sequence[float]) -> int:
    """1-based iteration of the first best score."""
    return max(range(len(scores)), key=lambda i: (scores[i], -i)) + 1


def step_record(
    loop_id: str, iteration: int, output: str, evaluation: Evaluation, tokens: int, now: float
) -> StepRecord:
    """The checkpoint row of one step."""
    e = evaluation
    return StepRecord(
        loop_id=loop_id,
        iteration=iteration,
        output=output,
        score=e.score,
        passed=e.passed,
        deficiencies=e.deficiencies,
        feedback=e.feedback,
        sub_scores=e.sub_scores,
        details=e.details,
        tokens_used=tokens,
        created_at=now,
    )


def summary_from(stored: Mapping[str, Any], steps: Sequence[StepRecord]) -> LoopSummary:
    """The summary kept at ``end``, with the best output read back from its step."""
    data = dict(stored)
    best = data.get("best_iteration")
    data["scores"] = tuple(data.get("scores", ()))
    data["best_output"] = steps[best - 1].output if best and best <= len(steps) else None
    return LoopSummary(**data)


def build_summary(
    loop: LoopRecord,
    steps: Sequence[StepRecord],
    *,
    threshold: float,
    outcome: str | None,
    now: float,
    note: str,
) -> LoopSummary:
    """The summary of a loop closing now (converged: the best score reached ``threshold``)."""
    scores = tuple(s.score for s in steps)
    best = best_iteration(scores) if scores else None
    best_score = scores[best - 1] if best else None
    return LoopSummary(
        loop_id=loop.id,
        project=loop.project,
        iterations=len(scores),
        scores=scores,
        best_score=best_score,
        best_iteration=best,
        best_output=steps[best - 1].output if best else None,
        converged=best_score is not None and best_score >= threshold,
        exit_reason=loop.exit_reason or "ended",
        exit_detail=loop.exit_detail or "ended by the agent before the stopping rule fired",
        outcome=outcome,
        tokens_used=loop.tokens_used,
        elapsed_s=max(0.0, now - loop.created_at),
        plan_id=loop.plan_id,
        task_id=loop.task_id,
        task_note=note,
    )


def observation_of(loop: LoopRecord, summary: LoopSummary, threshold: float) -> LoopObservation:
    """What a closed loop teaches the priors."""
    return LoopObservation(
        task_type=loop.task_type,
        model=loop.model,
        scores=summary.scores,
        threshold=threshold,
        converged=summary.converged,
        latency_s=summary.elapsed_s,
        tokens=loop.tokens_used,
    )


def require_open(loop: LoopRecord) -> None:
    """Refuse a step on a loop that is no longer taking steps.

    Raises:
        Conflict: the loop is stopped (call end) or closed (start a new one).
    """
    if loop.status == "stopped":
        raise Conflict(
            f"loop {loop.id!r} already stopped ({loop.exit_reason}: {loop.exit_detail}); "
            "close it to get the best output",
            kind="loop_stopped",
        )
    if loop.status == "closed":
        raise Conflict(f"loop {loop.id!r} is closed; start a new loop", kind="loop_closed")


def _num(value: object) -> str:
    return f"{value:.3f}" if isinstance(value, int | float) and not isinstance(value, bool) else "-"


def _started(d: Mapping[str, Any]) -> str:
    cfg = d.get("config") or {}
    on = f" for task {d.get('task_id')} of plan {d.get('plan_id')}" if d.get("plan_id") else ""
    aim = _num(cfg.get("quality_threshold"))
    return (
        f"started{on} (task type {d.get('task_type')}): aims at {aim} "
        f"within {cfg.get('max_iterations')} iterations"
    )


def _stepped(d: Mapping[str, Any]) -> str:
    head = f"iteration {d.get('iteration')} scored {_num(d.get('score'))}"
    if d.get("stop"):
        return f"{head} and stopped ({d.get('reason')}): {d.get('detail')}"
    return f"{head}; going on"


def _extended(d: Mapping[str, Any]) -> str:
    extra = [f"{k} {d[k]}" for k in ("max_tokens", "timeout_s") if d.get(k) is not None]
    return (
        f"extended after {d.get('after')} at iteration {d.get('iterations')}: now up to "
        f"{d.get('max_iterations')} iterations" + (f", {', '.join(extra)}" if extra else "")
    )


def _closed(d: Mapping[str, Any]) -> str:
    verdict = "converged" if d.get("converged") else "did not converge"
    tail = f"; {d.get('task_note')}" if d.get("task_note") else ""
    return (
        f"closed after {d.get('iterations')} iterations ({d.get('exit_reason')}): best "
        f"{_num(d.get('best_score'))}, {verdict}{tail}"
    )


_LOOP_LINES: dict[str, Callable[[Mapping[str, Any]], str]] = {
    "loop_started": _started,
    "loop_step": _stepped,
    "loop_extended": _extended,
    "loop_closed": _closed,
}


def loop_line(entry: JournalEntry) -> str:
    """One readable sentence for a loop's journal entry, stamped with its time."""
    render = _LOOP_LINES.get(entry.kind)
    text = render(entry.detail) if render else f"{entry.kind} {dict(entry.detail)}"
    return f"{iso(entry.at)} {text}"
