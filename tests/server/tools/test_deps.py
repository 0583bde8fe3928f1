"""A tool's service call runs again when its transaction lost a race (``Deps.run_sync``)."""

from __future__ import annotations

import threading
from pathlib import Path

import anyio
import anyio.to_thread
import pytest
from mcp import Client

from loopcore.clock import FixedClock
from loopcore.errors import RetryableStoreError, StoreError
from loopcore.plans import PlanService
from loopcore.store import PostgresStore, open_store
from server.app import build_server
from server.tools.deps import RETRIES, retried
from tests.server.helpers import make_settings, ok
from tests.sqlite_lock import write_lock_held


@pytest.mark.anyio
async def test_a_call_that_lost_a_race_runs_again_until_it_lands() -> None:
    attempts: list[int] = []

    async def call() -> str:
        attempts.append(1)
        if len(attempts) < 3:
            raise RetryableStoreError("deadlock; nothing was written")
        return "landed"

    assert await retried(call) == "landed"
    assert len(attempts) == 3


@pytest.mark.anyio
async def test_a_race_lost_every_time_is_reported_and_other_errors_are_not_retried() -> None:
    attempts: list[str] = []

    async def always(kind: type[StoreError]) -> None:
        attempts.append(kind.__name__)
        raise kind("refused")

    with pytest.raises(RetryableStoreError):
        await retried(lambda: always(RetryableStoreError))
    assert len(attempts) == RETRIES + 1
    attempts.clear()
    with pytest.raises(StoreError):
        await retried(lambda: always(StoreError))
    assert attempts == ["StoreError"]


@pytest.mark.anyio
async def test_a_real_deadlock_on_postgresql_is_retried_and_both_writes_land(pg_url: str) -> None:
    """Two service calls lock two plans in opposite orders; PostgreSQL kills one of them
    (deadlock detected), and running it again lands it: both journal entries are there."""
    store, _ = open_store(pg_url, FixedClock())
    assert isinstance(store, PostgresStore)
    plans = PlanService(store, FixedClock())
    a, b = (plans.create("p", "g", [{"id": "t", "title": "T"}]).plan.id for _ in range(2))
    both_hold_one = threading.Barrier(2, timeout=10)
    first_try = {a: True, b: True}
    runs: list[str] = []

    def lock_both(first: str, second: str) -> str:
        runs.append(first)
        with store.write() as tx:
            tx.get_plan(first, lock=True)
            if first_try[first]:
                first_try[first] = False
                both_hold_one.wait()
            tx.get_plan(second, lock=True)
            tx.append_journal("both", at=1.0, project="p", plan_id=first)
        return first

    results: list[str] = []

    async def run(first: str, second: str) -> None:
        results.append(await retried(lambda: anyio.to_thread.run_sync(lock_both, first, second)))

    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(run, a, b)
            tg.start_soon(run, b, a)
    finally:
        with store.read() as tx:
            kinds = [e.kind for p in (a, b) for e in tx.read_journal(plan_id=p)]
        store.close()
    assert sorted(results) == sorted([a, b])
    assert len(runs) == 3  # one of the two was killed by the deadlock and ran again
    assert kinds.count("both") == 2


async def _call_to_make(client: Client, tool: str) -> dict[str, object]:
    """The arguments of a ``tool`` call that writes, on what it needs (created first)."""
    if tool == "loop_step":
        spec = {"type": "regex", "required": ["done"]}
        loop = await ok(client, "loop_start", {"goal": "g", "evaluator": spec})
        return {"loop_id": loop["loop_id"], "output": "done"}
    plan = await ok(client, "plan_create", {"goal": "g", "tasks": [{"id": "a", "title": "A"}]})
    return {"plan_id": plan["plan_id"], "task_id": "a", "output_score": 0.9}


@pytest.mark.anyio
@pytest.mark.parametrize("tool", ["plan_record", "loop_step"])
async def test_a_write_that_meets_a_held_lock_waits_off_the_event_loop(
    tmp_path: Path, tool: str
) -> None:
    """plan_record and loop_step run at once on the event loop only when no lock is in their
    way: while another program holds the database's write lock, the call waits in a worker
    thread, other calls are answered meanwhile, and it lands once the lock is let go."""
    settings = make_settings(tmp_path)
    # A long busy timeout: a call that waited for the lock on the event loop would hold
    # the loop past the deadline below (the other call could not be answered before it).
    store, _ = open_store(settings.db, busy_timeout_ms=60_000)
    async with Client(build_server(settings, store=store)) as client:
        args = await _call_to_make(client, tool)
        got: dict[str, object] = {}

        async def write() -> None:
            got["write"] = await ok(client, tool, args)

        with write_lock_held(Path(store.location)) as release, anyio.fail_after(20):
            async with anyio.create_task_group() as tg:
                tg.start_soon(write)
                spec = {"type": "length", "min_words": 1}
                checked = await ok(client, "verify_output", {"output": "ok", "evaluator": spec})
                got["answered_while_waiting"] = "write" not in got and checked["passed"]
                release.set()
    store.close()
    assert got["answered_while_waiting"] is True
    landed = got["write"]
    assert isinstance(landed, dict)
    if tool == "loop_step":
        assert landed["iteration"] == 1 and landed["score"] == 1.0
    else:
        assert landed["task"]["status"] == "done"
