"""A team on one PostgreSQL: real ``loopcore serve --transport http`` replicas, members' clients.

Issue 17's "Done when", end to end: three replicas on one PostgreSQL database,
twelve official ``mcp`` Clients spread over them (two members, two projects),
each making ``MUTATIONS`` acknowledged mutations (claims and records, half each)
on shared plans, while one replica is SIGKILLed mid-run and its clients move to
another. Afterwards the database holds every acknowledged write, the journal
shows no task held by two claims at once, and no client saw a tool error. Other
tests: a subscriber on one replica hears a change made through another; a member
of project A cannot read, claim, record or delete a plan of project B; a revoked
token is refused by every replica; the project header; ``/healthz``; losing the
database gives clear tool errors and a replica recovers without a restart.
"""

from __future__ import annotations

import json
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import httpx
import psycopg
import pytest
from mcp.shared.subscriptions import ResourceUpdated

from loopcore.members import MemberService
from loopcore.plans.model import PlanLimits
from loopcore.plans.service import PlanService
from loopcore.store import open_store
from loopcore.store.migrations import MIGRATIONS
from server.team import CACHE_S
from tests.e2e.replicas import Replica, connect, replicas
from tests.pg_cluster import Cluster, find_bin

pytestmark = [pytest.mark.slow, pytest.mark.anyio]

CLIENTS = 12
MUTATIONS = 200  # per client: 100 claims + 100 records (the figure, not scaled down)
TASKS_PER_PLAN = 500
RELEASES = {"done", "failed", "lease_expired", "edited"}
INIT = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-11-25",
        "capabilities": {},
        "clientInfo": {"name": "raw-test", "version": "0"},
    },
}
JSON_HEADERS = {"accept": "application/json, text/event-stream"}


def _setup(url: str) -> tuple[dict[str, str], dict[str, list[str]]]:
    """Members alice (A) and bob (B, then A); 3 plans of A, 1 of B. Returns tokens, plan ids."""
    store, _ = open_store(url)
    try:
        members = MemberService(store)
        tokens = {
            "alice": members.add("alice", ["A"])[1],
            "bob": members.add("bob", ["B", "A"])[1],
        }
        plans = PlanService(store, limits=PlanLimits(max_tasks=TASKS_PER_PLAN))
        tasks = [{"id": f"t{k}", "title": f"task {k}"} for k in range(TASKS_PER_PLAN)]
        ids = {
            project: [plans.create(project, f"{project} plan {n}", tasks).plan.id for n in range(n)]
            for project, n in (("A", 3), ("B", 1))
        }
    finally:
        store.close()
    return tokens, ids


def _client_plan(i: int) -> tuple[str, str | None, str]:
    """Client ``i``'s member, the project header it sends (None: the default), its project."""
    if i % 2 == 0:
        return "alice", None, "A"
    if i % 4 == 1:
        return "bob", None, "B"  # bob's first project is his default
    return "bob", "A", "A"


def _structured(result: Any) -> dict[str, Any]:
    return dict(result.structured_content or {})


def _text(result: Any) -> str:
    return " ".join(getattr(x, "text", "") for x in result.content)


@dataclass
class _Run:
    """The shared state of the twelve clients of one run."""

    reps: list[Replica]
    tokens: dict[str, str]
    plan_ids: dict[str, list[str]]
    acked: list[tuple[str, str, str, str, float | None]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    moved: list[int] = field(default_factory=list)
    killed: set[int] = field(default_factory=set)

    async def killer(self, after: int) -> None:
        """SIGKILL replica 2 once ``after`` mutations were acknowledged."""
        while len(self.acked) < after:
            await anyio.sleep(0.05)
        self.killed.add(2)
        await anyio.to_thread.run_sync(self.reps[2].kill)

    async def client(self, i: int) -> None:
        """Claim and record ``MUTATIONS // 2`` tasks, moving on when the replica dies."""
        member, header, project = _client_plan(i)
        mates = [j for j in range(CLIENTS) if _client_plan(j)[2] == project]
        plans = self.plan_ids[project]
        plan_id = plans[mates.index(i) % len(plans)]  # at most 3 clients per plan
        done = [0]
        at = i % 3
        while done[0] < MUTATIONS // 2:
            try:
                with anyio.fail_after(180):
                    async with connect(self.reps[at], self.tokens[member], header) as c:
                        if not await self._work(c, i, member, plan_id, done):
                            return
            except Exception as exc:
                if at not in self.killed:
                    self.errors.append(f"client {i} on replica {at}: {exc!r}")
                    return
                # The replica died under this client: move to the next live one. A mutation
                # in flight was not acknowledged; the task it concerned is left alone.
                self.moved.append(i)
                at = next(r for r in ((at + 1) % 3, (at + 2) % 3) if r not in self.killed)

    async def _work(self, c: Any, i: int, member: str, plan_id: str, done: list[int]) -> bool:
        while done[0] < MUTATIONS // 2:
            with anyio.fail_after(30):
                res = await c.call_tool(
                    "plan_next_task", {"plan_id": plan_id, "agent": f"client-{i}"}
                )
            if res.is_error:
                self.errors.append(f"client {i} claim: {_text(res)}")
                return False
            task = _structured(res).get("task")
            assert task is not None, _structured(res)
            held = str(task["id"])
            self.acked.append(("claim", member, plan_id, held, None))
            score = round(0.8 + (i * 1000 + done[0]) / 1e5, 6)
            args = {"plan_id": plan_id, "task_id": held, "output_score": score}
            with anyio.fail_after(30):
                res = await c.call_tool("plan_record", args)
            if res.is_error:
                self.errors.append(f"client {i} record: {_text(res)}")
                return False
            self.acked.append(("record", member, plan_id, held, score))
            done[0] += 1
        return True


async def test_replicas_share_one_team_and_survive_a_sigkill(tmp_path: Path, pg_url: str) -> None:
    """Twelve clients, three replicas, one killed mid-run: nothing acknowledged is lost."""
    tokens, plan_ids = _setup(pg_url)
    target = CLIENTS * MUTATIONS
    with replicas(pg_url, tmp_path, 3, LOOPCORE_DB_POOL_SIZE="4") as reps:
        run = _Run(reps, tokens, plan_ids)
        async with anyio.create_task_group() as tg:
            tg.start_soon(run.killer, int(target * 0.4))
            for i in range(CLIENTS):
                tg.start_soon(run.client, i)
        survivors_ok = [r.health().status_code for r in reps[:2]]

    assert run.errors == []
    # Each client acknowledged 100 records and at least 100 claims (a claim whose record
    # was in flight on the killed replica is acknowledged but left unrecorded).
    records = [a for a in run.acked if a[0] == "record"]
    assert len(records) == target // 2 and len(run.acked) >= target
    assert run.killed == {2} and reps[2].proc.returncode == -9
    assert run.moved, "no client was on the killed replica when it died"
    assert survivors_ok == [200, 200]
    _check_journal(pg_url, run.acked)


def _check_journal(pg_url: str, acked: list[tuple[str, str, str, str, float | None]]) -> None:
    """Every acknowledged write is stored; no task was held by two claims at once."""
    with psycopg.connect(pg_url) as conn:
        journal = conn.execute(
            "SELECT seq, kind, plan_id, task_id, detail FROM journal "
            "WHERE task_id IS NOT NULL ORDER BY seq"
        ).fetchall()
        tasks = {
            (p, t): (status, score)
            for p, t, status, score in conn.execute(
                "SELECT plan_id, id, status, output_score FROM tasks"
            )
        }
    holder: dict[tuple[str, str], str | None] = defaultdict(lambda: None)
    claimed_by: dict[tuple[str, str], list[str]] = defaultdict(list)
    for _seq, kind, plan_id, task_id, detail in journal:
        key = (plan_id, task_id)
        if kind == "claimed":
            agent = json.loads(detail)["agent"]
            assert holder[key] is None, f"{key} claimed by {agent} while held by {holder[key]}"
            holder[key] = agent
            claimed_by[key].append(agent)
        elif kind in RELEASES:
            holder[key] = None
    for kind, member, plan_id, task_id, score in acked:
        key = (plan_id, task_id)
        if kind == "claim":  # the member's name is the agent, whatever the client said
            assert member in claimed_by[key], (key, claimed_by[key])
        else:
            assert tasks[key] == ("done", score), (key, tasks[key], score)
    agents = {a for names in claimed_by.values() for a in names}
    assert agents <= {"alice", "bob"}


async def test_a_subscriber_on_one_replica_hears_a_change_made_through_another(
    tmp_path: Path, pg_url: str
) -> None:
    """LISTEN/NOTIFY: a claim through replica 1 reaches a listen stream on replica 0."""
    tokens, plan_ids = _setup(pg_url)
    plan_id = plan_ids["A"][0]
    uri = f"loopcore://plans/{plan_id}"
    with replicas(pg_url, tmp_path, 2) as (first, second):
        async with (
            connect(first, tokens["alice"]) as watcher,
            connect(second, tokens["alice"]) as writer,
            watcher.listen(resource_subscriptions=[uri]) as sub,
        ):
            sent = time.monotonic()  # the delay is shown if the check fails
            res = await writer.call_tool("plan_next_task", {"plan_id": plan_id})
            assert not res.is_error, _text(res)
            with anyio.fail_after(10):
                event = await sub.__anext__()
            delay = time.monotonic() - sent
    assert event == ResourceUpdated(uri=uri), delay
    assert event == ResourceUpdated(uri=uri)


async def test_a_member_cannot_reach_another_projects_plan(tmp_path: Path, pg_url: str) -> None:
    """alice (A) gets "not found" for a plan of B, exactly as for an unknown id."""
    tokens, plan_ids = _setup(pg_url)
    theirs, ours = plan_ids["B"][0], plan_ids["A"][0]
    with replicas(pg_url, tmp_path, 1) as (rep,):
        async with connect(rep, tokens["alice"]) as alice, connect(rep, tokens["bob"]) as bob:
            calls: list[tuple[str, dict[str, Any]]] = [
                ("plan_status", {"plan_id": theirs}),
                ("plan_explain", {"plan_id": theirs}),
                ("plan_next_task", {"plan_id": theirs}),
                ("plan_record", {"plan_id": theirs, "task_id": "t0", "output_score": 0.9}),
                ("plan_update_task", {"plan_id": theirs, "task_id": "t0", "notes": "x"}),
                ("plan_archive", {"plan_id": theirs}),
                ("plan_delete", {"plan_id": theirs, "confirm": True}),
            ]
            unknown = _text(await alice.call_tool("plan_status", {"plan_id": "pl_nope"}))
            assert "not found: no plan with id 'pl_nope'" in unknown
            for tool, args in calls:
                res = await alice.call_tool(tool, args)
                assert res.is_error, (tool, _structured(res))
                same = unknown.replace("pl_nope", theirs).replace("plan_status", tool)
                assert _text(res) == same, (tool, _text(res))
            with pytest.raises(Exception, match=f"no plan with id {theirs!r}"):
                await alice.read_resource(f"loopcore://plans/{theirs}")
            listed = _structured(await alice.call_tool("plan_list", {}))
            assert [p["plan_id"] for p in listed["plans"]] == list(reversed(plan_ids["A"]))
            # bob (B by default) still reads the plan, and nothing above changed it.
            assert not (await bob.call_tool("plan_status", {"plan_id": theirs})).is_error
            with psycopg.connect(pg_url) as conn:
                row = conn.execute(
                    "SELECT p.status, p.version, t.status, t.notes, t.claimed_by FROM plans p "
                    "JOIN tasks t ON t.plan_id = p.id WHERE p.id = %s AND t.id = 't0'",
                    (theirs,),
                ).fetchone()
            assert row == ("active", 1, "pending", "", None)
            # alice's own plan works, and her claim is filed under her name.
            claim = _structured(
                await alice.call_tool("plan_next_task", {"plan_id": ours, "agent": "mallory"})
            )
            assert claim["task"]["claimed_by"] == "alice"


async def test_tokens_projects_revocation_and_healthz(tmp_path: Path, pg_url: str) -> None:
    """401 without a member token, 403 for a project the member lacks, revoke on every replica."""
    tokens, _ = _setup(pg_url)
    with replicas(pg_url, tmp_path, 2) as reps:
        url = f"{reps[0].url}/mcp"
        health = reps[0].health()
        assert health.status_code == 200
        assert health.json() == {
            "status": "ok",
            "database": "postgresql",
            "schema_version": len(MIGRATIONS),
            "replica_listening": True,
        }
        assert "postgres" not in health.text.replace("postgresql", "")  # no URL, no user
        missing = httpx.post(url, json=INIT, headers=JSON_HEADERS, timeout=10)
        wrong = httpx.post(
            url, json=INIT, headers={**JSON_HEADERS, "authorization": "Bearer lc_x"}, timeout=10
        )
        assert (missing.status_code, wrong.status_code) == (401, 401)
        alice = {**JSON_HEADERS, "authorization": f"Bearer {tokens['alice']}"}
        other = httpx.post(url, json=INIT, headers={**alice, "x-loopcore-project": "B"}, timeout=10)
        assert other.status_code == 403
        assert "has no project 'B'" in other.json()["detail"]
        assert httpx.post(url, json=INIT, headers=alice, timeout=10).status_code == 200
        for rep in reps:  # both replicas have looked alice up (and may have cached her)
            assert httpx.post(f"{rep.url}/mcp", json=INIT, headers=alice).status_code == 200
        store, _ = open_store(pg_url)
        try:
            MemberService(store).revoke("alice")
        finally:
            store.close()
        for rep in reps:
            deadline = time.monotonic() + 10  # the cache holds an answer for one second at most
            while httpx.post(f"{rep.url}/mcp", json=INIT, headers=alice).status_code != 401:
                assert time.monotonic() < deadline, f"replica {rep.port} still takes the token"
                time.sleep(0.1)


async def test_losing_the_database_gives_tool_errors_and_the_replica_recovers(
    tmp_path: Path,
) -> None:
    """Stop PostgreSQL under a replica: clear tool errors, /healthz 503; start it: all works."""
    pg_bin = find_bin()
    if pg_bin is None:
        pytest.skip("PostgreSQL is not installed")
    cluster = Cluster(pg_bin, synchronous_commit=True)
    try:
        url = cluster.url(cluster.create_database())
        tokens, plan_ids = _setup(url)
        plan_id = plan_ids["A"][0]
        env = {"LOOPCORE_DB_POOL_TIMEOUT_S": "1", "LOOPCORE_DB_CONNECT_TIMEOUT_S": "1"}
        with replicas(url, tmp_path, 2, **env) as (rep, other):
            # alice's token was checked before the outage; during it, her last answer stands
            # (nothing can be revoked while the database is down), so her tool call gets
            # through to a clear tool error; an unknown token cannot be checked: 503.
            async with connect(rep, tokens["alice"]) as c:
                assert not (await c.call_tool("plan_status", {"plan_id": plan_id})).is_error
                cluster.stop()
                await anyio.sleep(CACHE_S + 0.2)  # past the cache: the lookup itself fails
                stranger = {**JSON_HEADERS, "authorization": "Bearer lc_unknown"}
                refused = httpx.post(f"{rep.url}/mcp", json=INIT, headers=stranger, timeout=30)
                assert refused.status_code == 503, refused.text
                assert "postgres" not in refused.text  # nothing about the database for strangers
                res = await c.call_tool("plan_next_task", {"plan_id": plan_id})
                assert res.is_error
                assert "PostgreSQL database postgresql://postgres@" in _text(res)
                assert rep.health().status_code == 503
                assert rep.health().json() == {
                    "status": "unavailable",
                    "detail": "database unreachable",
                }
                cluster.start()
                deadline = time.monotonic() + 90
                while (res := await c.call_tool("plan_next_task", {"plan_id": plan_id})).is_error:
                    assert time.monotonic() < deadline, "the replica did not recover in 90 s"
                    await anyio.sleep(0.2)
                assert _structured(res)["task"]["claimed_by"] == "alice"
            _wait_listening(rep)
            _wait_listening(other)
            # The LISTEN connections came back too: a change through one reaches the other.
            await _hear_across(rep, other, tokens["alice"], plan_id)
            assert rep.proc.poll() is None and other.proc.poll() is None  # no restart
    finally:
        cluster.destroy()


def _wait_listening(rep: Replica) -> None:
    deadline = time.monotonic() + 60
    while True:
        r = rep.health()
        if r.status_code == 200 and r.json().get("replica_listening"):
            return
        assert time.monotonic() < deadline, f"replica {rep.port} did not LISTEN again"
        time.sleep(0.2)


async def _hear_across(watch: Replica, write: Replica, token: str, plan_id: str) -> None:
    uri = f"loopcore://plans/{plan_id}"
    async with (
        connect(watch, token) as watcher,
        connect(write, token) as writer,
        watcher.listen(resource_subscriptions=[uri]) as sub,
    ):
        res = await writer.call_tool("plan_next_task", {"plan_id": plan_id})
        assert not res.is_error, _text(res)
        with anyio.fail_after(10):
            assert await sub.__anext__() == ResourceUpdated(uri=uri)


async def test_one_person_on_sqlite_keeps_working_as_before(tmp_path: Path) -> None:
    """SQLite, loopback, no members: no token needed; LOOPCORE_TOKEN still guards a server."""
    db = str(tmp_path / "one.db")
    with replicas(db, tmp_path, 1) as (rep,):
        assert rep.health().json() == {
            "status": "ok",
            "database": "sqlite",
            "schema_version": len(MIGRATIONS),
        }
        async with connect(rep, None) as c:
            res = await c.call_tool(
                "plan_create", {"goal": "g", "tasks": [{"id": "a", "title": "A"}]}
            )
            assert not res.is_error, _text(res)
            plan_id = _structured(res)["plan_id"]
            claim = await c.call_tool("plan_next_task", {"plan_id": plan_id, "agent": "me"})
            assert _structured(claim)["task"]["claimed_by"] == "me"
    with replicas(db, tmp_path, 1, LOOPCORE_TOKEN="s3cret") as (rep,):
        url = f"{rep.url}/mcp"
        assert httpx.post(url, json=INIT, headers=JSON_HEADERS).status_code == 401
        ok = {**JSON_HEADERS, "authorization": "Bearer s3cret"}
        assert httpx.post(url, json=INIT, headers=ok).status_code == 200
        async with connect(rep, "s3cret") as c:
            status = await c.call_tool("plan_status", {"plan_id": plan_id})
            assert not status.is_error, _text(status)


async def test_an_expired_lease_is_returned_by_another_replica(tmp_path: Path, pg_url: str) -> None:
    """alice's claim through replica 0 lapses; bob's next claim through replica 1 gets it back."""
    tokens, plan_ids = _setup(pg_url)
    plan_id = plan_ids["A"][0]
    with replicas(pg_url, tmp_path, 2) as (first, second):
        async with connect(first, tokens["alice"]) as alice:
            held = await alice.call_tool("plan_next_task", {"plan_id": plan_id, "lease_s": 0.5})
            assert _structured(held)["task"]["id"] == "t0"
        async with connect(second, tokens["bob"], "A") as bob:
            deadline = time.monotonic() + 30
            while True:  # t1 is ready meanwhile: bob gets it until alice's lease has lapsed
                got = _structured(await bob.call_tool("plan_next_task", {"plan_id": plan_id}))
                if got["task"]["id"] == "t0":
                    break
                assert time.monotonic() < deadline, "the lease was never returned"
                await anyio.sleep(0.2)
    assert got["task"]["claimed_by"] == "bob"
    with psycopg.connect(pg_url) as conn:
        kinds = [
            (kind, json.loads(detail).get("agent"))
            for kind, detail in conn.execute(
                "SELECT kind, detail FROM journal WHERE plan_id = %s AND task_id = 't0' "
                "ORDER BY seq",
                (plan_id,),
            )
        ]
    assert kinds == [("claimed", "alice"), ("lease_expired", "alice"), ("claimed", "bob")]
