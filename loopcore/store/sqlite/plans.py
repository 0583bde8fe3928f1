"""SQLite statements for plans, tasks and revisions."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from loopcore.errors import StoreError
from loopcore.store._json import dumps, loads_map
from loopcore.store._rows import (
    TASK_COLUMNS,
    plan_from_row,
    task_context_from_row,
    task_context_params,
    task_from_row,
    task_params,
)
from loopcore.store.records import Plan, PlanState, Revision, Task, TaskContext, TaskStatus
from loopcore.store.sqlite.journal import JournalSql

__all__ = ["PlanSql", "plan_from_row", "task_from_row"]

_INSERT_PLAN = """INSERT INTO plans (id, project, goal, threshold, replan_policy, status,
    confidence, needs_replan, replan_reason, revision, version, score_seq, task_count,
    created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"""
_SAVE_PLAN = """UPDATE plans SET goal = ?, threshold = ?, replan_policy = ?, status = ?,
    confidence = ?, needs_replan = ?, replan_reason = ?, revision = ?, version = ?,
    score_seq = ?, task_count = ?, updated_at = ? WHERE id = ?"""
_INSERT_TASK = """INSERT INTO tasks (position, title, description, depends_on, acceptance,
    notes, status, prompt_score, output_score, confidence, scored_at, score_seq, claimed_by,
    lease_expires_at, last_output, baseline_details, last_details, approval, updated_at, plan_id,
    id, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"""
_SAVE_TASK = """UPDATE tasks SET position = ?, title = ?, description = ?, depends_on = ?,
    acceptance = ?, notes = ?, status = ?, prompt_score = ?, output_score = ?, confidence = ?,
    scored_at = ?, score_seq = ?, claimed_by = ?, lease_expires_at = ?, last_output = ?,
    baseline_details = ?, last_details = ?, approval = ?, updated_at = ?
    WHERE plan_id = ? AND id = ?"""
# A plan and one of its tasks in one statement (LEFT JOIN: the plan without the task still
# tells "no such task" from "no such plan"); with the scoring facts of the other tasks: the
# newest scored (17 significant digits: a float read back exactly) and whether any is open.
_TASK_COLUMNS = ", ".join(f"t.{c} AS t_{c}" for c in TASK_COLUMNS)
# The others' confidences come as one text, newest first (%!.17g reads back exact; the
# ordered subquery, which SQLite never flattens into the aggregate because of its LIMIT,
# feeds group_concat in that order), and the newest one's (scored_at, score_seq) beside
# them: all a score needs of the other tasks, in the fewest bytes to format and parse.
_TASK_CONTEXT = {
    False: f"""SELECT p.*, {_TASK_COLUMNS}, NULL AS others_confidence, NULL AS newest_at,
    NULL AS newest_seq, FALSE AS others_open
    FROM plans p LEFT JOIN tasks t ON t.plan_id = p.id AND t.id = ? WHERE p.id = ?""",  # noqa: S608 (TASK_COLUMNS)
    True: f"""SELECT p.*, {_TASK_COLUMNS}, n.scored_at AS newest_at, n.score_seq AS newest_seq,
    (SELECT group_concat(printf('%!.17g', o.confidence), ' ')
        FROM (SELECT confidence FROM tasks
            WHERE plan_id = p.id AND id <> ? AND score_seq IS NOT NULL
            ORDER BY scored_at DESC, score_seq DESC LIMIT ?) AS o) AS others_confidence,
    EXISTS (SELECT 1 FROM tasks WHERE plan_id = p.id
        AND status IN ('pending', 'in_progress', 'failed') AND id <> ?) AS others_open
    FROM plans p LEFT JOIN tasks t ON t.plan_id = p.id AND t.id = ?
    LEFT JOIN tasks n ON n.rowid = (SELECT rowid FROM tasks
        WHERE plan_id = p.id AND id <> ? AND score_seq IS NOT NULL
        ORDER BY scored_at DESC, score_seq DESC LIMIT 1)
    WHERE p.id = ?""",  # noqa: S608 (TASK_COLUMNS)
}
# One constant statement per (status filter, cursor) combination so each can use its index.
_LIST_PLANS = {
    (
        False,
        False,
    ): "SELECT * FROM plans WHERE project = ? ORDER BY created_at DESC, id DESC LIMIT ?",
    (True, False): "SELECT * FROM plans WHERE project = ? AND status = ? "
    "ORDER BY created_at DESC, id DESC LIMIT ?",
    (False, True): "SELECT * FROM plans WHERE project = ? AND (created_at, id) < (?, ?) "
    "ORDER BY created_at DESC, id DESC LIMIT ?",
    (True, True): "SELECT * FROM plans WHERE project = ? AND status = ? "
    "AND (created_at, id) < (?, ?) ORDER BY created_at DESC, id DESC LIMIT ?",
}
_EXPIRED = {
    False: "SELECT * FROM tasks WHERE status = 'in_progress' AND lease_expires_at <= ?",
    True: "SELECT * FROM tasks WHERE plan_id = ? AND status = 'in_progress' "
    "AND lease_expires_at <= ?",
}
# A pending task is ready when every id in its depends_on names a done or skipped task.
_READY = """SELECT t.id FROM tasks t WHERE t.plan_id = ? AND t.status = 'pending'
    AND NOT EXISTS (
        SELECT 1 FROM json_each(t.depends_on) AS d WHERE NOT EXISTS (
            SELECT 1 FROM tasks u WHERE u.plan_id = t.plan_id AND u.id = d.value
            AND u.status IN ('done', 'skipped')))
    ORDER BY t.position LIMIT ?"""


class PlanSql(JournalSql):
    """Plans, tasks and revisions (lease expiry journals through ``JournalSql``)."""

    def insert_plan(self, plan: Plan, tasks: Sequence[Task]) -> None:
        """Insert a new plan with its tasks."""
        p = plan
        self._conn.execute(
            _INSERT_PLAN,
            (
                p.id,
                p.project,
                p.goal,
                p.threshold,
                p.replan_policy,
                p.status,
                p.confidence,
                int(p.needs_replan),
                p.replan_reason,
                p.revision,
                p.version,
                p.score_seq,
                p.task_count,
                p.created_at,
                p.updated_at,
            ),
        )
        self.insert_tasks(tasks)

    def get_plan(self, plan_id: str, *, lock: bool = False) -> Plan | None:
        """The plan's summary row (BEGIN IMMEDIATE already serialises writers)."""
        row = self._conn.execute("SELECT * FROM plans WHERE id = ?", (plan_id,)).fetchone()
        return None if row is None else plan_from_row(row)

    def save_plan(self, plan: Plan) -> None:
        """Write the plan's summary row."""
        p = plan
        cur = self._conn.execute(
            _SAVE_PLAN,
            (
                p.goal,
                p.threshold,
                p.replan_policy,
                p.status,
                p.confidence,
                int(p.needs_replan),
                p.replan_reason,
                p.revision,
                p.version,
                p.score_seq,
                p.task_count,
                p.updated_at,
                p.id,
            ),
        )
        if cur.rowcount != 1:
            raise StoreError(f"plan {p.id!r} vanished during the transaction")

    def delete_plan(self, plan_id: str) -> bool:
        """Delete the plan; tasks, revisions and journal entries cascade."""
        cur = self._conn.execute("DELETE FROM plans WHERE id = ?", (plan_id,))
        return cur.rowcount == 1

    def list_plans(
        self,
        project: str,
        *,
        status: PlanState | None = None,
        after: tuple[float, str] | None = None,
        limit: int = 20,
    ) -> list[Plan]:
        """Plans of a project, newest first, strictly after the ``(created_at, id)`` key."""
        params: list[Any] = [project]
        if status is not None:
            params.append(status)
        if after is not None:
            params.extend(after)
        params.append(limit)
        sql = _LIST_PLANS[(status is not None, after is not None)]
        return [plan_from_row(r) for r in self._conn.execute(sql, params)]

    def plan_projects(self) -> dict[str, int]:
        """How many plans each project has."""
        rows = self._conn.execute("SELECT project, COUNT(*) FROM plans GROUP BY project")
        return {str(r[0]): int(r[1]) for r in rows}

    def get_task(self, plan_id: str, task_id: str) -> Task | None:
        """One task, or None."""
        row = self._conn.execute(
            "SELECT * FROM tasks WHERE plan_id = ? AND id = ?", (plan_id, task_id)
        ).fetchone()
        return None if row is None else task_from_row(row)

    def task_context(
        self, plan_id: str, task_id: str, *, window: int = 0, lock: bool = False
    ) -> TaskContext | None:
        """The plan and the task in one statement, with the other tasks' scoring facts when
        ``window`` > 0 (BEGIN IMMEDIATE already serialises writers: ``lock`` adds nothing).
        """
        params = task_context_params(plan_id, task_id, window)
        row = self._conn.execute(_TASK_CONTEXT[window > 0], params).fetchone()
        if row is None:
            return None
        confidences = tuple(map(float, (row["others_confidence"] or "").split()))
        return task_context_from_row(row, confidences)

    def list_tasks(self, plan_id: str) -> list[Task]:
        """Every task of the plan in plan order."""
        rows = self._conn.execute(
            "SELECT * FROM tasks WHERE plan_id = ? ORDER BY position", (plan_id,)
        )
        return [task_from_row(r) for r in rows]

    def insert_tasks(self, tasks: Sequence[Task]) -> None:
        """Insert new tasks into an existing plan."""
        self._conn.executemany(_INSERT_TASK, [(*task_params(t), t.created_at) for t in tasks])

    def save_task(self, task: Task) -> None:
        """Write one task row."""
        cur = self._conn.execute(_SAVE_TASK, task_params(task))
        if cur.rowcount != 1:
            raise StoreError(f"task {task.id!r} of plan {task.plan_id!r} vanished")

    def delete_tasks(self, plan_id: str, task_ids: Sequence[str]) -> None:
        """Delete tasks of a plan."""
        self._conn.executemany(
            "DELETE FROM tasks WHERE plan_id = ? AND id = ?", [(plan_id, t) for t in task_ids]
        )

    def recent_confidences(self, plan_id: str, limit: int) -> list[float]:
        """Confidences of scored tasks, newest first by (scored_at, score_seq)."""
        rows = self._conn.execute(
            "SELECT confidence FROM tasks WHERE plan_id = ? AND score_seq IS NOT NULL "
            "ORDER BY scored_at DESC, score_seq DESC LIMIT ?",
            (plan_id, limit),
        )
        return [float(r[0]) for r in rows]

    def ready_task_ids(self, plan_id: str, limit: int) -> list[str]:
        """Ids of pending tasks whose dependencies are all done or skipped, in plan order."""
        return [str(r[0]) for r in self._conn.execute(_READY, (plan_id, limit))]

    def task_ids(self, plan_id: str, status: TaskStatus) -> list[str]:
        """Ids of the plan's tasks with ``status``, in plan order."""
        rows = self._conn.execute(
            "SELECT id FROM tasks WHERE plan_id = ? AND status = ? ORDER BY position",
            (plan_id, status),
        )
        return [str(r[0]) for r in rows]

    def count_expired_leases(self, plan_id: str, now: float) -> int:
        """How many of the plan's claims ended at or before ``now``."""
        row = self._conn.execute(
            "SELECT COUNT(*) FROM tasks WHERE plan_id = ? AND status = 'in_progress' "
            "AND lease_expires_at <= ?",
            (plan_id, now),
        ).fetchone()
        return int(row[0])

    def count_tasks(self, plan_id: str) -> dict[str, int]:
        """Number of tasks per status."""
        rows = self._conn.execute(
            "SELECT status, COUNT(*) FROM tasks WHERE plan_id = ? GROUP BY status", (plan_id,)
        )
        return {str(r[0]): int(r[1]) for r in rows}

    def expire_leases(self, now: float, plan_id: str | None = None) -> list[Task]:
        """Return expired claims to pending, journal each, bump the plans' version."""
        params = (now,) if plan_id is None else (plan_id, now)
        expired = [
            task_from_row(r) for r in self._conn.execute(_EXPIRED[plan_id is not None], params)
        ]
        released: list[Task] = []
        for t in expired:
            self._conn.execute(
                "UPDATE tasks SET status = 'pending', claimed_by = NULL, lease_expires_at = NULL, "
                "updated_at = ? WHERE plan_id = ? AND id = ?",
                (now, t.plan_id, t.id),
            )
            self._conn.execute(
                "UPDATE plans SET version = version + 1, updated_at = ? WHERE id = ?",
                (now, t.plan_id),
            )
            (project,) = self._conn.execute(
                "SELECT project FROM plans WHERE id = ?", (t.plan_id,)
            ).fetchone()
            detail = {"agent": t.claimed_by, "lease_expires_at": t.lease_expires_at}
            self.append_journal(
                "lease_expired",
                at=now,
                project=project,
                plan_id=t.plan_id,
                task_id=t.id,
                detail=detail,
            )
            released.append(self.get_task(t.plan_id, t.id) or t)
        return released

    def insert_revision(self, revision: Revision) -> None:
        """Record a revision of a plan."""
        r = revision
        self._conn.execute(
            "INSERT INTO plan_revisions (plan_id, revision, reason, at, changes) "
            "VALUES (?, ?, ?, ?, ?)",
            (r.plan_id, r.revision, r.reason, r.at, dumps(dict(r.changes))),
        )

    def list_revisions(self, plan_id: str) -> list[Revision]:
        """The plan's revisions, oldest first."""
        rows = self._conn.execute(
            "SELECT * FROM plan_revisions WHERE plan_id = ? ORDER BY revision", (plan_id,)
        )
        return [
            Revision(
                plan_id=r["plan_id"],
                revision=int(r["revision"]),
                reason=r["reason"],
                at=float(r["at"]),
                changes=loads_map(r["changes"]),
            )
            for r in rows
        ]
