"""The embedded SQLite store: one WAL database file shared safely by threads and processes.

``store`` holds the ``Store`` implementation and its transactions; the SQL
lives in one module per row kind (``plans``, ``loops``, ``journal``,
``history``); ``writer_lock`` queues writers fairly across processes.
"""

from __future__ import annotations

from loopcore.store.sqlite.store import SqliteStore, SqliteTx

__all__ = ["SqliteStore", "SqliteTx"]
