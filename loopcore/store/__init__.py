"""Persistence: the ``Store`` protocol and its SQLite and PostgreSQL implementations.

Open the store once per process with ``open_store(path_or_url, clock)`` (a
``postgresql://`` URL opens the PostgreSQL store, anything else a SQLite file); hand it to
the services (``PlanService``, ``LoopService``, ``HistoryService``).

``PostgresStore`` is imported (with psycopg) when first read: a SQLite process never
loads psycopg (``loopcore.store.postgres``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from loopcore.store.postgres import is_postgres_url
from loopcore.store.protocol import Store, StoreTx
from loopcore.store.restore import PoolOptions, RestoreReport, default_db_path, open_store
from loopcore.store.sqlite.store import SqliteStore

if TYPE_CHECKING:
    from loopcore.store.postgres import PostgresStore

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


def __getattr__(name: str) -> Any:
    """``PostgresStore``, imported on first use."""
    if name == "PostgresStore":
        from loopcore.store import postgres

        return postgres.PostgresStore
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
