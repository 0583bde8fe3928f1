"""PostgreSQL statements for plans, tasks, revisions and the journal.

Every statement binds its parameters (``%s``); none is built from values.
``get_plan(lock=True)`` is ``SELECT ... FOR UPDATE``: the plan row is the lock
every read-check-write of a plan takes first, so writers of one plan queue on it
and see each other's commits (READ COMMITTED re-reads after the wait).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import psycopg
from psycopg.rows import DictRow

from loopcore.errors import StoreError
from loopcore.store._json import dumps, loads_map
from loopcore.store._rows import (
    TASK_COLUMNS,
    journal_from_row,
    plan_from_row,
    task_context_from_row,
    task_context_params,
    task_from_row,
    task_params,
)
from loopcore.store.records import (
    JournalEntry,
    Plan,
    PlanState,
    Revision,
    Task,
    TaskContext,
    TaskStatus,
)

__all__ = ["PgPlanSql"]

_INSERT_PLAN = """INSERT INTO plans (id, project, goal, threshold, replan_policy, status,
    confidence, needs_replan, replan_reason, revision, version, score_seq, task_count,
    created_at, updated_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"""
# Several entries in one statement, numbered in the order given.
_APPEND_MANY = """INSERT INTO journal (at, project, kind, plan_id, task_id, loop_id, detail)
    SELECT %s, %s, e.kind, %s, %s, %s, e.detail
    FROM unnest(%s::text[], %s::text[]) WITH ORDINALITY AS e(kind, detail, n) ORDER BY e.n
    RETURNING seq, kind"""


def _seq(row: DictRow) -> int:
    return int(row["seq"])


# A plan and one of its tasks in one statement (LEFT JOIN: the plan without the task still
# tells "no such task" from "no such plan"), with the scoring facts of the other tasks.
_TASK_COLUMNS = ", ".join(f"t.{c} AS t_{c}" for c in TASK_COLUMNS)
_TASK_CONTEXT = {
    False: f"""SELECT p.*, {_TASK_COLUMNS}, NULL AS others_confidence, NULL AS newest_at,
    NULL AS newest_seq, FALSE AS others_open
    FROM plans p LEFT JOIN tasks t ON t.plan_id = p.id AND t.id = %s WHERE p.id = %s""",  # noqa: S608 (TASK_COLUMNS)
    True: f"""SELECT p.*, {_TASK_COLUMNS}, n.scored_at AS newest_at, n.score_seq AS newest_seq,
    (SELECT array_agg(o.confidence ORDER BY o.scored_at DESC, o.score_seq DESC)
        FROM (SELECT scored_at, score_seq, confidence FROM tasks
            WHERE plan_id = p.id AND id <> %s AND score_seq IS NOT NULL
            ORDER BY scored_at DESC, score_seq DESC LIMIT %s) AS o) AS others_confidence,
    EXISTS (SELECT 1 FROM tasks WHERE plan_id = p.id
        AND status IN ('pending', 'in_progress', 'failed') AND id <> %s) AS others_open
    FROM plans p LEFT JOIN tasks t ON t.plan_id = p.id AND t.id = %s
    LEFT JOIN LATERAL (SELECT scored_at, score_seq FROM tasks
        WHERE plan_id = p.id AND id <> %s AND score_seq IS NOT NULL
        ORDER BY scored_at DESC, score_seq DESC LIMIT 1) AS n ON TRUE
    WHERE p.id = %s""",  # noqa: S608 (TASK_COLUMNS)
}
_SAVE_PLAN = """UPDATE plans SET goal = %s, threshold = %s, replan_policy = %s, status = %s,
    confidence = %s, needs_replan = %s, replan_reason = %s, revision = %s, version = %s,
    score_seq = %s, task_count = %s, updated_at = %s WHERE id = %s"""
_INSERT_TASK = """INSERT INTO tasks (position, title, description, depends_on, acceptance,
    notes, status, prompt_score, output_score, confidence, scored_at, score_seq, claimed_by,
    lease_expires_at, last_output, baseline_details, last_details, approval, updated_at, plan_id,
    id, created_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s,
    %s, %s, %s, %s)"""
# Each MAX is one index lookup; sequences are never reused, so a deletion followed by an
# insert still moves the marker (what the dashboard polls).
_MARKER = (
    "SELECT (SELECT COALESCE(MAX(seq), 0) FROM journal) AS j, "
    "(SELECT COALESCE(MAX(seq), 0) FROM intercepts) AS i, "
    "(SELECT COALESCE(MAX(id), 0) FROM prompt_feedback) AS f"
)
_SAVE_TASK = """UPDATE tasks SET position = %s, title = %s, description = %s, depends_on = %s,
    acceptance = %s, notes = %s, status = %s, prompt_score = %s, output_score = %s,
    confidence = %s, scored_at = %s, score_seq = %s, claimed_by = %s, lease_expires_at = %s,
    last_output = %s, baseline_details = %s, last_details = %s, approval = %s, updated_at = %s
    WHERE plan_id = %s AND id = %s"""
_LIST_PLANS = {
    (False, False): "SELECT * FROM plans WHERE project = %s "
    "ORDER BY created_at DESC, id DESC LIMIT %s",
    (True, False): "SELECT * FROM plans WHERE project = %s AND status = %s "
    "ORDER BY created_at DESC, id DESC LIMIT %s",
    (False, True): "SELECT * FROM plans WHERE project = %s AND (created_at, id) < (%s, %s) "
    "ORDER BY created_at DESC, id DESC LIMIT %s",
    (True, True): "SELECT * FROM plans WHERE project = %s AND status = %s "
    "AND (created_at, id) < (%s, %s) ORDER BY created_at DESC, id DESC LIMIT %s",
}
# A pending task is ready when every id in its depends_on names a done or skipped task.
_READY = """SELECT t.id FROM tasks t WHERE t.plan_id = %s AND t.status = 'pending'
    AND NOT EXISTS (
        SELECT 1 FROM jsonb_array_elements_text(t.depends_on::jsonb) AS d(value)
        WHERE NOT EXISTS (
            SELECT 1 FROM tasks u WHERE u.plan_id = t.plan_id AND u.id = d.value
            AND u.status IN ('done', 'skipped')))
    ORDER BY t.position LIMIT %s"""
_EXPIRED_PLANS = {
    False: "SELECT DISTINCT plan_id FROM tasks WHERE status = 'in_progress' "
    "AND lease_expires_at <= %s",
    True: "SELECT DISTINCT plan_id FROM tasks WHERE plan_id = %s AND status = 'in_progress' "
    "AND lease_expires_at <= %s",
}
_JOURNAL = {
    ("plan", False): "SELECT * FROM journal WHERE plan_id = %s AND seq > %s ORDER BY seq LIMIT %s",
    ("plan", True): "SELECT * FROM journal WHERE plan_id = %s AND seq > %s "
    "ORDER BY seq DESC LIMIT %s",
    ("loop", False): "SELECT * FROM journal WHERE loop_id = %s AND seq > %s ORDER BY seq LIMIT %s",
    ("loop", True): "SELECT * FROM journal WHERE loop_id = %s AND seq > %s "
    "ORDER BY seq DESC LIMIT %s",
}


class PgPlanSql:
    """Plans, tasks, revisions and the journal on one PostgreSQL connection."""

    _conn: psycopg.Connection[DictRow]
    # (kind, plan_id, loop_id, seq) of each journal line of this transaction, for commit hooks.
    appended: list[tuple[str, str | None, str | None, int]]

    def append_journal(
        self,
        kind: str,
        *,
        at: float,
        project: str,
        plan_id: str | None = None,
        task_id: str | None = None,
        loop_id: str | None = None,
        detail: Mapping[str, Any] | None = None,
    ) -> int:
        """Append one entry; returns its sequence number.

        Entries of one plan (or loop) are appended under its row lock, so their
        sequence numbers follow commit order.
        """
        row = self._conn.execute(
            "INSERT INTO journal (at, project, kind, plan_id, task_id, loop_id, detail) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s) RETURNING seq",
            (at, project, kind, plan_id, task_id, loop_id, dumps(dict(detail or {}))),
        ).fetchone()
        if row is None:
            raise StoreError("the journal entry was not stored")
        seq = int(row["seq"])
        self.appended.append((kind, plan_id, loop_id, seq))
        return seq

    def read_journal(
        self,
        *,
        plan_id: str | None = None,
        loop_id: str | None = None,
        after_seq: int = 0,
        limit: int = 100,
        newest_first: bool = False,
    ) -> list[JournalEntry]:
        """Entries of one plan or one loop, by sequence."""
        if (plan_id is None) == (loop_id is None):
            raise StoreError("read_journal needs exactly one of plan_id or loop_id")
        key = ("plan", newest_first) if plan_id is not None else ("loop", newest_first)
        rows = self._conn.execute(_JOURNAL[key], (plan_id or loop_id, after_seq, limit))
        return [journal_from_row(r) for r in rows]

    def change_marker(self) -> tuple[int, int, int]:
        """The newest journal sequence, intercept sequence and feedback id (0 when none)."""
        row = self._conn.execute(_MARKER).fetchone()
        if row is None:
            return 0, 0, 0
        return int(row["j"]), int(row["i"]), int(row["f"])

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

    def append_journal_many(
        self,
        entries: Sequence[tuple[str, Mapping[str, Any]]],
        *,
        at: float,
        project: str,
        plan_id: str | None = None,
        task_id: str | None = None,
        loop_id: str | None = None,
    ) -> None:
        """Append ``(kind, detail)`` entries of one moment and subject, in order, in one
        statement (rows of one INSERT take their sequence numbers in order)."""
        if not entries:
            return
        kinds = [kind for kind, _ in entries]
        details = [dumps(dict(detail)) for _, detail in entries]
        found = self._conn.execute(
            _APPEND_MANY, (at, project, plan_id, task_id, loop_id, kinds, details)
        ).fetchall()
        if len(found) != len(entries):
            raise StoreError("the journal entries were not stored")
        self.appended.extend(
            (str(r["kind"]), plan_id, loop_id, int(r["seq"])) for r in sorted(found, key=_seq)
        )

    def get_plan(self, plan_id: str, *, lock: bool = False) -> Plan | None:
        """The plan's summary row; ``lock`` is ``FOR UPDATE`` until the transaction ends."""
        sql = (
            "SELECT * FROM plans WHERE id = %s FOR UPDATE"
            if lock
            else "SELECT * FROM plans WHERE id = %s"
        )
        row = self._conn.execute(sql, (plan_id,)).fetchone()
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
        cur = self._conn.execute("DELETE FROM plans WHERE id = %s", (plan_id,))
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
        rows = self._conn.execute("SELECT project, COUNT(*) AS n FROM plans GROUP BY project")
        return {str(r["project"]): int(r["n"]) for r in rows}

    def get_task(self, plan_id: str, task_id: str) -> Task | None:
        """One task, or None."""
        row = self._conn.execute(
            "SELECT * FROM tasks WHERE plan_id = %s AND id = %s", (plan_id, task_id)
        ).fetchone()
        return None if row is None else task_from_row(row)

    def task_context(
        self, plan_id: str, task_id: str, *, window: int = 0, lock: bool = False
    ) -> TaskContext | None:
        """The plan and the task in one statement, with the other tasks' scoring facts when
        ``window`` > 0.

        ``lock`` takes the plan row lock in a statement of its own first: a statement
        that waited for a lock under READ COMMITTED re-reads the locked row but not the
        rest of what it read, so the context is read after the wait, fresh.
        """
        if lock and self.get_plan(plan_id, lock=True) is None:
            return None
        params = task_context_params(plan_id, task_id, window)
        row = self._conn.execute(_TASK_CONTEXT[window > 0], params).fetchone()
        if row is None:
            return None
        return task_context_from_row(row, tuple(map(float, row["others_confidence"] or ())))

    def list_tasks(self, plan_id: str) -> list[Task]:
        """Every task of the plan in plan order."""
        rows = self._conn.execute(
            "SELECT * FROM tasks WHERE plan_id = %s ORDER BY position", (plan_id,)
        )
        return [task_from_row(r) for r in rows]

    def insert_tasks(self, tasks: Sequence[Task]) -> None:
        """Insert new tasks into an existing plan."""
        if not tasks:
            return
        with self._conn.cursor() as cur:
            cur.executemany(_INSERT_TASK, [(*task_params(t), t.created_at) for t in tasks])

    def save_task(self, task: Task) -> None:
        """Write one task row."""
        cur = self._conn.execute(_SAVE_TASK, task_params(task))
        if cur.rowcount != 1:
            raise StoreError(f"task {task.id!r} of plan {task.plan_id!r} vanished")

    def delete_tasks(self, plan_id: str, task_ids: Sequence[str]) -> None:
        """Delete tasks of a plan."""
        self._conn.execute(
            "DELETE FROM tasks WHERE plan_id = %s AND id = ANY(%s)", (plan_id, list(task_ids))
        )

    def recent_confidences(self, plan_id: str, limit: int) -> list[float]:
        """Confidences of scored tasks, newest first by (scored_at, score_seq)."""
        rows = self._conn.execute(
            "SELECT confidence FROM tasks WHERE plan_id = %s AND score_seq IS NOT NULL "
            "ORDER BY scored_at DESC, score_seq DESC LIMIT %s",
            (plan_id, limit),
        )
        return [float(r["confidence"]) for r in rows]

    def ready_task_ids(self, plan_id: str, limit: int) -> list[str]:
        """Ids of pending tasks whose dependencies are all done or skipped, in plan order."""
        return [str(r["id"]) for r in self._conn.execute(_READY, (plan_id, limit))]

    def task_ids(self, plan_id: str, status: TaskStatus) -> list[str]:
        """Ids of the plan's tasks with ``status``, in plan order."""
        rows = self._conn.execute(
            "SELECT id FROM tasks WHERE plan_id = %s AND status = %s ORDER BY position",
            (plan_id, status),
        )
        return [str(r["id"]) for r in rows]

    def count_expired_leases(self, plan_id: str, now: float) -> int:
        """How many of the plan's claims ended at or before ``now``."""
        row = self._conn.execute(
            "SELECT COUNT(*) AS n FROM tasks WHERE plan_id = %s AND status = 'in_progress' "
            "AND lease_expires_at <= %s",
            (plan_id, now),
        ).fetchone()
        return 0 if row is None else int(row["n"])

    def count_tasks(self, plan_id: str) -> dict[str, int]:
        """Number of tasks per status."""
        rows = self._conn.execute(
            "SELECT status, COUNT(*) AS n FROM tasks WHERE plan_id = %s GROUP BY status",
            (plan_id,),
        )
        return {str(r["status"]): int(r["n"]) for r in rows}

    def expire_leases(self, now: float, plan_id: str | None = None) -> list[Task]:
        """Return expired claims to pending, journal each, bump the plans' version.

        The plans concerned are locked first, in id order (so two replicas
        expiring at once cannot deadlock), then their expired tasks re-read.
        """
        params: tuple[Any, ...] = (now,) if plan_id is None else (plan_id, now)
        found = self._conn.execute(_EXPIRED_PLANS[plan_id is not None], params)
        plan_ids = sorted(str(r["plan_id"]) for r in found)
        if not plan_ids:
            return []
        locked = self._conn.execute(
            "SELECT id, project FROM plans WHERE id = ANY(%s) ORDER BY id FOR UPDATE",
            (plan_ids,),
        )
        projects = {str(r["id"]): str(r["project"]) for r in locked}
        released: list[Task] = []
        for pid in plan_ids:
            rows = self._conn.execute(
                "UPDATE tasks SET status = 'pending', claimed_by = NULL, lease_expires_at = NULL, "
                "updated_at = %s FROM (SELECT id AS old_id, claimed_by AS old_agent, "
                "lease_expires_at AS old_lease FROM tasks WHERE plan_id = %s "
                "AND status = 'in_progress' AND lease_expires_at <= %s FOR UPDATE) AS old "
                "WHERE tasks.plan_id = %s AND tasks.id = old.old_id "
                "RETURNING tasks.*, old.old_agent, old.old_lease",
                (now, pid, now, pid),
            ).fetchall()
            if not rows:
                continue
            self._conn.execute(
                "UPDATE plans SET version = version + %s, updated_at = %s WHERE id = %s",
                (len(rows), now, pid),
            )
            for r in sorted(rows, key=lambda r: int(r["position"])):
                detail = {"agent": r["old_agent"], "lease_expires_at": r["old_lease"]}
                self.append_journal(
                    "lease_expired",
                    at=now,
                    project=projects[pid],
                    plan_id=pid,
                    task_id=r["id"],
                    detail=detail,
                )
                released.append(task_from_row(r))
        return released

    def insert_revision(self, revision: Revision) -> None:
        """Record a revision of a plan."""
        r = revision
        self._conn.execute(
            "INSERT INTO plan_revisions (plan_id, revision, reason, at, changes) "
            "VALUES (%s, %s, %s, %s, %s)",
            (r.plan_id, r.revision, r.reason, r.at, dumps(dict(r.changes))),
        )

    def list_revisions(self, plan_id: str) -> list[Revision]:
        """The plan's revisions, oldest first."""
        rows = self._conn.execute(
            "SELECT * FROM plan_revisions WHERE plan_id = %s ORDER BY revision", (plan_id,)
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
