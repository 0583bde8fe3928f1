"""The SQLite store: pragmas, connections per thread, transactions."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import platformdirs
import pytest

from loopcore.clock import FixedClock
from loopcore.errors import StoreError
from loopcore.plans.service import PlanService
from loopcore.store import SqliteStore, default_db_path, open_store
from loopcore.store.protocol import WouldWait
from loopcore.store.sqlite.store import is_busy
from tests.sqlite_lock import write_lock_held


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteStore]:
    s, _ = open_store(tmp_path / "db" / "loopcore.db", FixedClock())
    yield s
    s.close()


def _pragmas(store: SqliteStore) -> dict[str, object]:
    with store.read() as tx:
        conn = tx._conn
        return {
            name: conn.execute(f"PRAGMA {name}").fetchone()[0]
            for name in ("journal_mode", "busy_timeout", "foreign_keys", "synchronous")
        }


def test_every_connection_has_the_required_pragmas(store: SqliteStore) -> None:
    """WAL, a busy timeout of at least 5 s, foreign keys on, synchronous NORMAL, in any thread."""
    seen: list[dict[str, object]] = [_pragmas(store)]
    worker = threading.Thread(target=lambda: seen.append(_pragmas(store)))
    worker.start()
    worker.join()
    for pragmas in seen:
        assert pragmas["journal_mode"] == "wal"
        assert int(pragmas["busy_timeout"]) >= 5000  # type: ignore[call-overload]
        assert pragmas["foreign_keys"] == 1
        assert pragmas["synchronous"] == 1  # NORMAL


def test_each_thread_gets_its_own_connection(store: SqliteStore) -> None:
    """Two threads see two distinct sqlite3 connections."""
    conns: list[sqlite3.Connection] = []

    def grab() -> None:
        with store.read() as tx:
            conns.append(tx._conn)

    threads = [threading.Thread(target=grab) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert conns[0] is not conns[1]


def test_threads_writing_at_once_lose_nothing(store: SqliteStore) -> None:
    """Eight threads each appending 25 journal entries through write() all land."""

    def work(n: int) -> None:
        for i in range(25):
            with store.write() as tx:
                tx.append_journal("note", at=float(i), project=f"t{n}")

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with store.read() as tx:
        (count,) = tx._conn.execute("SELECT COUNT(*) FROM journal WHERE kind = 'note'").fetchone()
    assert count == 200


def test_memory_database_is_refused() -> None:
    """':memory:' cannot be shared between connections, so it is refused with a reason."""
    with pytest.raises(StoreError, match="memory"):
        SqliteStore(":memory:")


def test_an_exception_rolls_the_whole_transaction_back(store: SqliteStore) -> None:
    """A write block that raises leaves nothing behind."""
    with pytest.raises(RuntimeError), store.write() as tx:
        tx.append_journal("note", at=1.0, project="p")
        raise RuntimeError("boom")
    with store.read() as tx:
        assert tx._conn.execute("SELECT COUNT(*) FROM journal").fetchone()[0] == 0


def test_nested_write_is_a_savepoint(store: SqliteStore) -> None:
    """A failing inner write rolls back only its own changes; the outer one commits."""
    with store.write() as outer:
        outer.append_journal("outer", at=1.0, project="p")
        with pytest.raises(RuntimeError), store.write() as inner:
            inner.append_journal("inner", at=2.0, project="p")
            raise RuntimeError("inner fails")
    with store.read() as tx:
        kinds = [r[0] for r in tx._conn.execute("SELECT kind FROM journal")]
    assert kinds == ["outer"]


def test_write_inside_read_is_refused(store: SqliteStore) -> None:
    """Upgrading a read snapshot to a write on one thread is a programming error."""
    with pytest.raises(StoreError, match="inside read"), store.read(), store.write():
        pass


def test_a_closed_store_refuses_work(store: SqliteStore) -> None:
    """After close() every call raises StoreError."""
    store.close()
    with pytest.raises(StoreError, match="closed"), store.read():
        pass


def test_default_path_is_in_the_user_data_dir() -> None:
    """default_db_path() is loopcore.db in platformdirs' user data directory."""
    path = default_db_path()
    assert path.name == "loopcore.db"
    assert path.parent == Path(platformdirs.user_data_dir("loopcore", appauthor=False))


def test_open_store_creates_missing_directories(tmp_path: Path) -> None:
    """The database's directory is created on open."""
    path = tmp_path / "a" / "b" / "loopcore.db"
    store, report = open_store(path, FixedClock())
    store.close()
    assert path.exists()
    assert report.path == str(path)


def test_a_file_that_is_not_a_database_is_a_store_error(tmp_path: Path) -> None:
    """Opening garbage raises StoreError, not a raw sqlite3 error."""
    path = tmp_path / "junk.db"
    path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(StoreError, match="database"):
        open_store(path, FixedClock())


def test_foreign_keys_cascade_a_plan_delete(store: SqliteStore) -> None:
    """Deleting a plan removes its tasks, revisions and journal rows."""
    plans = PlanService(store, FixedClock())
    plan_id = plans.create("p", "g", [{"id": "a", "title": "A"}]).plan.id
    plans.delete(plan_id)
    with store.read() as tx:
        conn = tx._conn
        counts = [
            conn.execute(f"SELECT COUNT(*) FROM {table} WHERE plan_id = ?", (plan_id,)).fetchone()[
                0
            ]
            for table in ("tasks", "plan_revisions", "journal")
        ]
    assert counts == [0, 0, 0]


def test_busy_is_told_by_the_result_code_not_the_message(tmp_path: Path) -> None:
    """A real lock held elsewhere is busy; an error that only mentions "locked" is not."""
    path = tmp_path / "lock.db"
    holder = sqlite3.connect(path, isolation_level=None)
    waiter = sqlite3.connect(path, isolation_level=None, timeout=0)
    try:
        holder.execute("BEGIN IMMEDIATE")
        with pytest.raises(sqlite3.OperationalError) as held:
            waiter.execute("BEGIN IMMEDIATE")
        with pytest.raises(sqlite3.OperationalError) as other:
            waiter.execute("SELECT * FROM locked_busy")
    finally:
        holder.close()
        waiter.close()
    assert is_busy(held.value) and held.value.sqlite_errorcode == sqlite3.SQLITE_BUSY
    assert "locked_busy" in str(other.value) and not is_busy(other.value)


# ---- files that cannot hold a store: one clear StoreError each (issue 16) ----------------------


def test_parent_that_is_a_file_is_a_store_error(tmp_path: Path) -> None:
    """A database path under a regular file names the directory that cannot be made."""
    (tmp_path / "a").write_text("x")
    with pytest.raises(StoreError, match=r"directory .* cannot be created"):
        SqliteStore(tmp_path / "a" / "x.db")


def test_path_that_is_a_directory_is_a_store_error(tmp_path: Path) -> None:
    """A database path naming a directory says so."""
    with pytest.raises(StoreError, match="is a directory, not a database file"):
        SqliteStore(tmp_path)


def test_lock_that_is_a_directory_is_a_store_error(tmp_path: Path) -> None:
    """A ``<db>.lock`` directory is named, before any write is tried."""
    (tmp_path / "x.db.lock").mkdir()
    with pytest.raises(StoreError, match=r"x\.db\.lock is a directory"):
        SqliteStore(tmp_path / "x.db")


def test_writable_database_passes_the_write_check(tmp_path: Path) -> None:
    """check_writable leaves a writable database as it was (user_version kept)."""
    store = SqliteStore(tmp_path / "x.db")
    try:
        store.check_writable()
        with store.read() as tx:
            (version,) = tx._conn.execute("PRAGMA user_version").fetchone()
    finally:
        store.close()
    assert version == 0


def test_read_only_database_fails_the_write_check(tmp_path: Path) -> None:
    """A database file that cannot be written (immutable as root, mode 444 otherwise) is
    opened by SQLite without a word; check_writable refuses it."""
    db = tmp_path / "x.db"
    SqliteStore(db).close()
    root = os.geteuid() == 0
    if root:
        subprocess.run(["chattr", "+i", str(db)], check=True)
    else:
        db.chmod(0o444)
    try:
        store = SqliteStore(db)
        try:
            with pytest.raises(StoreError, match="cannot be written"):
                store.check_writable()
        finally:
            store.close()
    finally:
        if root:
            subprocess.run(["chattr", "-i", str(db)], check=True)
        else:
            db.chmod(0o644)


def test_at_once_a_held_lock_is_met_before_anything_is_done(
    store: SqliteStore, tmp_path: Path
) -> None:
    """Under ``at_once`` a write that would wait for a lock held by another connection raises
    ``WouldWait`` at once and leaves nothing behind; outside it the same write waits."""
    plans = PlanService(store, FixedClock())
    plan_id = plans.create("p", "g", [{"id": "a", "title": "A"}]).plan.id
    with write_lock_held(Path(store.location)) as release:
        with store.at_once() as now, pytest.raises(WouldWait):
            assert now
            plans.record(plan_id, "a", output_score=0.9)
        threading.Timer(0.2, release.set).start()
        done = plans.record(plan_id, "a", output_score=0.9)  # waits for the holder, then lands
    with store.read() as tx:
        scored = [e for e in tx.read_journal(plan_id=plan_id) if e.kind == "scored"]
    assert done.task.status == "done" and len(scored) == 1


def test_at_once_after_a_write_the_call_waits_as_usual(store: SqliteStore) -> None:
    """The first committed write ends the no-wait rule for the rest of the call (it has
    changed something, so it must finish); inside a transaction there is no ``at_once``."""
    with store.at_once() as now:
        assert now
        with store.write() as tx:
            tx._conn.execute("PRAGMA user_version")
        assert not store._state.at_once
    with store.write(), store.at_once() as inside:
        assert not inside  # inside a transaction: the caller is a worker already
