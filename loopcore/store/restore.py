"""Opening the store at startup: migrate, restore, and say what was restored."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import platformdirs

from loopcore.clock import Clock, system_clock
from loopcore.store.sqlite.store import DEFAULT_BUSY_TIMEOUT_MS, SqliteStore, SqliteTx

if TYPE_CHECKING:
    from loopcore.store.protocol import Store, StoreTx

    def _conforms(store: SqliteStore, tx: SqliteTx) -> tuple[Store, StoreTx]:
        """mypy proves here that the SQLite classes implement the protocols."""
        return store, tx


__all__ = ["RestoreReport", "default_db_path", "open_store"]


@dataclass(frozen=True, kw_only=True, slots=True)
class RestoreReport:
    """What opening the store found and did, for the server to log.

    Attributes:
        path: the database file.
        schema_version: the version after migrating.
        migrated_from: the version found (0 for a new file).
        leases_expired: claimed tasks whose lease had ended, returned to pending.
        active_plans: plans not archived (every project).
        archived_plans: archived plans.
        open_loops: loops still taking steps, resumable.
        stopped_loops: loops the stopping rule ended, waiting for ``end``.
        intercepts: stored prompt scores.
    """

    path: str
    schema_version: int
    migrated_from: int
    leases_expired: int
    active_plans: int
    archived_plans: int
    open_loops: int
    stopped_loops: int
    intercepts: int


def default_db_path() -> Path:
    """``<user data dir>/loopcore.db`` (the directory is created on open, not here)."""
    return Path(platformdirs.user_data_dir("loopcore", appauthor=False)) / "loopcore.db"


def open_store(
    path: str | Path | None = None,
    clock: Clock = system_clock,
    *,
    busy_timeout_ms: int = DEFAULT_BUSY_TIMEOUT_MS,
) -> tuple[SqliteStore, RestoreReport]:
    """Open (creating if needed) and migrate the database, then restore state.

    Restoring returns expired leases to pending (journalled) and counts the
    plans and loops there are to resume.

    Raises:
        StoreError: the file cannot be used, or its schema is newer than this code.
    """
    store = SqliteStore(
        path if path is not None else default_db_path(), busy_timeout_ms=busy_timeout_ms
    )
    try:
        before, after = store.migrate(clock())
        with store.write() as tx:
            released = tx.expire_leases(clock())
            counts = tx.usage_counts(None)
    except BaseException:
        store.close()
        raise
    report = RestoreReport(
        path=store.location,
        schema_version=after,
        migrated_from=before,
        leases_expired=len(released),
        active_plans=counts.plans.get("active", 0),
        archived_plans=counts.plans.get("archived", 0),
        open_loops=counts.loops.get("open", 0),
        stopped_loops=counts.loops.get("stopped", 0),
        intercepts=counts.intercepts,
    )
    return store, report
