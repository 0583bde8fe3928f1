"""SQLite statements for prompt history, feedback, usage counts and loop priors."""

from __future__ import annotations

import sqlite3

from loopcore.errors import StoreError
from loopcore.store._json import dumps
from loopcore.store._rows import intercept_from_row, iteration_from_row, outcome_from_row
from loopcore.store.observations import (
    IterationStats,
    LoopObservation,
    OutcomeStats,
    fold_iteration,
    fold_outcome,
)
from loopcore.store.records import FeedbackRecord, InterceptRecord, UsageCounts

__all__ = ["RECENT_INTERCEPTS_SQL", "HistorySql", "PriorSql"]

RECENT_INTERCEPTS_SQL = "SELECT * FROM intercepts WHERE project = ? ORDER BY seq DESC LIMIT ?"
_INSERT_INTERCEPT = """INSERT INTO intercepts (id, project, prompt_hash, score, grade,
    dimensions, route, prompt_text, plan_id, task_id, created_at)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"""
_RECENT_FEEDBACK = (
    "SELECT f.* FROM prompt_feedback f JOIN intercepts i ON i.id = f.history_id "
    "WHERE i.project = ? ORDER BY f.id DESC LIMIT ?"
)
_PROJECTS = (
    "SELECT project FROM plans UNION SELECT project FROM loops "
    "UNION SELECT project FROM intercepts ORDER BY 1"
)
# (per project, every project) statement pairs for usage counts.
_COUNTS = {
    "plans": (
        "SELECT status, COUNT(*) FROM plans WHERE project = ? GROUP BY status",
        "SELECT status, COUNT(*) FROM plans GROUP BY status",
    ),
    "tasks": (
        "SELECT t.status, COUNT(*) FROM tasks t JOIN plans p ON p.id = t.plan_id "
        "WHERE p.project = ? GROUP BY t.status",
        "SELECT status, COUNT(*) FROM tasks GROUP BY status",
    ),
    "loops": (
        "SELECT status, COUNT(*) FROM loops WHERE project = ? GROUP BY status",
        "SELECT status, COUNT(*) FROM loops GROUP BY status",
    ),
    "intercepts": (
        "SELECT 'all', COUNT(*) FROM intercepts WHERE project = ?",
        "SELECT 'all', COUNT(*) FROM intercepts",
    ),
    "feedback": (
        "SELECT 'all', COUNT(*) FROM prompt_feedback f JOIN intercepts i ON i.id = f.history_id "
        "WHERE i.project = ?",
        "SELECT 'all', COUNT(*) FROM prompt_feedback",
    ),
}
_UPSERT_ITERATION = """INSERT INTO prior_iterations (task_type, model, iteration, score_n,
    score_mean, score_m2, delta_n, delta_mean, delta_m2) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT (task_type, model, iteration) DO UPDATE SET score_n = excluded.score_n,
    score_mean = excluded.score_mean, score_m2 = excluded.score_m2,
    delta_n = excluded.delta_n, delta_mean = excluded.delta_mean, delta_m2 = excluded.delta_m2"""
_UPSERT_OUTCOME = """INSERT INTO prior_outcomes (task_type, model, loops, converged,
    iterations_n, iterations_mean, iterations_m2, latency_n, latency_mean, latency_m2,
    tokens_n, tokens_mean, tokens_m2) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT (task_type, model) DO UPDATE SET loops = excluded.loops,
    converged = excluded.converged, iterations_n = excluded.iterations_n,
    iterations_mean = excluded.iterations_mean, iterations_m2 = excluded.iterations_m2,
    latency_n = excluded.latency_n, latency_mean = excluded.latency_mean,
    latency_m2 = excluded.latency_m2, tokens_n = excluded.tokens_n,
    tokens_mean = excluded.tokens_mean, tokens_m2 = excluded.tokens_m2"""


class HistorySql:
    """Scored prompts, feedback on them, and usage counts."""

    _conn: sqlite3.Connection

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
        row = self._conn.execute("SELECT * FROM intercepts WHERE id = ?", (history_id,)).fetchone()
        return None if row is None else intercept_from_row(row)

    def recent_intercepts(self, project: str, limit: int) -> list[InterceptRecord]:
        """The newest ``limit`` scored prompts of a project (an index range scan)."""
        rows = self._conn.execute(RECENT_INTERCEPTS_SQL, (project, limit))
        return [intercept_from_row(r) for r in rows]

    def insert_feedback(
        self, history_id: str, rating: int, comment: str, at: float
    ) -> FeedbackRecord:
        """Store a rating of a past intercept."""
        cur = self._conn.execute(
            "INSERT INTO prompt_feedback (history_id, rating, comment, created_at) "
            "VALUES (?, ?, ?, ?)",
            (history_id, rating, comment, at),
        )
        if cur.lastrowid is None:
            raise StoreError("the feedback row was not stored")
        return FeedbackRecord(
            id=cur.lastrowid, history_id=history_id, rating=rating, comment=comment, created_at=at
        )

    def recent_feedback(self, project: str, limit: int) -> list[FeedbackRecord]:
        """The newest ``limit`` ratings of a project's intercepts, newest first."""
        rows = self._conn.execute(_RECENT_FEEDBACK, (project, limit))
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
        rows = self._conn.execute(_PROJECTS)
        return [str(r[0]) for r in rows]

    def usage_counts(self, project: str | None) -> UsageCounts:
        """Counts of plans, tasks, loops, intercepts and feedback."""
        found: dict[str, dict[str, int]] = {}
        for name, (scoped, everywhere) in _COUNTS.items():
            rows = (
                self._conn.execute(everywhere)
                if project is None
                else self._conn.execute(scoped, (project,))
            )
            found[name] = {str(r[0]): int(r[1]) for r in rows}
        return UsageCounts(
            project=project or "*",
            plans=found["plans"],
            tasks=found["tasks"],
            loops=found["loops"],
            intercepts=found["intercepts"].get("all", 0),
            feedback=found["feedback"].get("all", 0),
        )


class PriorSql:
    """Per (task type, model[, iteration]) running statistics, folded row by row."""

    _conn: sqlite3.Connection

    def record_observation(self, obs: LoopObservation) -> None:
        """Fold one finished loop into its rows (read-modify-write inside the transaction)."""
        for i in range(1, len(obs.scores) + 1):
            self._fold_iteration(obs, i)
        row = self._conn.execute(
            "SELECT * FROM prior_outcomes WHERE task_type = ? AND model = ?",
            (obs.task_type, obs.model),
        ).fetchone()
        base = (
            outcome_from_row(row)
            if row is not None
            else OutcomeStats(task_type=obs.task_type, model=obs.model)
        )
        o = fold_outcome(base, obs)
        walks = (o.iterations, o.latency, o.tokens)
        values = [x for w in walks for x in (w.n, w.mean, w.m2)]
        self._conn.execute(_UPSERT_OUTCOME, (o.task_type, o.model, o.loops, o.converged, *values))

    def _fold_iteration(self, obs: LoopObservation, iteration: int) -> None:
        row = self._conn.execute(
            "SELECT * FROM prior_iterations WHERE task_type = ? AND model = ? AND iteration = ?",
            (obs.task_type, obs.model, iteration),
        ).fetchone()
        base = (
            iteration_from_row(row)
            if row is not None
            else IterationStats(task_type=obs.task_type, model=obs.model, iteration=iteration)
        )
        s = fold_iteration(base, obs)
        values = [x for w in (s.score, s.delta) for x in (w.n, w.mean, w.m2)]
        self._conn.execute(_UPSERT_ITERATION, (s.task_type, s.model, s.iteration, *values))

    def load_prior_stats(self) -> tuple[list[IterationStats], list[OutcomeStats]]:
        """Every stored statistic, in key order."""
        its = self._conn.execute(
            "SELECT * FROM prior_iterations ORDER BY task_type, model, iteration"
        )
        outs = self._conn.execute("SELECT * FROM prior_outcomes ORDER BY task_type, model")
        return [iteration_from_row(r) for r in its], [outcome_from_row(r) for r in outs]
