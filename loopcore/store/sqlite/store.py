"""The SQLite store: one WAL database file shared safely by threads and processes.

- WAL journal, ``synchronous=NORMAL`` (a commit survives a killed process; a
  power cut may lose the last commits but never corrupts), foreign keys on,
  a busy timeout (5 s by default) so writers queue instead of failing.
- One connection per thread (``threading.local``): the server calls the store
  from worker threads and a sqlite3 connection must not be shared.
- ``write()`` is one ``BEGIN IMMEDIATE`` transaction: it takes the database's
  write lock before the first read, so a read-check-write can never interleave
  with another process's. Writers queue fairly on ``<db>.lock`` first
  (``loopcore.store.sqlite.writer_lock``). Nested ``write()`` on one thread becomes a
  savepoint.
- ``:memory:`` is refused: every thread would get a different empty database.
"""

from __future__ import annotations

import itertools
import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from loopcore.errors import LoopcoreError, StoreError
from loopcore.store.migrations import MIGRATIONS, Migration, current_version, migrate
from loopcore.store.observations import IterationStats, LoopObservation, OutcomeStats
from loopcore.store.protocol import WouldWait
from loopcore.store.sqlite.history import HistorySql, PriorSql
from loopcore.store.sqlite.loops import LoopSql
from loopcore.store.sqlite.plans import PlanSql
from loopcore.store.sqlite.writer_lock import WriterLock

__all__ = ["SqliteStore", "SqliteTx", "is_busy"]

DEFAULT_BUSY_TIMEOUT_MS = 5000
# The primary result codes of a lock held elsewhere (extended codes keep them in the low byte).
_BUSY = frozenset({sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED})


def is_busy(exc: sqlite3.Error) -> bool:
    """Whether SQLite refused because another connection holds a lock (by result code)."""
    return (getattr(exc, "sqlite_errorcode", 0) & 0xFF) in _BUSY


class SqliteTx(PlanSql, LoopSql, HistorySql, PriorSql):
    """Every row operation of the ``StoreTx`` protocol, on one connection."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn


class _ThreadState(threading.local):
    conn: sqlite3.Connection | None = None
    quick: sqlite3.Connection | None = None  # busy timeout 0, for calls made at_once
    tx: SqliteTx | None = None
    depth = 0
    writing = False
    at_once = False


def _check_lock_file(lock: Path) -> None:
    """The writer lock ``<db>.lock`` must be a file loopcore can open for writing.

    Raises:
        StoreError: it is a directory, or cannot be created or opened, saying which.
    """
    try:
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as exc:
        what = "is a directory" if lock.is_dir() else f"cannot be opened ({exc.strerror})"
        raise StoreError(
            f"the writer lock {lock} {what}: it must be a writable file beside the database "
            "(remove or fix it, or pass another --db)"
        ) from exc
    os.close(fd)


class SqliteStore:
    """A ``Store`` on one SQLite file.

    Args:
        path: the database file (created with its directory if missing).
        busy_timeout_ms: how long a writer waits for the lock before failing.

    Raises:
        StoreError: ``path`` is ``:memory:`` or the file cannot be opened in WAL mode.
    """

    def __init__(self, path: str | Path, *, busy_timeout_ms: int = DEFAULT_BUSY_TIMEOUT_MS) -> None:
        if str(path) == ":memory:" or str(path).startswith("file::memory:"):
            raise StoreError(
                ":memory: is not supported: each thread would see its own empty database; "
                "pass a file path (a temporary file in tests)"
            )
        if busy_timeout_ms < 0:
            raise StoreError("busy_timeout_ms must be >= 0")
        self._path = Path(path)
        self._busy_ms = int(busy_timeout_ms)
        self._state = _ThreadState()
        self._lock = threading.Lock()
        self._conns: list[sqlite3.Connection] = []
        self._closed = False
        self._savepoints = itertools.count(1)
        self._make_parent()
        lock = self._path.with_name(self._path.name + ".lock")
        _check_lock_file(lock)
        self._writer = WriterLock(lock, self._busy_ms / 1000)
        self._enable_wal(self._connection())

    def _make_parent(self) -> None:
        parent = self._path.parent
        try:
            parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(
                f"cannot use {self._path}: its directory {parent} cannot be created "
                f"({exc.strerror}); a part of that path may be a file"
            ) from exc
        if self._path.is_dir():
            raise StoreError(f"cannot use {self._path}: it is a directory, not a database file")

    def check_writable(self) -> None:
        """Refuse a database that can be read but not written (a read-only file or disk).

        SQLite opens such a file read-only without a word, and every write then fails;
        rewriting the header's ``user_version`` with its own value finds out at once.

        Raises:
            StoreError: the database cannot be written, saying why.
        """
        try:
            with self._writer.hold():
                conn = self._connection()
                (version,) = conn.execute("PRAGMA user_version").fetchone()
                conn.execute(f"PRAGMA user_version = {int(version):d}")
        except sqlite3.Error as exc:
            raise StoreError(
                f"the database {self._path} cannot be written ({exc}): loopcore records every "
                "call; make the file (and its directory) writable, or pass another --db"
            ) from exc

    @property
    def location(self) -> str:
        """The database file path."""
        return str(self._path)

    def _error(self, exc: sqlite3.Error) -> StoreError:
        if is_busy(exc):
            return StoreError(
                f"the database {self._path} stayed locked for more than {self._busy_ms} ms "
                "(another process holds a long write); try again"
            )
        return StoreError(f"database error on {self._path}: {exc}")

    def _open(self, busy_ms: int | None = None) -> sqlite3.Connection:
        busy_ms = self._busy_ms if busy_ms is None else busy_ms
        try:
            conn = sqlite3.connect(
                self._path,
                timeout=busy_ms / 1000,
                isolation_level=None,
                check_same_thread=False,  # only closed from another thread, in close()
            )
            conn.row_factory = sqlite3.Row
            conn.execute(f"PRAGMA busy_timeout = {busy_ms:d}")
            conn.execute("PRAGMA foreign_keys = ON")
            conn.execute("PRAGMA synchronous = NORMAL")
        except sqlite3.Error as exc:
            raise self._error(exc) from exc
        return conn

    def _enable_wal(self, conn: sqlite3.Connection) -> None:
        # Switching a fresh file to WAL needs a brief exclusive lock; retry while
        # another process opening the same new file holds it.
        deadline = time.monotonic() + self._busy_ms / 1000
        while True:
            try:
                (mode,) = conn.execute("PRAGMA journal_mode = WAL").fetchone()
                break
            except sqlite3.OperationalError as exc:
                if not is_busy(exc) or time.monotonic() > deadline:
                    raise self._error(exc) from exc
                time.sleep(0.01)
        if str(mode).lower() != "wal":
            raise StoreError(f"{self._path} cannot use WAL mode (got {mode!r}); use a local disk")

    def _connection(self) -> sqlite3.Connection:
        if self._closed:
            raise StoreError("the store is closed")
        state = self._state
        conn = state.quick if state.at_once else state.conn
        if conn is None:
            conn = self._open(0 if state.at_once else None)
            with self._lock:
                self._conns.append(conn)
            if state.at_once:
                state.quick = conn
            else:
                state.conn = conn
        return conn

    def _failed(self, exc: sqlite3.Error) -> Exception:
        """What a failed statement raises: ``WouldWait`` for a lock met at once (nothing has
        been written yet), else the ``StoreError``."""
        if self._state.at_once and is_busy(exc):
            return WouldWait(str(exc))
        return self._error(exc)

    @contextmanager
    def _nested(self) -> Iterator[SqliteTx]:
        state = self._state
        if not state.writing or state.tx is None:
            raise StoreError("write() inside read() on the same thread is not allowed")
        name = f"sp{next(self._savepoints)}"
        conn = state.tx._conn
        conn.execute(f"SAVEPOINT {name}")
        state.depth += 1
        try:
            yield state.tx
        except BaseException:
            conn.execute(f"ROLLBACK TO {name}")
            raise
        finally:
            state.depth -= 1
            conn.execute(f"RELEASE {name}")

    @contextmanager
    def _transaction(self, begin: str) -> Iterator[SqliteTx]:
        conn = self._connection()
        state = self._state
        try:
            conn.execute(begin)
        except sqlite3.Error as exc:
            raise self._failed(exc) from exc
        tx = SqliteTx(conn)
        state.tx, state.depth, state.writing = tx, 1, begin != "BEGIN"
        try:
            yield tx
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            self._rollback(conn)
            raise self._failed(exc) from exc
        except BaseException:
            self._rollback(conn)
            raise
        finally:
            state.tx, state.depth, state.writing = None, 0, False

    @staticmethod
    def _rollback(conn: sqlite3.Connection) -> None:
        if conn.in_transaction:
            conn.execute("ROLLBACK")

    @contextmanager
    def write(self) -> Iterator[SqliteTx]:
        """One ``BEGIN IMMEDIATE`` transaction (a savepoint when nested)."""
        state = self._state
        if state.depth:
            with self._nested() as tx:
                yield tx
            return
        if not state.at_once:
            with self._writer.hold(), self._transaction("BEGIN IMMEDIATE") as tx:
                yield tx
            return
        if not self._writer.try_hold():
            raise WouldWait(f"another writer holds {self._path}")
        try:
            with self._transaction("BEGIN IMMEDIATE") as tx:
                yield tx
        finally:
            self._writer.release()
        state.at_once = False  # a write has landed: the rest of this call waits as usual

    @contextmanager
    def read(self) -> Iterator[SqliteTx]:
        """A read transaction: one consistent snapshot (joins an enclosing transaction)."""
        if self._state.depth and self._state.tx is not None:
            yield self._state.tx
            return
        with self._transaction("BEGIN") as tx:
            yield tx

    @contextmanager
    def glance(self) -> Iterator[SqliteTx]:
        """Reads in autocommit mode, for a read of one statement (joins an enclosing
        transaction)."""
        if self._state.depth and self._state.tx is not None:
            yield self._state.tx
            return
        try:
            yield SqliteTx(self._connection())
        except sqlite3.Error as exc:
            raise self._failed(exc) from exc

    @contextmanager
    def at_once(self) -> Iterator[bool]:
        """Calls on this thread meet no wait for a lock (``Store.at_once``): True outside a
        transaction. Their connection has no busy timeout and the writer lock is tried
        once; what would wait raises ``WouldWait`` instead, until a write has committed."""
        state = self._state
        if state.depth or state.at_once:
            yield False
            return
        state.at_once = True
        try:
            yield True
        finally:
            state.at_once = False

    def migrate(
        self, now: float, migrations: tuple[Migration, ...] = MIGRATIONS
    ) -> tuple[int, int]:
        """Apply missing migrations; returns (version before, version after).

        Raises:
            StoreError: the database is newer than this code.
        """
        try:
            with self._writer.hold():
                return migrate(self._connection(), now, migrations)
        except LoopcoreError:
            raise
        except sqlite3.Error as exc:
            raise self._error(exc) from exc

    def schema_version(self) -> int:
        """The highest applied migration."""
        with self.read() as tx:
            return current_version(tx._conn)

    def integrity_check(self) -> str:
        """SQLite's own check of the file ("ok" when healthy)."""
        rows = self._connection().execute("PRAGMA integrity_check").fetchall()
        return "; ".join(str(r[0]) for r in rows)

    def record_observation(self, obs: LoopObservation) -> None:
        """Fold one finished loop into the priors in its own transaction."""
        with self.write() as tx:
            tx.record_observation(obs)

    def load_prior_stats(self) -> tuple[list[IterationStats], list[OutcomeStats]]:
        """Every stored prior statistic."""
        with self.read() as tx:
            return tx.load_prior_stats()

    def close(self) -> None:
        """Close every thread's connection; the store is unusable afterwards."""
        with self._lock:
            self._closed = True
            conns, self._conns = self._conns, []
        for conn in conns:
            conn.close()
        self._writer.close()
