"""Schema migrations: ordered, recorded, one transaction each, newer databases refused."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from loopcore.clock import FixedClock
from loopcore.errors import StoreError
from loopcore.store import open_store
from loopcore.store.migrations import (
    MIGRATIONS,
    Migration,
    check_migrations,
    current_version,
    migrate,
)


def _conn(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(path, isolation_level=None)


def test_a_fresh_file_is_migrated_to_the_latest_version(tmp_path: Path) -> None:
    """open_store records every migration with its name and reports the versions."""
    store, report = open_store(tmp_path / "x.db", FixedClock(100.0))
    store.close()
    rows = (
        _conn(tmp_path / "x.db")
        .execute("SELECT version, name, applied_at FROM schema_migrations ORDER BY version")
        .fetchall()
    )
    assert rows == [(m.version, m.name, 100.0) for m in MIGRATIONS]
    assert (report.migrated_from, report.schema_version) == (0, len(MIGRATIONS))


def test_reopening_applies_nothing(tmp_path: Path) -> None:
    """A second open finds the schema current and changes no version."""
    open_store(tmp_path / "x.db", FixedClock())[0].close()
    store, report = open_store(tmp_path / "x.db", FixedClock())
    assert (report.migrated_from, report.schema_version) == (len(MIGRATIONS), len(MIGRATIONS))
    assert store.schema_version() == len(MIGRATIONS)
    store.close()


def test_a_newer_database_is_refused_with_a_clear_message(tmp_path: Path) -> None:
    """A recorded version above the code's is a StoreError saying to upgrade."""
    open_store(tmp_path / "x.db", FixedClock())[0].close()
    conn = _conn(tmp_path / "x.db")
    conn.execute("INSERT INTO schema_migrations VALUES (99, 'from the future', 0)")
    conn.close()
    latest = len(MIGRATIONS)
    message = f"database schema version 99 is newer than this loopcore ({latest}); upgrade loopcore"
    with pytest.raises(StoreError) as caught:
        open_store(tmp_path / "x.db", FixedClock())
    assert str(caught.value) == message


def test_each_migration_commits_on_its_own(tmp_path: Path) -> None:
    """When the second migration fails, the first stays applied and recorded."""

    def first(conn: sqlite3.Connection) -> None:
        conn.execute("CREATE TABLE a (x INTEGER)")

    def second(conn: sqlite3.Connection) -> None:
        conn.execute("CREATE TABLE b (x INTEGER)")
        raise RuntimeError("migration 2 is broken")

    steps = (
        Migration(version=1, name="a", apply=first),
        Migration(version=2, name="b", apply=second),
    )
    conn = _conn(tmp_path / "m.db")
    with pytest.raises(RuntimeError):
        migrate(conn, 0.0, steps)
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert current_version(conn) == 1
    assert "a" in tables
    assert "b" not in tables


def test_migration_lists_with_gaps_or_duplicates_are_refused() -> None:
    """Versions must run 1..n in order and names must be unique."""

    def noop(conn: sqlite3.Connection) -> None:
        return None

    with pytest.raises(ValueError, match=r"1\.\.n"):
        check_migrations([Migration(version=2, name="x", apply=noop)])
    with pytest.raises(ValueError, match="unique"):
        check_migrations(
            [Migration(version=1, name="x", apply=noop), Migration(version=2, name="x", apply=noop)]
        )


def test_the_shipped_migrations_are_well_formed() -> None:
    """MIGRATIONS itself passes the check."""
    check_migrations(MIGRATIONS)
    assert [m.version for m in MIGRATIONS] == list(range(1, len(MIGRATIONS) + 1))
