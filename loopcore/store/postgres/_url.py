"""Telling a PostgreSQL URL from a SQLite path, without importing psycopg."""

from __future__ import annotations

__all__ = ["is_postgres_url"]


def is_postgres_url(value: object) -> bool:
    """True for ``postgresql://...`` and ``postgres://...`` (anything else is a SQLite path)."""
    text = str(value)
    return text.startswith(("postgresql://", "postgres://"))
