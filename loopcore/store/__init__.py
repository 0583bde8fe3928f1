"""Persistence: the ``Store`` protocol and its SQLite and PostgreSQL implementations.

Open the store once per process with ``open_store(path_or_url, clock)`` (a
``postgresql://`` URL opens the PostgreSQL store, anything else a SQLite file); hand it to
the services (``PlanService``, ``LoopService``, ``HistoryService``).
"""

from __future__ import annotations

from loopcore.store.postgres import PostgresStore, is_postgres_url
from loopcore.store.protocol import Store, StoreTx
from loopcore.store.restore import PoolOptions, RestoreReport, default_db_path, open_store
from loopcore.store.sqlite.store import SqliteStore

__all__ = [
    "PoolOptions",
    "PostgresStore",
    "RestoreReport",
    "SqliteStore",
    "Store",
    "StoreTx",
    "default_db_path",
    "is_postgres_url",
    "open_store",
]
