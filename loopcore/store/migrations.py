"""Schema migrations: ordered functions, each recorded in ``schema_migrations``.

Every migration runs in its own ``BEGIN IMMEDIATE`` transaction and re-reads
the recorded version after taking the write lock, so several processes opening
one fresh database at once apply each migration exactly once. A database whose
recorded version is newer than the code is refused.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from loopcore.errors import StoreError

__all__ = ["MIGRATIONS", "Migration", "check_migrations", "current_version", "migrate"]


@dataclass(frozen=True, kw_only=True, slots=True)
class Migration:
    """One schema step: ``apply`` runs its statements on an open transaction."""

    version: int
    name: str
    apply: Callable[[sqlite3.Connection], None]


_V1 = (
    """CREATE TABLE plans (
        id TEXT PRIMARY KEY,
        project TEXT NOT NULL,
        goal TEXT NOT NULL,
        threshold REAL NOT NULL,
        replan_policy TEXT NOT NULL CHECK (replan_policy IN ('advise', 'block')),
        status TEXT NOT NULL CHECK (status IN ('active', 'archived')),
        confidence REAL NOT NULL,
        needs_replan INTEGER NOT NULL,
        replan_reason TEXT,
        revision INTEGER NOT NULL,
        version INTEGER NOT NULL,
        score_seq INTEGER NOT NULL,
        task_count INTEGER NOT NULL,
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL)""",
    "CREATE INDEX plans_by_project ON plans (project, created_at, id)",
    "CREATE INDEX plans_by_project_status ON plans (project, status, created_at, id)",
    """CREATE TABLE tasks (
        plan_id TEXT NOT NULL REFERENCES plans (id) ON DELETE CASCADE,
        id TEXT NOT NULL,
        position INTEGER NOT NULL,
        title TEXT NOT NULL,
        description TEXT NOT NULL,
        depends_on TEXT NOT NULL,
        acceptance TEXT,
        notes TEXT NOT NULL,
        status TEXT NOT NULL
            CHECK (status IN ('pending', 'in_progress', 'done', 'failed', 'skipped')),
        prompt_score REAL,
        output_score REAL,
        confidence REAL,
        scored_at REAL,
        score_seq INTEGER,
        claimed_by TEXT,
        lease_expires_at REAL,
        last_output TEXT,
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL,
        PRIMARY KEY (plan_id, id))""",
    "CREATE INDEX tasks_by_position ON tasks (plan_id, position)",
    "CREATE INDEX tasks_by_status ON tasks (plan_id, status, position)",
    """CREATE INDEX tasks_scored ON tasks (plan_id, scored_at, score_seq, confidence)
        WHERE score_seq IS NOT NULL""",
    "CREATE INDEX tasks_leases ON tasks (lease_expires_at) WHERE status = 'in_progress'",
    """CREATE TABLE plan_revisions (
        plan_id TEXT NOT NULL REFERENCES plans (id) ON DELETE CASCADE,
        revision INTEGER NOT NULL,
        reason TEXT NOT NULL,
        at REAL NOT NULL,
        changes TEXT NOT NULL,
        PRIMARY KEY (plan_id, revision))""",
    """CREATE TABLE loops (
        id TEXT PRIMARY KEY,
        project TEXT NOT NULL,
        goal TEXT NOT NULL,
        evaluator_spec TEXT NOT NULL,
        task_type TEXT NOT NULL,
        model TEXT NOT NULL,
        config TEXT NOT NULL,
        plan_id TEXT,
        task_id TEXT,
        status TEXT NOT NULL CHECK (status IN ('open', 'stopped', 'closed')),
        iterations INTEGER NOT NULL,
        best_score REAL,
        best_iteration INTEGER,
        tokens_used INTEGER NOT NULL,
        exit_reason TEXT,
        exit_detail TEXT NOT NULL,
        outcome TEXT,
        summary TEXT,
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL,
        ended_at REAL)""",
    "CREATE INDEX loops_by_project ON loops (project, status, created_at)",
    "CREATE INDEX loops_by_status ON loops (status)",
    """CREATE TABLE loop_steps (
        loop_id TEXT NOT NULL REFERENCES loops (id) ON DELETE CASCADE,
        iteration INTEGER NOT NULL,
        output TEXT NOT NULL,
        score REAL NOT NULL,
        passed INTEGER NOT NULL,
        deficiencies TEXT NOT NULL,
        feedback TEXT NOT NULL,
        sub_scores TEXT NOT NULL,
        details TEXT NOT NULL,
        tokens_used INTEGER NOT NULL,
        created_at REAL NOT NULL,
        PRIMARY KEY (loop_id, iteration))""",
    """CREATE TABLE journal (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        at REAL NOT NULL,
        project TEXT NOT NULL,
        kind TEXT NOT NULL,
        plan_id TEXT REFERENCES plans (id) ON DELETE CASCADE,
        task_id TEXT,
        loop_id TEXT REFERENCES loops (id) ON DELETE CASCADE,
        detail TEXT NOT NULL)""",
    "CREATE INDEX journal_by_plan ON journal (plan_id, seq)",
    "CREATE INDEX journal_by_loop ON journal (loop_id, seq)",
    """CREATE TABLE intercepts (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        id TEXT NOT NULL UNIQUE,
        project TEXT NOT NULL,
        prompt_hash TEXT NOT NULL,
        score REAL NOT NULL,
        grade TEXT NOT NULL,
        dimensions TEXT NOT NULL,
        route TEXT NOT NULL,
        prompt_text TEXT,
        plan_id TEXT,
        task_id TEXT,
        created_at REAL NOT NULL)""",
    "CREATE INDEX intercepts_by_project ON intercepts (project, seq)",
    """CREATE TABLE prompt_feedback (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        history_id TEXT NOT NULL REFERENCES intercepts (id) ON DELETE CASCADE,
        rating INTEGER NOT NULL CHECK (rating BETWEEN 1 AND 5),
        comment TEXT NOT NULL,
        created_at REAL NOT NULL)""",
    "CREATE INDEX feedback_by_history ON prompt_feedback (history_id)",
    """CREATE TABLE prior_iterations (
        task_type TEXT NOT NULL,
        model TEXT NOT NULL,
        iteration INTEGER NOT NULL,
        score_n INTEGER NOT NULL, score_mean REAL NOT NULL, score_m2 REAL NOT NULL,
        delta_n INTEGER NOT NULL, delta_mean REAL NOT NULL, delta_m2 REAL NOT NULL,
        PRIMARY KEY (task_type, model, iteration))""",
    """CREATE TABLE prior_outcomes (
        task_type TEXT NOT NULL,
        model TEXT NOT NULL,
        loops INTEGER NOT NULL,
        converged INTEGER NOT NULL,
        iterations_n INTEGER NOT NULL, iterations_mean REAL NOT NULL, iterations_m2 REAL NOT NULL,
        latency_n INTEGER NOT NULL, latency_mean REAL NOT NULL, latency_m2 REAL NOT NULL,
        tokens_n INTEGER NOT NULL, tokens_mean REAL NOT NULL, tokens_m2 REAL NOT NULL,
        PRIMARY KEY (task_type, model))""",
)


def _v1_initial(conn: sqlite3.Connection) -> None:
    for statement in _V1:
        conn.execute(statement)


def _v2_task_test_tracking(conn: sqlite3.Connection) -> None:
    # JSON objects (evaluation details), NULL until a test verdict is recorded on the task.
    conn.execute("ALTER TABLE tasks ADD COLUMN baseline_details TEXT")
    conn.execute("ALTER TABLE tasks ADD COLUMN last_details TEXT")


# A team's members (``loopcore.members``): a bearer token's sha256, never the token.
MEMBERS_TABLE = """CREATE TABLE members (
        name TEXT PRIMARY KEY,
        token_hash TEXT NOT NULL UNIQUE,
        projects TEXT NOT NULL,
        created_at REAL NOT NULL,
        revoked_at REAL)"""


def _v3_members(conn: sqlite3.Connection) -> None:
    conn.execute(MEMBERS_TABLE)


def _v4_task_approval(conn: sqlite3.Connection) -> None:
    # "before_done": a person approves before the task is done (approvals are journaled).
    conn.execute("ALTER TABLE tasks ADD COLUMN approval TEXT NOT NULL DEFAULT 'none'")


MIGRATIONS: tuple[Migration, ...] = (
    Migration(version=1, name="initial schema", apply=_v1_initial),
    Migration(version=2, name="task test tracking", apply=_v2_task_test_tracking),
    Migration(version=3, name="members", apply=_v3_members),
    Migration(version=4, name="task approval", apply=_v4_task_approval),
)


def check_migrations(migrations: Sequence[Migration]) -> None:
    """Refuse a migration list with gaps, duplicates or reordering.

    Raises:
        ValueError: versions are not exactly 1, 2, ..., n or names repeat.
    """
    versions = [m.version for m in migrations]
    if versions != list(range(1, len(migrations) + 1)):
        raise ValueError(f"migration versions must be 1..n in order, got {versions}")
    names = [m.name for m in migrations]
    if len(set(names)) != len(names):
        raise ValueError(f"migration names must be unique, got {names}")


def current_version(conn: sqlite3.Connection) -> int:
    """The highest recorded migration (0 for a fresh database)."""
    row = conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'"
    ).fetchone()
    if row is None:
        return 0
    (version,) = conn.execute("SELECT COALESCE(MAX(version), 0) FROM schema_migrations").fetchone()
    return int(version)


def _refuse_newer(version: int, latest: int) -> None:
    if version > latest:
        raise StoreError(
            f"database schema version {version} is newer than this loopcore ({latest}); "
            "upgrade loopcore"
        )


def migrate(
    conn: sqlite3.Connection, now: float, migrations: Sequence[Migration] = MIGRATIONS
) -> tuple[int, int]:
    """Apply the missing migrations; returns (version before, version after).

    ``conn`` must be in autocommit mode (``isolation_level=None``).

    Raises:
        StoreError: the database is newer than ``migrations``.
    """
    check_migrations(migrations)
    latest = len(migrations)
    conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations ("
        "version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at REAL NOT NULL)"
    )
    start = current_version(conn)
    _refuse_newer(start, latest)
    for migration in migrations[start:]:
        conn.execute("BEGIN IMMEDIATE")
        try:
            version = current_version(conn)
            _refuse_newer(version, latest)
            if version < migration.version:
                migration.apply(conn)
                conn.execute(
                    "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                    (migration.version, migration.name, now),
                )
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    return start, current_version(conn)
