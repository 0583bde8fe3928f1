"""PostgreSQL statements for loops, prompt history, usage counts and loop priors."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import psycopg
from psycopg.rows import DictRow

from loopcore.errors import StoreError
from loopcore.store._json import dumps
from loopcore.store._rows import (
    intercept_from_row,
    iteration_from_row,
    loop_from_row,
    loop_params,
    outcome_from_row,
    step_from_row,
)
from loopcore.store.observations import (
    IterationStats,
    LoopObservation,
    OutcomeStats,
    fold_iteration,
    fold_outcome,
)
from loopcore.store.records import (
    FeedbackRecord,
    InterceptRecord,
    LoopRecord,
    LoopStatus,
    StepRecord,
    UsageCounts,
)

__all__ = ["PgHistorySql", "PgLoopSql", "PgPriorSql"]

# pg_advisory_xact_lock key serialising the read-fold-write of the prior rows.
_PRIORS_LOCK = 0x7072696F

_INSERT_LOOP = """INSERT INTO loops (goal, evaluator_spec, task_type, model, config, plan_id,
    task_id, status, iterations, best_score, best_iteration, tokens_used, exit_reason,
    exit_detail, outcome, summary, updated_at, ended_at, id, project, created_at)
    VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"""
_SAVE_LOOP = """UPDATE loops SET goal = %s, evaluator_spec = %s, task_type = %s, model = %s,
    config = %s, plan_id = %s, task_id = %s, status = %s, iterations = %s, best_score = %s,
    best_iteration = %s, tokens_used = %s, exit_reason = %s, exit_detail = %s, outcome = %s,
    summary = %s, updated_at = %s, ended_at = %s WHERE id = %s"""
_INSERT_STEP = """INSERT INTO loop_steps (loop_id, iteration, output, score, passed,
    deficiencies, feedback, sub_scores, details, tokens_used, created_at)
    VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"""
_INSERT_INTERCEPT = """INSERT INTO intercepts (id, project, prompt_hash, score, grade,
    dimensions, route, prompt_text, plan_id, task_id, created_at)
    VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"""
_COUNTS = {
    "plans": (
        "SELECT status AS k, COUNT(*) AS n FROM plans WHERE project = %s GROUP BY status",
        "SELECT status AS k, COUNT(*) AS n FROM plans GROUP BY status",
    ),
    "tasks": (
        "SELECT t.status AS k, COUNT(*) AS n FROM tasks t JOIN plans p ON p.id = t.plan_id "
        "WHERE p.project = %s GROUP BY t.status",
        "SELECT status AS k, COUNT(*) AS n FROM tasks GROUP BY status",
    ),
    "loops": (
        "SELECT status AS k, COUNT(*) AS n FROM loops WHERE project = %s GROUP BY status",
        "SELECT status AS k, COUNT(*) AS n FROM loops GROUP BY status",
    ),
    "intercepts": (
        "SELECT 'all' AS k, COUNT(*) AS n FROM intercepts WHERE project = %s",
        "SELECT 'all' AS k, COUNT(*) AS n FROM intercepts",
    ),
    "feedback": (
        "SELECT 'all' AS k, COUNT(*) AS n FROM prompt_feedback f "
        "JOIN intercepts i ON i.id = f.history_id WHERE i.project = %s",
        "SELECT 'all' AS k, COUNT(*) AS n FROM prompt_feedback",
    ),
}
_UPSERT_ITERATION = """INSERT INTO prior_iterations (task_type, model, iteration, score_n,
    score_mean, score_m2, delta_n, delta_mean, delta_m2)
    VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)
    ON CONFLICT (task_type, model, iteration) DO UPDATE SET score_n = excluded.score_n,
    score_mean = excluded.score_mean, score_m2 = excluded.score_m2,
    delta_n = excluded.delta_n, delta_mean = excluded.delta_mean, delta_m2 = excluded.delta_m2"""
_UPSERT_OUTCOME = """INSERT INTO prior_outcomes (task_type, model, loops, converged,
    iterations_n, iterations_mean, iterations_m2, latency_n, latency_mean, latency_m2,
    tokens_n, tokens_mean, tokens_m2) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
    ON CONFLICT (task_type, model) DO UPDATE SET loops = excluded.loops,
    converged = excluded.converged, iterations_n = excluded.iterations_n,
    iterations_mean = excluded.iterations_mean, iterations_m2 = excluded.iterations_m2,
    latency_n = excluded.latency_n, latency_mean = excluded.latency_mean,
    latency_m2 = excluded.latency_m2, tokens_n = excluded.tokens_n,
    tokens_mean = excluded.tokens_mean, tokens_m2 = excluded.tokens_m2"""


class PgLoopSql:
    """Loops and their checkpointed steps."""

    _conn: psycopg.Connection[DictRow]

    def insert_loop(self, loop: LoopRecord) -> None:
        """Insert a new loop."""
        self._conn.execute(_INSERT_LOOP, (*loop_params(loop), loop.project, loop.created_at))

    def get_loop(self, loop_id: str, *, lock: bool = False) -> LoopRecord | None:
        """One loop, or None; ``lock`` is ``FOR UPDATE`` until the transaction ends."""
        sql = (
            "SELECT * FROM loops WHERE id = %s FOR UPDATE"
            if lock
            else "SELECT * FROM loops WHERE id = %s"
        )
        row = self._conn.execute(sql, (loop_id,)).fetchone()
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
            "SELECT * FROM loop_steps WHERE loop_id = %s ORDER BY iteration", (loop_id,)
        )
        return [step_from_row(r) for r in rows]

    def list_loops(
        self, project: str, *, statuses: Sequence[LoopStatus], limit: int = 100
    ) -> list[LoopRecord]:
        """Loops of a project with one of ``statuses``, newest first."""
        rows = self._conn.execute(
            "SELECT * FROM loops WHERE project = %s AND status = ANY(%s) "
            "ORDER BY created_at DESC, id DESC LIMIT %s",
            (project, list(statuses), limit),
        )
        return [loop_from_row(r) for r in rows]


class PgHistorySql:
    """Scored prompts, feedback on them, and usage counts."""

    _conn: psycopg.Connection[DictRow]

    def insert_intercept(self, record: InterceptRecord) -> None:
        """Store one scored prompt."""
        r = record
        self._conn.execute(
            _INSERT_INTERCEPT,
            (
                r.id,
                r.project,
                r.prompt_hash,
                r.score,
                r.grade,
                dumps(dict(r.dimensions)),
                r.route,
                r.prompt_text,
                r.plan_id,
                r.task_id,
                r.created_at,
            ),
        )

    def get_intercept(self, history_id: str) -> InterceptRecord | None:
        """One scored prompt, or None."""
        row = self._conn.execute("SELECT * FROM intercepts WHERE id = %s", (history_id,)).fetchone()
        return None if row is None else intercept_from_row(row)

    def recent_intercepts(self, project: str, limit: int) -> list[InterceptRecord]:
        """The newest ``limit`` scored prompts of a project."""
        rows = self._conn.execute(
            "SELECT * FROM intercepts WHERE project = %s ORDER BY seq DESC LIMIT %s",
            (project, limit),
        )
        return [intercept_from_row(r) for r in rows]

    def insert_feedback(
        self, history_id: str, rating: int, comment: str, at: float
    ) -> FeedbackRecord:
        """Store a rating of a past intercept."""
        row = self._conn.execute(
            "INSERT INTO prompt_feedback (history_id, rating, comment, created_at) "
            "VALUES (%s, %s, %s, %s) RETURNING id",
            (history_id, rating, comment, at),
        ).fetchone()
        if row is None:
            raise StoreError("the feedback row was not stored")
        return FeedbackRecord(
            id=int(row["id"]), history_id=history_id, rating=rating, comment=comment, created_at=at
        )

    def recent_feedback(self, project: str, limit: int) -> list[FeedbackRecord]:
        """The newest ``limit`` ratings of a project's intercepts, newest first."""
        rows = self._conn.execute(
            "SELECT f.* FROM prompt_feedback f JOIN intercepts i ON i.id = f.history_id "
            "WHERE i.project = %s ORDER BY f.id DESC LIMIT %s",
            (project, limit),
        )
        return [
            FeedbackRecord(
                id=int(r["id"]),
                history_id=r["history_id"],
                rating=int(r["rating"]),
                comment=r["comment"],
                created_at=float(r["created_at"]),
            )
            for r in rows
        ]

    def list_projects(self) -> list[str]:
        """Every project key that has a plan, a loop or an intercept, sorted."""
        rows = self._conn.execute(
            "SELECT project FROM plans UNION SELECT project FROM loops "
            "UNION SELECT project FROM intercepts ORDER BY 1"
        )
        return [str(r["project"]) for r in rows]

    def usage_counts(self, project: str | None) -> UsageCounts:
        """Counts of plans, tasks, loops, intercepts and feedback."""
        found: dict[str, dict[str, int]] = {}
        for name, (scoped, everywhere) in _COUNTS.items():
            rows = (
                self._conn.execute(everywhere)
                if project is None
                else self._conn.execute(scoped, (project,))
            )
            found[name] = {str(r["k"]): int(r["n"]) for r in rows}
        return UsageCounts(
            project=project or "*",
            plans=found["plans"],
            tasks=found["tasks"],
            loops=found["loops"],
            intercepts=found["intercepts"].get("all", 0),
            feedback=found["feedback"].get("all", 0),
        )


class PgPriorSql:
    """Per (task type, model[, iteration]) running statistics, folded row by row.

    The fold reads, combines and writes rows, so concurrent folds take one
    transaction-level advisory lock first (a row lock cannot cover a row not yet inserted).
    """

    _conn: psycopg.Connection[DictRow]

    def record_observation(self, obs: LoopObservation) -> None:
        """Fold one finished loop into its rows (read-modify-write under the priors lock)."""
        self._conn.execute("SELECT pg_advisory_xact_lock(%s)", (_PRIORS_LOCK,))
        for i in range(1, len(obs.scores) + 1):
            self._fold_iteration(obs, i)
        row = self._conn.execute(
            "SELECT * FROM prior_outcomes WHERE task_type = %s AND model = %s",
            (obs.task_type, obs.model),
        ).fetchone()
        base = (
            outcome_from_row(row)
            if row is not None
            else OutcomeStats(task_type=obs.task_type, model=obs.model)
        )
        o = fold_outcome(base, obs)
        walks = (o.iterations, o.latency, o.tokens)
        values: list[Any] = [x for w in walks for x in (w.n, w.mean, w.m2)]
        self._conn.execute(_UPSERT_OUTCOME, (o.task_type, o.model, o.loops, o.converged, *values))

    def _fold_iteration(self, obs: LoopObservation, iteration: int) -> None:
        row = self._conn.execute(
            "SELECT * FROM prior_iterations WHERE task_type = %s AND model = %s AND iteration = %s",
            (obs.task_type, obs.model, iteration),
        ).fetchone()
        base = (
            iteration_from_row(row)
            if row is not None
            else IterationStats(task_type=obs.task_type, model=obs.model, iteration=iteration)
        )
        s = fold_iteration(base, obs)
        values: list[Any] = [x for w in (s.score, s.delta) for x in (w.n, w.mean, w.m2)]
        self._conn.execute(_UPSERT_ITERATION, (s.task_type, s.model, s.iteration, *values))

    def load_prior_stats(self) -> tuple[list[IterationStats], list[OutcomeStats]]:
        """Every stored statistic, in key order."""
        its = self._conn.execute(
            "SELECT * FROM prior_iterations ORDER BY task_type, model, iteration"
        ).fetchall()
        outs = self._conn.execute(
            "SELECT * FROM prior_outcomes ORDER BY task_type, model"
        ).fetchall()
        return [iteration_from_row(r) for r in its], [outcome_from_row(r) for r in outs]
