"""The PostgreSQL store (psycopg 3 + psycopg_pool) behind the same ``Store`` protocol.

``open_store("postgresql://...")`` selects it; see ``store.py`` for the
transaction, locking and retry rules and ``schema.py`` for the migrations.
"""

from __future__ import annotations

from loopcore.store.postgres.store import (
    PgTx,
    PostgresStore,
    RetryableStoreError,
    is_postgres_url,
    redact_url,
)

__all__ = ["PgTx", "PostgresStore", "RetryableStoreError", "is_postgres_url", "redact_url"]
