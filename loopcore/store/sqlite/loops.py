"""SQLite statements for agent-driven loops and their steps."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from loopcore.errors import StoreError
from loopcore.store._json import dumps
from loopcore.store._rows import loop_from_row, loop_params, step_from_row
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


class LoopSql:
    """Loops and their checkpointed steps."""

    _conn: sqlite3.Connection

    def insert_loop(self, loop: LoopRecord) -> None:
        """Insert a new loop."""
        self._conn.execute(_INSERT_LOOP, (*loop_params(loop), loop.project, loop.created_at))

    def get_loop(self, loop_id: str, *, lock: bool = False) -> LoopRecord | None:
        """One loop, or None (BEGIN IMMEDIATE already serialises writers)."""
        row = self._conn.execute("SELECT * FROM loops WHERE id = ?", (loop_id,)).fetchone()
        return None if row is None else loop_from_row(row)

    def save_loop(self, loop: LoopRecord) -> None:
        """Write the loop row."""
        cur = self._conn.execute(_SAVE_LOOP, loop_params(loop))
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
        return [step_from_row(r) for r in rows]

    def list_loops(
        self, project: str, *, statuses: Sequence[LoopStatus], limit: int = 100
    ) -> list[LoopRecord]:
        """Loops of a project with one of ``statuses``, newest first."""
        rows = self._conn.execute(_LIST_LOOPS, (project, dumps(list(statuses)), limit))
        return [loop_from_row(r) for r in rows]
