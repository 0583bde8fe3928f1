"""``loopcore db copy SRC DST [--force]``: move a database up to PostgreSQL (or back).

SRC and DST are each a SQLite file or a ``postgresql://`` URL. The copy itself
is ``loopcore.store.copy.copy_database`` (one target transaction, counts checked
per table before commit); this module parses the verb and prints the counts. The copy
(and psycopg with it) is imported when the verb runs, not when the parser is built.
"""

from __future__ import annotations

import argparse
from typing import Any, TextIO

__all__ = ["add_db_parser", "run_db"]


def add_db_parser(sub: Any) -> None:
    """The ``db`` verb and its ``copy`` action."""
    db = sub.add_parser("db", help="database operations (copy SQLite <-> PostgreSQL)")
    actions = db.add_subparsers(dest="db_action", required=True)
    copy = actions.add_parser(
        "copy",
        help="copy every row of SRC into DST (a SQLite file or a postgresql:// URL)",
        description="Copy every row of SRC into DST and check the row count of every table. "
        "DST must be empty unless --force, which replaces its rows.",
    )
    copy.add_argument("src", help="the source: a SQLite file or postgresql://user@host/db")
    copy.add_argument("dst", help="the target: a SQLite file or postgresql://user@host/db")
    copy.add_argument(
        "--force", action="store_true", help="replace the rows a non-empty target holds"
    )


def run_db(args: argparse.Namespace, out: TextIO) -> int:
    """Run ``db copy``; prints rows per table. Errors propagate as ``LoopcoreError``."""
    from loopcore.store.copy import copy_database

    report = copy_database(args.src, args.dst, force=bool(args.force))
    out.write(
        f"copied {report.source} -> {report.target} (schema version {report.schema_version})\n"
    )
    if report.replaced:
        replaced = ", ".join(f"{t} {n}" for t, n in report.replaced.items())
        out.write(f"replaced the target's rows (--force): {replaced}\n")
    out.write(f"{'table':<18} {'rows':>8}  (same count at both ends)\n")
    for table, n in report.rows.items():
        out.write(f"{table:<18} {n:>8}\n")
    return 0
