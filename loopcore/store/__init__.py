"""Persistence: the ``Store`` protocol and its SQLite implementation.

Open the store once per process with ``open_store(path, clock)``; hand it to
the services (``PlanService``, ``LoopService``, ``HistoryService``).
"""

from __future__ import annotations

from loopcore.store.protocol import Store, StoreTx
from loopcore.store.restore import RestoreReport, default_db_path, open_store
from loopcore.store.sqlite.store import SqliteStore

__all__ = ["RestoreReport", "SqliteStore", "Store", "StoreTx", "default_db_path", "open_store"]
