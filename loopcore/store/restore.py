"""Opening the store at startup: migrate, restore, and say what was restored."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, cast, overload

from loopcore.clock import Clock, system_clock
from loopcore.store.postgres import is_pg_store, is_postgres_url
from loopcore.store.protocol import Store, StoreTx
from loopcore.store.records import Task, UsageCounts
from loopcore.store.sqlite.store import DEFAULT_BUSY_TIMEOUT_MS, SqliteStore, SqliteTx

if TYPE_CHECKING:
    from loopcore.store.postgres import PgTx, PostgresStore

    def _conforms(
        store: SqliteStore, tx: SqliteTx, pg: PostgresStore, pg_tx: PgTx
    ) -> tuple[Store, StoreTx, Store, StoreTx]:
        """mypy proves here that both stores implement the protocols."""
        return store, tx, pg, pg_tx


__all__ = ["PoolOptions", "RestoreReport", "default_db_path", "open_store"]


@dataclass(frozen=True, kw_only=True, slots=True)
class RestoreReport:
    """What opening the store found and did, for the server to log.

    Attributes:
        path: the database file (or the PostgreSQL URL without its password).
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


@dataclass(frozen=True, kw_only=True, slots=True)
class PoolOptions:
    """Connection-pool settings of the PostgreSQL store (plain values from the settings)."""

    pool_size: int = 10
    pool_timeout_s: float = 10.0
    connect_timeout_s: float = 5.0
    statement_timeout_s: float = 30.0


def _restore(store: SqliteStore | PostgresStore, clock: Clock) -> tuple[list[Task], UsageCounts]:
    def run(tx: StoreTx) -> tuple[list[Task], UsageCounts]:
        return tx.expire_leases(clock()), tx.usage_counts(None)

    if is_pg_store(store):
        return store.transact(run)
    with cast(SqliteStore, store).write() as tx:
        return run(tx)


def default_db_path() -> Path:
    """``<user data dir>/loopcore.db`` (the directory is created on open, not here)."""
    import platformdirs  # only a store without a path given needs it

    return Path(platformdirs.user_data_dir("loopcore", appauthor=False)) / "loopcore.db"


@overload
def open_store(
    path: Path | None = None,
    clock: Clock = system_clock,
    *,
    busy_timeout_ms: int = DEFAULT_BUSY_TIMEOUT_MS,
    pool: PoolOptions | None = None,
) -> tuple[SqliteStore, RestoreReport]: ...


@overload
def open_store(
    path: str | Path | None = None,
    clock: Clock = system_clock,
    *,
    busy_timeout_ms: int = DEFAULT_BUSY_TIMEOUT_MS,
    pool: PoolOptions | None = None,
) -> tuple[SqliteStore | PostgresStore, RestoreReport]: ...


def open_store(
    path: str | Path | None = None,
    clock: Clock = system_clock,
    *,
    busy_timeout_ms: int = DEFAULT_BUSY_TIMEOUT_MS,
    pool: PoolOptions | None = None,
) -> tuple[SqliteStore | PostgresStore, RestoreReport]:
    """Open (creating if needed) and migrate the database, then restore state.

    ``path`` is a SQLite file, or a ``postgresql://`` URL (a ``str``) for the
    PostgreSQL store (``pool`` sizes its connection pool); a ``Path`` is always
    SQLite. Restoring returns expired leases to pending (journalled) and counts
    the plans and loops there are to resume.

    Raises:
        StoreError: the database cannot be used, or its schema is newer than this code.
    """
    store: SqliteStore | PostgresStore
    if path is not None and is_postgres_url(path):
        from loopcore.store.postgres import PostgresStore  # psycopg: only for this URL

        store = PostgresStore(str(path), **asdict(pool or PoolOptions()))
    else:
        store = SqliteStore(
            path if path is not None else default_db_path(), busy_timeout_ms=busy_timeout_ms
        )
    try:
        before, after = store.migrate(clock())
        released, counts = _restore(store, clock)
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
