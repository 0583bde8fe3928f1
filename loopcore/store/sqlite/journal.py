"""SQLite statements for the append-only journal."""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping, Sequence
from typing import Any

from loopcore.errors import StoreError
from loopcore.store._json import dumps
from loopcore.store._rows import journal_from_row
from loopcore.store.records import JournalEntry

__all__ = ["JournalSql"]

_JOURNAL = {
    ("plan", False): "SELECT * FROM journal WHERE plan_id = ? AND seq > ? ORDER BY seq LIMIT ?",
    ("plan", True): "SELECT * FROM journal WHERE plan_id = ? AND seq > ? ORDER BY seq DESC LIMIT ?",
    ("loop", False): "SELECT * FROM journal WHERE loop_id = ? AND seq > ? ORDER BY seq LIMIT ?",
    ("loop", True): "SELECT * FROM journal WHERE loop_id = ? AND seq > ? ORDER BY seq DESC LIMIT ?",
}

# Several entries in one statement: the batch is a JSON array of [kind, detail text] pairs,
# read in array order (the detail stays the exact text ``dumps`` wrote).
_APPEND_MANY = """INSERT INTO journal (at, project, kind, plan_id, task_id, loop_id, detail)
    SELECT ?, ?, json_extract(e.value, '$[0]'), ?, ?, ?, json_extract(e.value, '$[1]')
    FROM json_each(?) AS e ORDER BY e.key"""

# MAX of an INTEGER PRIMARY KEY AUTOINCREMENT is one index lookup; the ids are never
# reused, so a deletion followed by an insert still moves the marker.
_MARKER = (
    "SELECT (SELECT COALESCE(MAX(seq), 0) FROM journal), "
    "(SELECT COALESCE(MAX(seq), 0) FROM intercepts), "
    "(SELECT COALESCE(MAX(id), 0) FROM prompt_feedback)"
)


class JournalSql:
    """The append-only journal."""

    _conn: sqlite3.Connection

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
        """Append one entry; returns its sequence number."""
        cur = self._conn.execute(
            "INSERT INTO journal (at, project, kind, plan_id, task_id, loop_id, detail) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (at, project, kind, plan_id, task_id, loop_id, dumps(dict(detail or {}))),
        )
        return int(cur.lastrowid or 0)

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
        statement (rows of one INSERT get their sequence numbers in order)."""
        if not entries:
            return
        batch = dumps([[kind, dumps(dict(detail))] for kind, detail in entries])
        self._conn.execute(_APPEND_MANY, (at, project, plan_id, task_id, loop_id, batch))

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
        return int(row[0]), int(row[1]), int(row[2])
