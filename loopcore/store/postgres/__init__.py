"""The PostgreSQL store (psycopg 3 + psycopg_pool) behind the same ``Store`` protocol.

``open_store("postgresql://...")`` selects it; see ``store.py`` for the
transaction, locking and retry rules and ``schema.py`` for the migrations.

psycopg is imported when a name that needs it is first read (``PostgresStore``,
``PgTx``, ...), not when this package is: a SQLite server never loads it.
``is_postgres_url`` and the ``is_pg_*`` checks answer without it (an object
cannot be a ``PgTx`` while the module defining it was never imported).
"""

from __future__ import annotations

import importlib
import sys
from typing import TYPE_CHECKING, Any, TypeGuard

from loopcore.errors import RetryableStoreError
from loopcore.store.postgres._url import is_postgres_url

if TYPE_CHECKING:
    from loopcore.store.postgres.store import PgTx, PostgresStore, redact_url

__all__ = [
    "PgTx",
    "PostgresStore",
    "RetryableStoreError",
    "is_pg_store",
    "is_pg_tx",
    "is_postgres_url",
    "redact_url",
]

_STORE = "loopcore.store.postgres.store"
_LAZY = frozenset({"PgTx", "PostgresStore", "redact_url"})


def __getattr__(name: str) -> Any:
    """The names defined with psycopg, imported on first use."""
    if name in _LAZY:
        return getattr(importlib.import_module(_STORE), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def is_pg_store(obj: object) -> TypeGuard[PostgresStore]:
    """Whether ``obj`` is a ``PostgresStore`` (psycopg is not imported to answer no)."""
    module = sys.modules.get(_STORE)
    return module is not None and isinstance(obj, module.PostgresStore)


def is_pg_tx(obj: object) -> TypeGuard[PgTx]:
    """Whether ``obj`` is a ``PgTx`` (psycopg is not imported to answer no)."""
    module = sys.modules.get(_STORE)
    return module is not None and isinstance(obj, module.PgTx)
