"""What only the PostgreSQL store does: migrations under concurrency, retries, the pool,
losing the database and getting it back, commit hooks, redacted URLs."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import psycopg
import pytest

from loopcore.clock import FixedClock
from loopcore.errors import StoreError
from loopcore.plans import PlanService
from loopcore.store import PoolOptions, PostgresStore, open_store
from loopcore.store.postgres import RetryableStoreError, redact_url
from loopcore.store.postgres.schema import MIGRATIONS
from tests.pg_cluster import Cluster, find_bin


def _open(url: str, **pool: float) -> PostgresStore:
    store, _ = open_store(url, FixedClock(), pool=PoolOptions(**pool))  # type: ignore[arg-type]
    assert isinstance(store, PostgresStore)
    return store


@pytest.fixture
def pg(pg_url: str) -> Iterator[PostgresStore]:
    store = _open(pg_url)
    yield store
    store.close()


def test_migrations_are_recorded_in_order_and_reapplied_never(pg_empty_url: str) -> None:
    store, report = open_store(pg_empty_url, FixedClock(5.0))
    assert (report.migrated_from, report.schema_version) == (0, len(MIGRATIONS))
    store.close()
    again, report2 = open_store(pg_empty_url, FixedClock(9.0))
    again.close()
    assert (report2.migrated_from, report2.schema_version) == (2, 2)
    with psycopg.connect(pg_empty_url) as conn:
        rows = conn.execute("SELECT version, name, applied_at FROM schema_migrations").fetchall()
    assert rows == [(1, "initial schema", 5.0), (2, "task test tracking", 5.0)]


def test_replicas_opening_a_fresh_database_together_migrate_it_once(pg_empty_url: str) -> None:
    results: list[object] = []
    start = threading.Barrier(6)

    def replica() -> None:
        start.wait()
        try:
            store, report = open_store(pg_empty_url, FixedClock())
            store.close()
            results.append(report.schema_version)
        except BaseException as exc:  # reported below
            results.append(exc)

    threads = [threading.Thread(target=replica) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [2] * 6
    with psycopg.connect(pg_empty_url) as conn:
        versions = [r[0] for r in conn.execute("SELECT version FROM schema_migrations")]
    assert versions == [1, 2]


def test_a_database_newer_than_the_code_is_refused_and_left_alone(pg_url: str) -> None:
    with psycopg.connect(pg_url) as conn:
        conn.execute("INSERT INTO schema_migrations VALUES (99, 'from the future', 1.0)")
    with pytest.raises(StoreError, match=r"schema version 99 .* newer than this loopcore \(2\)"):
        open_store(pg_url, FixedClock())
    with psycopg.connect(pg_url) as conn:
        assert conn.execute("SELECT MAX(version) FROM schema_migrations").fetchone() == (99,)


def test_a_deadlock_is_retried_by_transact_and_both_writes_land(pg: PostgresStore) -> None:
    """Two transactions lock plans a, b in opposite orders; PostgreSQL kills one (40P01)."""
    plans = PlanService(pg, FixedClock())
    a = plans.create("p", "a", [{"id": "t", "title": "t"}]).plan.id
    b = plans.create("p", "b", [{"id": "t", "title": "t"}]).plan.id
    both_locked_first = threading.Barrier(2)
    attempts: list[str] = []
    errors: list[BaseException] = []

    def locker(first: str, second: str, name: str) -> None:
        def body(tx: object) -> None:
            attempts.append(name)
            tx.get_plan(first, lock=True)  # type: ignore[attr-defined]
            if attempts.count(name) == 1:
                both_locked_first.wait(timeout=10)
            tx.get_plan(second, lock=True)  # type: ignore[attr-defined]
            tx.append_journal("took", at=1.0, project="p", plan_id=first)  # type: ignore[attr-defined]

        try:
            pg.transact(body)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [
        threading.Thread(target=locker, args=(a, b, "x")),
        threading.Thread(target=locker, args=(b, a, "y")),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(attempts) == 3  # the deadlock victim ran its body twice
    with pg.read() as tx:
        took = [e for pid in (a, b) for e in tx.read_journal(plan_id=pid) if e.kind == "took"]
    assert len(took) == 2


def test_transact_gives_up_after_the_bounded_number_of_retries(pg_url: str) -> None:
    store, _ = open_store(pg_url, FixedClock())
    assert isinstance(store, PostgresStore)
    calls: list[int] = []

    def always_conflicts(tx: object) -> None:
        calls.append(1)
        raise psycopg.errors.SerializationFailure("could not serialize access")

    with pytest.raises(RetryableStoreError, match=r"conflicted .*nothing was written"):
        store.transact(always_conflicts)
    store.close()
    assert len(calls) == 1 + 5


def test_an_exhausted_pool_is_a_clear_error_after_the_pool_timeout(pg_url: str) -> None:
    store = _open(pg_url, pool_size=1, pool_timeout_s=0.3)
    holding, release = threading.Event(), threading.Event()

    def hold() -> None:
        with store.write():
            holding.set()
            release.wait(timeout=30)

    t = threading.Thread(target=hold)
    t.start()
    holding.wait(timeout=30)
    try:
        with pytest.raises(StoreError, match=r"no connection .* within 0.3 s"), store.read():
            pass
    finally:
        release.set()
        t.join()
    with store.read() as tx:  # the connection came back to the pool
        assert tx.usage_counts(None).intercepts == 0
    store.close()


def test_an_unreachable_database_is_a_clear_error_without_the_password() -> None:
    url = "postgresql://alice:s3cret@127.0.0.1:9/nowhere"
    with pytest.raises(StoreError) as info:
        open_store(url, FixedClock(), pool=PoolOptions(connect_timeout_s=1.0))
    assert (
        "cannot connect to the PostgreSQL database postgresql://alice@127.0.0.1:9/nowhere"
        in str(info.value)
    )
    assert "s3cret" not in str(info.value)
    assert redact_url(url) == "postgresql://alice@127.0.0.1:9/nowhere"


def test_commit_hooks_see_committed_journal_lines_only(pg: PostgresStore) -> None:
    """A hook sees each committed write's journal lines; a failing hook fails nothing."""
    seen: list[tuple[str, str | None]] = []

    def broken(lines: object) -> None:
        raise RuntimeError("a broken publisher")

    pg.add_commit_hook(broken)
    pg.add_commit_hook(lambda lines: seen.extend((k, p) for k, p, _, _ in lines))
    plan_id = PlanService(pg, FixedClock()).create("p", "g", [{"id": "t", "title": "t"}]).plan.id
    with pytest.raises(ValueError), pg.write() as tx:
        tx.append_journal("rolled back", at=1.0, project="p", plan_id=plan_id)
        raise ValueError("no")
    assert seen == [("created", plan_id)]


@pytest.mark.slow
def test_losing_the_database_gives_store_errors_and_the_store_recovers_without_a_restart() -> None:
    """Stop the cluster under an open store, then start it again: same store object works."""
    pg_bin = find_bin()
    if pg_bin is None:
        pytest.skip("PostgreSQL is not installed")
    cluster = Cluster(pg_bin, synchronous_commit=True)  # an immediate stop keeps commits
    try:
        name = cluster.create_database()
        store = _open(cluster.url(name), pool_timeout_s=1.0, connect_timeout_s=1.0)
        plans = PlanService(store, FixedClock())
        plan_id = plans.create("p", "g", [{"id": "a", "title": "A"}]).plan.id
        cluster.stop()
        for _ in range(3):  # every call fails cleanly while the database is gone
            with pytest.raises(StoreError, match=r"PostgreSQL database postgresql://postgres@"):
                plans.next_task(plan_id, agent="x")
        cluster.start()
        # The pool reconnects in the background (with back-off after the failed attempts):
        # calls fail cleanly until it has, then work on the same store object.
        deadline = time.monotonic() + 90
        while True:
            try:
                answer = plans.next_task(plan_id, agent="x")
                break
            except StoreError:
                assert time.monotonic() < deadline, "the store did not recover within 90 s"
                time.sleep(0.2)
        assert answer.kind == "task" and answer.task is not None and answer.task.id == "a"
        assert plans.status(plan_id).plan.version == 2
        store.close()
    finally:
        cluster.destroy()


def test_a_connection_cut_before_commit_is_a_clear_error_and_the_next_write_works(
    pg: PostgresStore, pg_url: str
) -> None:
    """The backend is terminated inside the transaction: COMMIT fails, the outcome is named."""
    plans = PlanService(pg, FixedClock())
    plan_id = plans.create("p", "g", [{"id": "a", "title": "A"}]).plan.id
    unknown = r"while committing .*may or may not have been applied"
    with pytest.raises(StoreError, match=unknown), pg.write() as tx:
        tx.append_journal("cut", at=1.0, project="p", plan_id=plan_id)
        with psycopg.connect(pg_url, autocommit=True) as killer:
            killer.execute("SELECT pg_terminate_backend(%s)", (tx._conn.info.backend_pid,))
    assert plans.next_task(plan_id, agent="x").kind == "task"  # a fresh connection
    assert "cut" not in [e.kind for e in plans.journal(plan_id)]  # it was not committed
