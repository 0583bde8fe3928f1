"""Fixtures for the whole suite: the throwaway PostgreSQL cluster, and async tests on asyncio.

``pg_cluster`` starts one cluster per test session (``tests/pg_cluster.py``) with a
migrated template database; ``pg_url`` gives each test a fresh database copied from
it. Without PostgreSQL binaries the PostgreSQL tests skip with the reason, except
under ``CI=true`` where they fail (CI installs ``postgresql`` first, see ``.ci/run``).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from loopcore.clock import FixedClock
from loopcore.store import open_store
from tests.pg_cluster import Cluster, find_bin

TEMPLATE = "loopcore_template"


def _no_postgres(reason: str) -> None:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason} (CI=true: PostgreSQL must be installed, see .ci/run)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[Cluster]:
    """A running cluster with a migrated ``loopcore_template`` database."""
    pg_bin = find_bin()
    if pg_bin is None:
        _no_postgres(
            "PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/initdb): "
            "apt-get install -y postgresql"
        )
        raise AssertionError("unreachable")
    cluster = Cluster(pg_bin)
    try:
        cluster.create_database()  # warms the catalog caches; the name is unused
        with_template = cluster.create_database()
        store, _ = open_store(cluster.url(with_template), FixedClock())
        store.close()
        import psycopg
        from psycopg import sql

        with psycopg.connect(cluster.url(), autocommit=True) as conn:
            conn.execute(
                sql.SQL("ALTER DATABASE {} RENAME TO {}").format(
                    sql.Identifier(with_template), sql.Identifier(TEMPLATE)
                )
            )
        yield cluster
    finally:
        cluster.destroy()


@pytest.fixture
def pg_url(pg_cluster: Cluster) -> Iterator[str]:
    """A fresh, migrated database of the session cluster (dropped afterwards)."""
    name = pg_cluster.create_database(TEMPLATE)
    yield pg_cluster.url(name)
    pg_cluster.drop_database(name)


@pytest.fixture(params=["sqlite", "postgres"])
def where(request: pytest.FixtureRequest, tmp_path: Path) -> str | Path:
    """Where a test opens (and reopens) its own store: a SQLite file or a PostgreSQL URL."""
    if request.param == "postgres":
        return str(request.getfixturevalue("pg_url"))
    return tmp_path / "reopened.db"


@pytest.fixture
def pg_empty_url(pg_cluster: Cluster) -> Iterator[str]:
    """A fresh database with no schema at all (dropped afterwards)."""
    name = pg_cluster.create_database()
    yield pg_cluster.url(name)
    pg_cluster.drop_database(name)


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    """Every ``@pytest.mark.anyio`` test runs on asyncio (the SDK's own loop)."""
    return "asyncio"
