"""Records from database rows, and rows from records: one mapping for both stores.

A row is read by column name (``sqlite3.Row`` and psycopg's ``dict_row`` both do), so the
SQLite and PostgreSQL stores build and save every record the same way; only their SQL
differs (placeholders, types, locks).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol, cast

from loopcore.stats import Welford
from loopcore.store._json import dumps, loads_map, loads_strs
from loopcore.store.observations import IterationStats, OutcomeStats
from loopcore.store.records import (
    ApprovalRule,
    InterceptRecord,
    JournalEntry,
    LoopRecord,
    LoopStatus,
    Plan,
    StepRecord,
    Task,
    TaskContext,
    TaskStatus,
)

__all__ = [
    "TASK_COLUMNS",
    "Row",
    "intercept_from_row",
    "iteration_from_row",
    "journal_from_row",
    "loop_from_row",
    "loop_params",
    "outcome_from_row",
    "plan_from_row",
    "step_from_row",
    "task_context_from_row",
    "task_context_params",
    "task_from_row",
    "task_params",
]


class Row(Protocol):
    """A result row whose columns are read by name."""

    def __getitem__(self, key: str, /) -> Any: ...


def _f(value: Any) -> float | None:
    return None if value is None else float(value)


def _i(value: Any) -> int | None:
    return None if value is None else int(value)


def _opt_map(text: str | None) -> dict[str, Any] | None:
    return None if text is None else loads_map(text)


def _opt_json(value: Mapping[str, Any] | None) -> str | None:
    return None if value is None else dumps(dict(value))


def plan_from_row(row: Row) -> Plan:
    """Build a ``Plan`` from a ``plans`` row."""
    return Plan(
        id=row["id"],
        project=row["project"],
        goal=row["goal"],
        threshold=float(row["threshold"]),
        replan_policy=row["replan_policy"],
        status=row["status"],
        confidence=float(row["confidence"]),
        needs_replan=bool(row["needs_replan"]),
        replan_reason=row["replan_reason"],
        revision=int(row["revision"]),
        version=int(row["version"]),
        score_seq=int(row["score_seq"]),
        task_count=int(row["task_count"]),
        created_at=float(row["created_at"]),
        updated_at=float(row["updated_at"]),
    )


def task_from_row(row: Row) -> Task:
    """Build a ``Task`` from a ``tasks`` row."""
    return Task(
        plan_id=row["plan_id"],
        id=row["id"],
        position=int(row["position"]),
        title=row["title"],
        description=row["description"],
        depends_on=loads_strs(row["depends_on"]),
        acceptance=_opt_map(row["acceptance"]),
        notes=row["notes"],
        status=cast(TaskStatus, row["status"]),
        prompt_score=_f(row["prompt_score"]),
        output_score=_f(row["output_score"]),
        confidence=_f(row["confidence"]),
        scored_at=_f(row["scored_at"]),
        score_seq=_i(row["score_seq"]),
        claimed_by=row["claimed_by"],
        lease_expires_at=_f(row["lease_expires_at"]),
        last_output=row["last_output"],
        baseline_details=_opt_map(row["baseline_details"]),
        last_details=_opt_map(row["last_details"]),
        approval=cast(ApprovalRule, row["approval"]),
        created_at=float(row["created_at"]),
        updated_at=float(row["updated_at"]),
    )


# The ``tasks`` columns, for statements that read a task beside another row: each is
# selected as ``t_<column>`` (the plan's columns keep their names).
TASK_COLUMNS = (
    "plan_id", "id", "position", "title", "description", "depends_on", "acceptance", "notes",
    "status", "prompt_score", "output_score", "confidence", "scored_at", "score_seq",
    "claimed_by", "lease_expires_at", "last_output", "baseline_details", "last_details",
    "approval", "created_at", "updated_at",
)  # fmt: skip


class _Prefixed:
    """The columns of ``row`` named ``<prefix><name>``, read by ``name``."""

    def __init__(self, row: Row, prefix: str) -> None:
        self._row = row
        self._prefix = prefix

    def __getitem__(self, key: str, /) -> Any:
        return self._row[self._prefix + key]


def task_context_from_row(row: Row, others_confidence: tuple[float, ...]) -> TaskContext:
    """Build a ``TaskContext`` from a row of a plan, its ``t_`` task columns (NULL when the
    plan has no such task), ``newest_at``, ``newest_seq`` and ``others_open``;
    ``others_confidence`` is decoded by the store.
    """
    has_task = row["t_id"] is not None
    at = row["newest_at"]
    return TaskContext(
        plan=plan_from_row(row),
        task=task_from_row(_Prefixed(row, "t_")) if has_task else None,
        others_confidence=others_confidence,
        newest_other=None if at is None else (float(at), int(row["newest_seq"])),
        others_open=bool(row["others_open"]),
    )


def task_context_params(plan_id: str, task_id: str, window: int) -> tuple[Any, ...]:
    """The parameters of both stores' task-context statement, in its placeholder order:
    with a window (the others' scores, whether one is open, the task, the newest other,
    the plan), or without (the task, the plan)."""
    if window > 0:
        return (task_id, window, task_id, task_id, task_id, plan_id)
    return (task_id, plan_id)


def task_params(t: Task) -> tuple[Any, ...]:
    """The columns of ``_SAVE_TASK`` in order (plan_id and id last)."""
    return (
        t.position,
        t.title,
        t.description,
        dumps(list(t.depends_on)),
        _opt_json(t.acceptance),
        t.notes,
        t.status,
        t.prompt_score,
        t.output_score,
        t.confidence,
        t.scored_at,
        t.score_seq,
        t.claimed_by,
        t.lease_expires_at,
        t.last_output,
        _opt_json(t.baseline_details),
        _opt_json(t.last_details),
        t.approval,
        t.updated_at,
        t.plan_id,
        t.id,
    )


def journal_from_row(row: Row) -> JournalEntry:
    """Build a ``JournalEntry`` from a ``journal`` row."""
    return JournalEntry(
        seq=int(row["seq"]),
        at=float(row["at"]),
        project=row["project"],
        kind=row["kind"],
        plan_id=row["plan_id"],
        task_id=row["task_id"],
        loop_id=row["loop_id"],
        detail=loads_map(row["detail"]),
    )


def loop_params(lp: LoopRecord) -> tuple[Any, ...]:
    """The columns of ``_SAVE_LOOP`` in order (id last)."""
    return (
        lp.goal,
        dumps(dict(lp.evaluator_spec)),
        lp.task_type,
        lp.model,
        dumps(dict(lp.config)),
        lp.plan_id,
        lp.task_id,
        lp.status,
        lp.iterations,
        lp.best_score,
        lp.best_iteration,
        lp.tokens_used,
        lp.exit_reason,
        lp.exit_detail,
        lp.outcome,
        _opt_json(lp.summary),
        lp.updated_at,
        lp.ended_at,
        lp.id,
    )


def loop_from_row(row: Row) -> LoopRecord:
    """Build a ``LoopRecord`` from a ``loops`` row."""
    return LoopRecord(
        id=row["id"],
        project=row["project"],
        goal=row["goal"],
        evaluator_spec=loads_map(row["evaluator_spec"]),
        task_type=row["task_type"],
        model=row["model"],
        config=loads_map(row["config"]),
        plan_id=row["plan_id"],
        task_id=row["task_id"],
        status=cast(LoopStatus, row["status"]),
        iterations=int(row["iterations"]),
        best_score=_f(row["best_score"]),
        best_iteration=_i(row["best_iteration"]),
        tokens_used=int(row["tokens_used"]),
        exit_reason=row["exit_reason"],
        exit_detail=row["exit_detail"],
        outcome=row["outcome"],
        summary=_opt_map(row["summary"]),
        created_at=float(row["created_at"]),
        updated_at=float(row["updated_at"]),
        ended_at=_f(row["ended_at"]),
    )


def step_from_row(row: Row) -> StepRecord:
    """Build a ``StepRecord`` from a ``loop_steps`` row."""
    return StepRecord(
        loop_id=row["loop_id"],
        iteration=int(row["iteration"]),
        output=row["output"],
        score=float(row["score"]),
        passed=bool(row["passed"]),
        deficiencies=loads_strs(row["deficiencies"]),
        feedback=row["feedback"],
        sub_scores={k: float(v) for k, v in loads_map(row["sub_scores"]).items()},
        details=loads_map(row["details"]),
        tokens_used=int(row["tokens_used"]),
        created_at=float(row["created_at"]),
    )


def intercept_from_row(row: Row) -> InterceptRecord:
    """Build an ``InterceptRecord`` from an ``intercepts`` row."""
    return InterceptRecord(
        id=row["id"],
        project=row["project"],
        prompt_hash=row["prompt_hash"],
        score=float(row["score"]),
        grade=row["grade"],
        dimensions={k: float(v) for k, v in loads_map(row["dimensions"]).items()},
        route=row["route"],
        prompt_text=row["prompt_text"],
        plan_id=row["plan_id"],
        task_id=row["task_id"],
        created_at=float(row["created_at"]),
    )


def _welford(row: Row, prefix: str) -> Welford:
    return Welford(
        n=int(row[f"{prefix}_n"]), mean=float(row[f"{prefix}_mean"]), m2=float(row[f"{prefix}_m2"])
    )


def iteration_from_row(row: Row) -> IterationStats:
    """Build ``IterationStats`` from a ``prior_iterations`` row."""
    return IterationStats(
        task_type=row["task_type"],
        model=row["model"],
        iteration=int(row["iteration"]),
        score=_welford(row, "score"),
        delta=_welford(row, "delta"),
    )


def outcome_from_row(row: Row) -> OutcomeStats:
    """Build ``OutcomeStats`` from a ``prior_outcomes`` row."""
    return OutcomeStats(
        task_type=row["task_type"],
        model=row["model"],
        loops=int(row["loops"]),
        converged=int(row["converged"]),
        iterations=_welford(row, "iterations"),
        latency=_welford(row, "latency"),
        tokens=_welford(row, "tokens"),
    )
