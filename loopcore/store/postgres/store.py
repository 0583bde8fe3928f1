"""The PostgreSQL store: one database shared by every replica of a team.

- A ``psycopg_pool.ConnectionPool`` (size and timeouts are constructor
  arguments); a connection that died with the server fails at ``BEGIN`` and is
  replaced, so after the database restarts the pool reconnects on its own and
  the store carries on without a restart.
- ``write()`` is one READ COMMITTED transaction; the services lock the plan or
  loop row first (``get_plan(..., lock=True)`` is ``SELECT ... FOR UPDATE``), so
  every read-check-write of one plan runs one after the other and each sees the
  previous one's commit. Claims use that plan lock (see ``bench/store_backends.py``
  for the comparison with ``FOR UPDATE SKIP LOCKED``): every claim also bumps the
  plan's version, so claims of one plan serialise on the plan row anyway.
- A nested ``write()`` on one thread becomes a savepoint; ``read()`` is a
  REPEATABLE READ READ ONLY transaction (one snapshot), joining an enclosing one.
- Serialization failures (40001) and deadlocks (40P01) surface as
  ``RetryableStoreError``; ``transact(fn)`` re-runs ``fn`` in a fresh transaction a
  bounded number of times (the store's own multi-row operations use it).
- Commit hooks (``add_commit_hook``) see the journal lines of each committed
  write: the place a LISTEN/NOTIFY publisher plugs in.
- Every database failure surfaces as ``loopcore.errors.StoreError``.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, suppress
from typing import Any, TypeVar

import psycopg
import psycopg.errors
import structlog
from psycopg.conninfo import conninfo_to_dict
from psycopg.rows import DictRow, dict_row
from psycopg_pool import ConnectionPool, PoolTimeout

from loopcore.errors import LoopcoreError, RetryableStoreError, StoreError
from loopcore.store.observations import IterationStats, LoopObservation, OutcomeStats
from loopcore.store.postgres._url import is_postgres_url
from loopcore.store.postgres.schema import MIGRATIONS, PgMigration, current_version, migrate
from loopcore.store.postgres.tx_other import PgHistorySql, PgLoopSql, PgPriorSql
from loopcore.store.postgres.tx_plans import PgPlanSql

__all__ = [
    "CommitHook",
    "JournalLine",
    "PgTx",
    "PostgresStore",
    "RetryableStoreError",
    "is_postgres_url",
    "redact_url",
]

T = TypeVar("T")
# (kind, plan_id, loop_id, seq) of one journal line written by a committed transaction.
JournalLine = tuple[str, str | None, str | None, int]
CommitHook = Callable[[Sequence[JournalLine]], None]

_log = structlog.get_logger(__name__)
_RETRYABLE = (psycopg.errors.SerializationFailure, psycopg.errors.DeadlockDetected)
_TIMEOUTS = (psycopg.errors.QueryCanceled, psycopg.errors.LockNotAvailable)
_BEGIN_WRITE = "BEGIN ISOLATION LEVEL READ COMMITTED"
_BEGIN_READ = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"


def redact_url(url: str) -> str:
    """``postgresql://user@host:port/db`` without the password, for logs and messages."""
    try:
        parts = conninfo_to_dict(url)
    except psycopg.ProgrammingError:
        return "postgresql://(unparsable URL)"
    user = f"{parts['user']}@" if parts.get("user") else ""
    port = f":{parts['port']}" if parts.get("port") else ""
    return f"postgresql://{user}{parts.get('host', '')}{port}/{parts.get('dbname', '')}"


class PgTx(PgPlanSql, PgLoopSql, PgHistorySql, PgPriorSql):
    """Every row operation of the ``StoreTx`` protocol, on one connection."""

    def __init__(self, conn: psycopg.Connection[DictRow]) -> None:
        self._conn = conn
        self.appended = []


class _ThreadState(threading.local):
    tx: PgTx | None = None
    depth = 0
    writing = False


class PostgresStore:
    """A ``Store`` on one PostgreSQL database.

    Args:
        url: ``postgresql://user[:password]@host[:port]/dbname[?options]``.
        pool_size: most connections held open (one per concurrent transaction).
        pool_timeout_s: how long a transaction waits for a free connection.
        connect_timeout_s: how long opening one connection may take.
        statement_timeout_s: longest a statement (or a lock wait) may run.
        retries: extra attempts ``transact`` makes after a serialization failure or deadlock.

    Raises:
        StoreError: a bad URL or setting, or the database cannot be reached within
            ``connect_timeout_s``.
    """

    def __init__(
        self,
        url: str,
        *,
        pool_size: int = 10,
        pool_timeout_s: float = 10.0,
        connect_timeout_s: float = 5.0,
        statement_timeout_s: float = 30.0,
        retries: int = 5,
    ) -> None:
        if not is_postgres_url(url):
            raise StoreError(f"not a PostgreSQL URL (postgresql://...): {redact_url(url)}")
        if pool_size < 1 or pool_timeout_s <= 0 or connect_timeout_s <= 0:
            raise StoreError("pool_size must be >= 1 and the timeouts > 0")
        if statement_timeout_s <= 0 or retries < 0:
            raise StoreError("statement_timeout_s must be > 0 and retries >= 0")
        self._location = redact_url(url)
        self._pool_timeout_s = float(pool_timeout_s)
        self._retries = int(retries)
        self._max_size = int(pool_size)
        self._state = _ThreadState()
        self._hooks: list[CommitHook] = []
        kwargs: dict[str, Any] = {
            "autocommit": True,  # transactions are begun explicitly, with their isolation level
            "row_factory": dict_row,
            "connect_timeout": max(1, round(connect_timeout_s)),
            "options": f"-c statement_timeout={int(statement_timeout_s * 1000)}",
        }
        self._pool: ConnectionPool[psycopg.Connection[DictRow]] = ConnectionPool(
            url,
            connection_class=psycopg.Connection[DictRow],
            min_size=1,
            max_size=int(pool_size),
            kwargs=kwargs,
            timeout=self._pool_timeout_s,
            reconnect_timeout=max(60.0, connect_timeout_s),
            name="loopcore",
            open=False,
        )
        try:
            self._pool.open(wait=True, timeout=connect_timeout_s)
        except PoolTimeout as exc:
            self._pool.close()
            raise StoreError(
                f"cannot connect to the PostgreSQL database {self._location} within "
                f"{connect_timeout_s:g} s: is it running and reachable, and are the user, "
                "password and database name right?"
            ) from exc

    @property
    def location(self) -> str:
        """The database URL without its password."""
        return self._location

    def add_commit_hook(self, hook: CommitHook) -> None:
        """Call ``hook`` with the journal lines of every committed write that wrote some.

        Hooks run on the committing thread after the commit; an exception in a hook
        is logged and does not undo or fail the committed write.
        """
        self._hooks.append(hook)

    def _error(self, exc: psycopg.Error) -> StoreError:
        if isinstance(exc, _RETRYABLE):
            return RetryableStoreError(
                f"a concurrent transaction on {self._location} conflicted with this one "
                f"({type(exc).__name__}); nothing was written, try again"
            )
        if isinstance(exc, _TIMEOUTS):
            return StoreError(
                f"the database {self._location} did not answer in time ({exc.sqlstate}: "
                f"{str(exc).strip()}); nothing was written, try again"
            )
        if isinstance(exc, PoolTimeout):
            return StoreError(
                f"no connection to the PostgreSQL database {self._location} within "
                f"{self._pool_timeout_s:g} s (the database is unreachable or every pooled "
                "connection is busy); nothing was written, loopcore reconnects when it is back"
            )
        if isinstance(exc, psycopg.OperationalError):
            return StoreError(
                f"lost the connection to the PostgreSQL database {self._location} "
                f"({str(exc).strip()}); nothing was written, loopcore reconnects when it is back"
            )
        return StoreError(f"database error on {self._location}: {str(exc).strip()}")

    def _getconn(self) -> psycopg.Connection[DictRow]:
        try:
            conn = self._pool.getconn(timeout=self._pool_timeout_s)
        except PoolTimeout as exc:
            raise self._error(exc) from exc
        except psycopg.Error as exc:  # the pool was closed
            raise StoreError(f"the store on {self._location} is closed ({exc})") from exc
        return conn

    def _begin(self, begin: str) -> psycopg.Connection[DictRow]:
        """A pooled connection inside a fresh transaction.

        Connections are not pinged when taken from the pool (that would cost a round
        trip per transaction); one that died with the server fails at ``BEGIN``, is
        dropped by the pool, and the next one is tried, so after a restart every
        stale connection is replaced by the pool on its own.
        """
        for _ in range(self._max_size + 1):
            conn = self._getconn()
            try:
                conn.execute(begin)
                return conn
            except psycopg.OperationalError as exc:
                self._pool.putconn(conn)  # broken: the pool discards it and opens another
                failure = exc
        raise self._error(failure) from failure

    @staticmethod
    def _rollback(conn: psycopg.Connection[DictRow]) -> None:
        if conn.closed or conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE:
            return
        with suppress(psycopg.Error):  # a broken connection: the pool discards it
            conn.execute("ROLLBACK")

    @contextmanager
    def _transaction(self, begin: str, *, writing: bool) -> Iterator[PgTx]:
        conn = self._begin(begin)
        state = self._state
        tx = PgTx(conn)
        state.tx, state.depth, state.writing = tx, 1, writing
        try:
            yield tx
        except psycopg.Error as exc:
            self._rollback(conn)
            raise self._error(exc) from exc
        except BaseException:
            self._rollback(conn)
            raise
        else:
            self._commit(conn)
        finally:
            state.tx, state.depth, state.writing = None, 0, False
            self._pool.putconn(conn)
        if tx.appended:
            self._notify(tx.appended)

    def _commit(self, conn: psycopg.Connection[DictRow]) -> None:
        try:
            conn.execute("COMMIT")
        except psycopg.Error as exc:
            if conn.broken or conn.closed:  # the server may have committed before the cut
                raise StoreError(
                    f"lost the connection to the PostgreSQL database {self._location} while "
                    f"committing ({str(exc).strip()}): the write may or may not have been "
                    "applied; read the current state before trying again"
                ) from exc
            self._rollback(conn)
            raise self._error(exc) from exc

    def _notify(self, lines: Sequence[JournalLine]) -> None:
        for hook in self._hooks:
            try:
                hook(tuple(lines))
            except Exception:
                _log.exception("commit_hook_failed", note="the write is committed")

    @contextmanager
    def _nested(self) -> Iterator[PgTx]:
        state = self._state
        if not state.writing or state.tx is None:
            raise StoreError("write() inside read() on the same thread is not allowed")
        tx = state.tx
        name = f"sp{state.depth}"
        tx._conn.execute(f"SAVEPOINT {name}")
        state.depth += 1
        try:
            yield tx
        except BaseException:
            tx._conn.execute(f"ROLLBACK TO SAVEPOINT {name}")
            raise
        finally:
            state.depth -= 1
        tx._conn.execute(f"RELEASE SAVEPOINT {name}")

    @contextmanager
    def write(self) -> Iterator[PgTx]:
        """One READ COMMITTED transaction (a savepoint when nested on this thread)."""
        if self._state.depth:
            with self._nested() as tx:
                yield tx
            return
        with self._transaction(_BEGIN_WRITE, writing=True) as tx:
            yield tx

    @contextmanager
    def read(self) -> Iterator[PgTx]:
        """A read-only snapshot (joins an enclosing transaction on this thread)."""
        if self._state.depth and self._state.tx is not None:
            yield self._state.tx
            return
        with self._transaction(_BEGIN_READ, writing=False) as tx:
            yield tx

    @contextmanager
    def at_once(self) -> Iterator[bool]:
        """False: every call goes to a worker thread (a statement is a network round trip,
        never run on an event loop; ``Store.at_once``)."""
        yield False

    def glance(self) -> AbstractContextManager[PgTx]:
        """A read-only snapshot, as ``read()``: its ``BEGIN`` is where a pooled connection
        that died with the server is found and replaced, which a bare statement would
        turn into a failed call."""
        return self.read()

    def transact(self, fn: Callable[[PgTx], T]) -> T:
        """Run ``fn`` in ``write()``; re-run it after a serialization failure or deadlock.

        Up to ``retries`` extra attempts, with a short jittered back-off. Inside an
        enclosing transaction ``fn`` runs once (the enclosing one must be retried).

        Raises:
            RetryableStoreError: every attempt conflicted. StoreError: any other failure.
        """
        attempt = 0
        while True:
            try:
                with self.write() as tx:
                    return fn(tx)
            except RetryableStoreError:
                if attempt >= self._retries or self._state.depth:
                    raise
                attempt += 1
                time.sleep(0.005 * attempt * (0.5 + random.random()))  # noqa: S311 (jitter)

    def migrate(
        self, now: float, migrations: tuple[PgMigration, ...] = MIGRATIONS
    ) -> tuple[int, int]:
        """Apply missing migrations; returns (version before, version after).

        Raises:
            StoreError: the database is newer than this code, or it failed.
        """
        conn = self._getconn()
        try:
            return migrate(conn, now, self._location, migrations)
        except LoopcoreError:
            raise
        except psycopg.Error as exc:
            raise self._error(exc) from exc
        finally:
            self._pool.putconn(conn)

    def schema_version(self) -> int:
        """The highest applied migration."""
        with self.read() as tx:
            return current_version(tx._conn)

    def integrity_check(self) -> str:
        """A round trip to the server ("ok" when it answers), for ``doctor``."""
        with self.read() as tx:
            row = tx._conn.execute("SELECT version() AS v").fetchone()
        return "ok" if row is not None else "no answer"

    def server_version(self) -> str:
        """The PostgreSQL server's version string."""
        with self.read() as tx:
            row = tx._conn.execute("SHOW server_version").fetchone()
        return "" if row is None else str(row["server_version"])

    def record_observation(self, obs: LoopObservation) -> None:
        """Fold one finished loop into the priors in its own (retried) transaction."""
        self.transact(lambda tx: tx.record_observation(obs))

    def load_prior_stats(self) -> tuple[list[IterationStats], list[OutcomeStats]]:
        """Every stored prior statistic."""
        with self.read() as tx:
            return tx.load_prior_stats()

    def close(self) -> None:
        """Close the pool; the store is unusable afterwards."""
        self._pool.close()
