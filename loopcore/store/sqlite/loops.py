"""SQLite statements for agent-driven loops and their steps."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import cast

from loopcore.errors import StoreError
from loopcore.store._json import dumps, loads_map, loads_strs
from loopcore.store.records import LoopRecord, LoopStatus, StepRecord

__all__ = ["LoopSql"]

_INSERT_LOOP = """INSERT INTO loops (goal, evaluator_spec, task_type, model, config, plan_id,
    task_id, status, iterations, best_score, best_iteration, tokens_used, exit_reason,
    exit_detail, outcome, summary, updated_at, ended_at, id, project, created_at)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"""
_SAVE_LOOP = """UPDATE loops SET goal = ?, evaluator_spec = ?, task_type = ?, model = ?,
    config = ?, plan_id = ?, task_id = ?, status = ?, iterations = ?, best_score = ?,
    best_iteration = ?, tokens_used = ?, exit_reason = ?, exit_detail = ?, outcome = ?,
    summary = ?, updated_at = ?, ended_at = ? WHERE id = ?"""
_INSERT_STEP = """INSERT INTO loop_steps (loop_id, iteration, output, score, passed,
    deficiencies, feedback, sub_scores, details, tokens_used, created_at)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"""
# A loop is listed by status through loops_by_project; the statuses are bound, never formatted.
_LIST_LOOPS = (
    "SELECT * FROM loops WHERE project = ? AND status IN (SELECT value FROM json_each(?)) "
    "ORDER BY created_at DESC, id DESC LIMIT ?"
)


def _loop_params(lp: LoopRecord) -> tuple[object, ...]:
    summary = None if lp.summary is None else dumps(dict(lp.summary))
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
        summary,
        lp.updated_at,
        lp.ended_at,
        lp.id,
    )


def loop_from_row(row: sqlite3.Row) -> LoopRecord:
    """Build a ``LoopRecord`` from a ``loops`` row."""
    summary = row["summary"]
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
        best_score=None if row["best_score"] is None else float(row["best_score"]),
        best_iteration=None if row["best_iteration"] is None else int(row["best_iteration"]),
        tokens_used=int(row["tokens_used"]),
        exit_reason=row["exit_reason"],
        exit_detail=row["exit_detail"],
        outcome=row["outcome"],
        summary=None if summary is None else loads_map(summary),
        created_at=float(row["created_at"]),
        updated_at=float(row["updated_at"]),
        ended_at=None if row["ended_at"] is None else float(row["ended_at"]),
    )


def _step_from_row(row: sqlite3.Row) -> StepRecord:
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


class LoopSql:
    """Loops and their checkpointed steps."""

    _conn: sqlite3.Connection

    def insert_loop(self, loop: LoopRecord) -> None:
        """Insert a new loop."""
        self._conn.execute(_INSERT_LOOP, (*_loop_params(loop), loop.project, loop.created_at))

    def get_loop(self, loop_id: str, *, lock: bool = False) -> LoopRecord | None:
        """One loop, or None (BEGIN IMMEDIATE already serialises writers)."""
        row = self._conn.execute("SELECT * FROM loops WHERE id = ?", (loop_id,)).fetchone()
        return None if row is None else loop_from_row(row)

    def save_loop(self, loop: LoopRecord) -> None:
        """Write the loop row."""
        cur = self._conn.execute(_SAVE_LOOP, _loop_params(loop))
        if cur.rowcount != 1:
            raise StoreError(f"loop {loop.id!r} vanished during the transaction")

    def insert_step(self, step: StepRecord) -> None:
        """Checkpoint one step."""
        s = step
        self._conn.execute(
            _INSERT_STEP,
            (
                s.loop_id,
                s.iteration,
                s.output,
                s.score,
                int(s.passed),
                dumps(list(s.deficiencies)),
                s.feedback,
                dumps(dict(s.sub_scores)),
                dumps(dict(s.details)),
                s.tokens_used,
                s.created_at,
            ),
        )

    def list_steps(self, loop_id: str) -> list[StepRecord]:
        """Every step of the loop, by iteration."""
        rows = self._conn.execute(
            "SELECT * FROM loop_steps WHERE loop_id = ? ORDER BY iteration", (loop_id,)
        )
        return [_step_from_row(r) for r in rows]

    def list_loops(
        self, project: str, *, statuses: Sequence[LoopStatus], limit: int = 100
    ) -> list[LoopRecord]:
        """Loops of a project with one of ``statuses``, newest first."""
        rows = self._conn.execute(_LIST_LOOPS, (project, dumps(list(statuses)), limit))
        return [loop_from_row(r) for r in rows]
