"""Copy every row of one store into another: SQLite up to PostgreSQL, and back.

``copy_database(src, dst)`` opens both ends (migrating each to this code's
schema), refuses a target that already holds rows unless ``force`` (then the
target's rows are replaced), copies the tables in foreign-key order inside ONE
target transaction, compares the row count of every table with the source's
before committing, and then moves the target's id sequences past the copied ids.
A failure or a count mismatch rolls the target back whole: nothing half-copied.
The source is read in one snapshot and never written (beyond its migration: no
lease is expired on the way, unlike ``open_store``).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import tuple_row

from loopcore.clock import Clock, system_clock
from loopcore.errors import InvalidInput, LoopcoreError, StoreError
from loopcore.store.postgres import PgTx, PostgresStore, is_postgres_url
from loopcore.store.sqlite import SqliteStore, SqliteTx

__all__ = ["TABLES", "CopyReport", "copy_database", "table_counts"]

# Parents before children; each table's id column that a sequence hands out, if any.
TABLES: tuple[tuple[str, str | None], ...] = (
    ("plans", None),
    ("tasks", None),
    ("plan_revisions", None),
    ("loops", None),
    ("loop_steps", None),
    ("journal", "seq"),
    ("intercepts", "seq"),
    ("prompt_feedback", "id"),
    ("prior_iterations", None),
    ("prior_outcomes", None),
)
_BATCH = 1000


@dataclass(frozen=True, kw_only=True, slots=True)
class CopyReport:
    """What was copied: rows per table (equal at both ends when this is returned)."""

    source: str
    target: str
    schema_version: int
    rows: dict[str, int]
    replaced: dict[str, int]


def _sqlite_columns(tx: SqliteTx, table: str) -> list[str]:
    return [str(r[1]) for r in tx._conn.execute("SELECT * FROM pragma_table_info(?)", (table,))]


def _pg_columns(tx: PgTx, table: str) -> list[str]:
    rows = tx._conn.execute(
        "SELECT column_name FROM information_schema.columns "
        "WHERE table_schema = current_schema() AND table_name = %s ORDER BY ordinal_position",
        (table,),
    )
    return [str(r["column_name"]) for r in rows]


def _columns(tx: SqliteTx | PgTx, table: str) -> list[str]:
    return _sqlite_columns(tx, table) if isinstance(tx, SqliteTx) else _pg_columns(tx, table)


def _count(tx: SqliteTx | PgTx, table: str) -> int:
    if isinstance(tx, SqliteTx):
        (n,) = tx._conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()  # noqa: S608 (TABLES)
        return int(n)
    row = tx._conn.execute(
        sql.SQL("SELECT COUNT(*) AS n FROM {}").format(sql.Identifier(table))
    ).fetchone()
    return 0 if row is None else int(row["n"])


def table_counts(tx: SqliteTx | PgTx) -> dict[str, int]:
    """Rows per copied table."""
    return {table: _count(tx, table) for table, _ in TABLES}


def _read(tx: SqliteTx | PgTx, table: str, columns: list[str]) -> list[tuple[Any, ...]]:
    if isinstance(tx, SqliteTx):
        names = ", ".join(f'"{c}"' for c in columns)
        query = f"SELECT {names} FROM {table} ORDER BY rowid"  # noqa: S608 (names from the schema)
        return [tuple(r) for r in tx._conn.execute(query).fetchall()]
    cur = tx._conn.cursor(row_factory=tuple_row)
    statement = sql.SQL("SELECT {} FROM {}").format(
        sql.SQL(", ").join(sql.Identifier(c) for c in columns), sql.Identifier(table)
    )
    return list(cur.execute(statement).fetchall())


def _write(
    tx: SqliteTx | PgTx, table: str, columns: list[str], rows: list[tuple[Any, ...]]
) -> None:
    for start in range(0, len(rows), _BATCH):
        batch = rows[start : start + _BATCH]
        if isinstance(tx, SqliteTx):
            names = ", ".join(f'"{c}"' for c in columns)
            marks = ", ".join("?" for _ in columns)
            statement = f"INSERT INTO {table} ({names}) VALUES ({marks})"  # noqa: S608
            tx._conn.executemany(statement, batch)
        else:
            insert = sql.SQL("INSERT INTO {} ({}) VALUES ({})").format(
                sql.Identifier(table),
                sql.SQL(", ").join(sql.Identifier(c) for c in columns),
                sql.SQL(", ").join(sql.Placeholder() for _ in columns),
            )
            with tx._conn.cursor() as cur:
                cur.executemany(insert, batch)


def _empty(tx: SqliteTx | PgTx) -> None:
    for table, _ in reversed(TABLES):
        if isinstance(tx, SqliteTx):
            tx._conn.execute(f"DELETE FROM {table}")  # noqa: S608 (TABLES)
        else:
            tx._conn.execute(sql.SQL("DELETE FROM {}").format(sql.Identifier(table)))


def _advance_sequences(tx: PgTx) -> None:
    for table, column in TABLES:
        if column is None:
            continue
        tx._conn.execute(
            sql.SQL(
                "SELECT setval(pg_get_serial_sequence({t}, {c}), COALESCE(MAX({ci}), 1), "
                "MAX({ci}) IS NOT NULL) FROM {ti}"
            ).format(
                t=sql.Literal(table),
                c=sql.Literal(column),
                ci=sql.Identifier(column),
                ti=sql.Identifier(table),
            )
        )


def _copy_rows(
    src: SqliteTx | PgTx, dst: SqliteTx | PgTx, *, force: bool, target: str
) -> tuple[dict[str, int], dict[str, int]]:
    found = table_counts(dst)
    if any(found.values()) and not force:
        held = ", ".join(f"{t} {n}" for t, n in found.items() if n)
        raise InvalidInput(
            f"the target {target} already holds rows ({held}); copy into an empty database, "
            "or pass --force to replace them"
        )
    if any(found.values()):
        _empty(dst)
    copied: dict[str, int] = {}
    for table, _ in TABLES:
        columns = _columns(src, table)
        if sorted(columns) != sorted(_columns(dst, table)):
            raise StoreError(f"table {table} has different columns at the two ends")
        rows = _read(src, table, columns)
        _write(dst, table, columns, rows)
        copied[table] = len(rows)
    landed = table_counts(dst)
    if landed != copied:
        raise StoreError(f"row counts differ after the copy: source {copied}, target {landed}")
    if isinstance(dst, PgTx):
        _advance_sequences(dst)
    return copied, {t: n for t, n in found.items() if n}


def copy_database(
    source: str | Path,
    target: str | Path,
    *,
    force: bool = False,
    clock: Clock = system_clock,
) -> CopyReport:
    """Copy every row of ``source`` into ``target`` (a SQLite file or a postgresql:// URL).

    Raises:
        InvalidInput: source and target are the same, the source file does not exist,
            or the target holds rows and ``force`` is false.
        StoreError: either database failed, or the counts did not match (target unchanged).
    """
    if str(source) == str(target):
        raise InvalidInput("source and target are the same database")
    if not is_postgres_url(source) and not Path(source).exists():
        raise InvalidInput(f"the source database {source} does not exist")
    src = _open(source, clock)
    try:
        dst = _open(target, clock)
        try:
            return _copy_between(src, dst, force=force)
        finally:
            dst.close()
    finally:
        src.close()


def _open(where: str | Path, clock: Clock) -> SqliteStore | PostgresStore:
    """The store at ``where``, migrated, without the restore step (no lease is expired)."""
    store = PostgresStore(str(where), pool_size=2) if is_postgres_url(where) else SqliteStore(where)
    try:
        store.migrate(clock())
    except BaseException:
        store.close()
        raise
    return store


def _copy_between(
    src: SqliteStore | PostgresStore, dst: SqliteStore | PostgresStore, *, force: bool
) -> CopyReport:
    version = src.schema_version()
    if dst.schema_version() != version:
        raise StoreError(
            f"schema versions differ (source {version}, target {dst.schema_version()})"
        )
    try:
        with src.read() as stx, dst.write() as dtx:
            copied, replaced = _copy_rows(stx, dtx, force=force, target=dst.location)
    except LoopcoreError:
        raise
    except (sqlite3.Error, psycopg.Error) as exc:
        raise StoreError(f"the copy failed and was rolled back: {exc}") from exc
    return CopyReport(
        source=src.location,
        target=dst.location,
        schema_version=version,
        rows=copied,
        replaced=replaced,
    )
