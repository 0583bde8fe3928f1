"""A team over HTTP: 1, 2 and 4 replicas on one PostgreSQL beside one SQLite process, in one run.

Issue 17, part 7. Every server is a real ``loopcore serve --transport http``
process (this checkout); every client is the official ``mcp`` Client over
streamable HTTP carrying a member's bearer token (the team path: the token is
looked up, the project and agent identity come from the member). Clients are
spread round-robin over the replicas; each claims a task (``plan_next_task``)
and records a score on it (``plan_record``), over and over:

1. spread: ``--clients`` clients, each on its own plan: mutations/s, p50/p95;
2. contended: ``--agents`` clients claim and record on ONE plan; afterwards the
   journal is read back: no task may have been held by two claims at once;
3. the floor, measured in the same run: a bare SDK server with one ``echo`` tool
   over streamable HTTP (``bench/floor_server.py``), called the same way.

All clients run in this one process, on the same 2 cores as the servers and
PostgreSQL (a throwaway cluster: ``fsync=on``, ``synchronous_commit=off``), so
the figures are the whole machine's, client side included.

    .venv/bin/python bench/team.py [--clients 8] [--agents 16] [--rounds 40] [--quick]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from _common import BENCH, ROOT, machine_line, ms, now, p50_p95, print_command, print_table

if str(ROOT) not in sys.path:  # tests/: the cluster and the replica helpers
    sys.path.insert(0, str(ROOT))

import anyio
import httpx
import httpx2
import psycopg
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.subscriptions import ResourceUpdated

from loopcore.members import MemberService
from loopcore.plans.model import PlanLimits
from loopcore.plans.service import PlanService
from loopcore.store import open_store
from tests.e2e.replicas import Replica, connect, replicas
from tests.e2e.serving import free_port
from tests.pg_cluster import Cluster, find_bin

PROJECT = "bench"
RELEASES = {"done", "failed", "lease_expired", "edited"}


@dataclass
class Result:
    """What one case measured."""

    label: str
    clients: int
    wall_s: float = 0.0
    claims: list[float] = field(default_factory=list)
    records: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def mutations(self) -> int:
        return len(self.claims) + len(self.records)

    @property
    def per_s(self) -> float:
        return self.mutations / self.wall_s if self.wall_s else 0.0


def _prepare(db: str, plans_n: int, tasks: int) -> tuple[str, list[str]]:
    """A member of ``PROJECT`` and ``plans_n`` plans of ``tasks`` tasks; (token, plan ids)."""
    store, _ = open_store(db)
    try:
        _, token = MemberService(store).add("bench", [PROJECT])
        plans = PlanService(store, limits=PlanLimits(max_tasks=max(tasks, 1)))
        specs = [{"id": f"t{i:05d}", "title": f"task {i}"} for i in range(tasks)]
        ids = [plans.create(PROJECT, f"bench {n}", specs).plan.id for n in range(plans_n)]
    finally:
        store.close()
    return token, ids


async def _client(rep: Replica, token: str, plan_id: str, rounds: int, res: Result) -> None:
    async with connect(rep, token) as c:
        for _ in range(rounds):
            t0 = now()
            got = await c.call_tool("plan_next_task", {"plan_id": plan_id})
            t1 = now()
            task = (got.structured_content or {}).get("task")
            if got.is_error or task is None:
                res.errors.append(str(got.content)[:200])
                return
            args = {"plan_id": plan_id, "task_id": task["id"], "output_score": 0.9}
            rec = await c.call_tool("plan_record", args)
            t2 = now()
            if rec.is_error:
                res.errors.append(str(rec.content)[:200])
                return
            res.claims.append(t1 - t0)
            res.records.append(t2 - t1)


async def _drive(
    reps: list[Replica], token: str, plan_ids: list[str], clients: int, rounds: int, res: Result
) -> None:
    t0 = now()
    async with anyio.create_task_group() as tg:
        for i in range(clients):
            plan_id = plan_ids[i % len(plan_ids)]
            tg.start_soon(_client, reps[i % len(reps)], token, plan_id, rounds, res)
    res.wall_s = now() - t0


def _double_claims(db: str, plan_id: str) -> int:
    """Claims of a task made while another claim of it was held (from the journal)."""
    with psycopg.connect(db) as conn:
        rows = conn.execute(
            "SELECT kind, task_id, detail FROM journal WHERE plan_id = %s ORDER BY seq",
            (plan_id,),
        ).fetchall()
    held: dict[str, str | None] = defaultdict(lambda: None)
    bad = 0
    for kind, task_id, detail in rows:
        if kind == "claimed":
            bad += held[task_id] is not None
            held[task_id] = json.loads(detail)["agent"]
        elif kind in RELEASES:
            held[task_id] = None
    return bad


def _double_claims_sqlite(path: str, plan_id: str) -> int:
    import sqlite3

    conn = sqlite3.connect(path)
    try:
        rows = conn.execute(
            "SELECT kind, task_id, detail FROM journal WHERE plan_id = ? ORDER BY seq", (plan_id,)
        ).fetchall()
    finally:
        conn.close()
    held: dict[str, bool] = defaultdict(bool)
    bad = 0
    for kind, task_id, _detail in rows:
        if kind == "claimed":
            bad += held[task_id]
            held[task_id] = True
        elif kind in RELEASES:
            held[task_id] = False
    return bad


def _case(
    db: str, log_dir: Path, n_reps: int, label: str, clients: int, plans_n: int, rounds: int
) -> tuple[Result, int]:
    """Run one case on a fresh database; (result, tasks claimed twice)."""
    token, plan_ids = _prepare(db, plans_n, clients * rounds // plans_n + 1)
    res = Result(label, clients)
    with replicas(db, log_dir, n_reps, LOOPCORE_LOG_LEVEL="error") as reps:
        anyio.run(_drive, reps, token, plan_ids, clients, rounds, res)
    if plans_n != 1:
        return res, 0
    twice = (
        _double_claims(db, plan_ids[0])
        if db.startswith("postgresql://")
        else _double_claims_sqlite(db, plan_ids[0])
    )
    return res, twice


# ---------------------------------------------------------------- notification across replicas


async def _notify_delays(reps: list[Replica], token: str, plan_id: str, n: int) -> list[float]:
    """Seconds from sending a claim through replica 1 to its update on replica 0's stream."""
    uri = f"loopcore://plans/{plan_id}"
    delays: list[float] = []
    async with (
        connect(reps[0], token) as watcher,
        connect(reps[1], token) as writer,
        watcher.listen(resource_subscriptions=[uri]) as sub,
    ):
        for _ in range(n):
            t0 = now()
            got = await writer.call_tool("plan_next_task", {"plan_id": plan_id})
            if got.is_error:
                raise RuntimeError(str(got.content))
            with anyio.fail_after(30):
                while (await sub.__anext__()) != ResourceUpdated(uri=uri):
                    pass
            delays.append(now() - t0)
    return delays


def _notify_case(db: str, log_dir: Path, n: int) -> list[float]:
    token, plan_ids = _prepare(db, 1, n + 1)
    with replicas(db, log_dir, 2, LOOPCORE_LOG_LEVEL="error") as reps:
        return anyio.run(_notify_delays, reps, token, plan_ids[0], n)


# ---------------------------------------------------------------- the floor over HTTP

_FLOOR = (
    "import sys, uvicorn; sys.path.insert(0, {bench!r}); from floor_server import build_floor; "
    "uvicorn.run(build_floor().streamable_http_app(streamable_http_path='/mcp'), "
    "host='127.0.0.1', port={port}, log_level='error')"
)


async def _floor_client(url: str, rounds: int, res: Result) -> None:
    async with (
        httpx2.AsyncClient(timeout=30) as http,
        Client(streamable_http_client(url, http_client=http)) as c,
    ):
        for _ in range(rounds):
            for sink in (res.claims, res.records):
                t0 = now()
                got = await c.call_tool("echo", {"text": "x"})
                sink.append(now() - t0)
                if got.is_error:
                    res.errors.append("echo failed")


async def _floor_drive(url: str, clients: int, rounds: int, res: Result) -> None:
    t0 = now()
    async with anyio.create_task_group() as tg:
        for _ in range(clients):
            tg.start_soon(_floor_client, url, rounds, res)
    res.wall_s = now() - t0


def _floor(clients: int, rounds: int) -> Result:
    port = free_port()
    code = _FLOOR.format(bench=str(BENCH), port=port)
    proc = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(f"http://127.0.0.1:{port}/", timeout=1)
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError("the floor server did not start") from None
                time.sleep(0.1)
        res = Result("floor: bare SDK server, echo tool (2 calls per round)", clients)
        anyio.run(_floor_drive, f"http://127.0.0.1:{port}/mcp", clients, rounds, res)
        return res
    finally:
        proc.terminate()
        proc.wait(timeout=15)


# ---------------------------------------------------------------- main


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=8, help="clients in the spread cases")
    parser.add_argument("--agents", type=int, default=16, help="clients on the contended plan")
    parser.add_argument("--rounds", type=int, default=40, help="claim+record rounds per client")
    parser.add_argument("--replicas", default="1,2,4", help="replica counts on PostgreSQL")
    parser.add_argument("--quick", action="store_true", help="small run (smoke test)")
    args = parser.parse_args()
    if args.quick:
        args.clients, args.agents, args.rounds, args.replicas = 4, 4, 5, "1,2"
    counts = [int(x) for x in args.replicas.split(",")]
    pg_bin = find_bin()
    if pg_bin is None:
        print("PostgreSQL is not installed (apt-get install -y postgresql)", file=sys.stderr)
        return 2
    print_command()
    print(machine_line())
    cluster = Cluster(pg_bin, fsync=True)
    work = Path(tempfile.mkdtemp(prefix="bench-team."))
    try:
        print("postgresql: throwaway cluster, fsync=on, synchronous_commit=off")
        floor = _floor(args.clients, args.rounds)
        spread: list[tuple[Result, int]] = [
            _case(
                str(work / "spread.db"),
                work,
                1,
                "SQLite, 1 process",
                args.clients,
                args.clients,
                args.rounds,
            )
        ]
        for n in counts:
            url = cluster.url(cluster.create_database())
            label = f"PostgreSQL, {n} replica{'s' if n > 1 else ''}"
            spread.append(_case(url, work, n, label, args.clients, args.clients, args.rounds))
        contended = [
            _case(str(work / "one.db"), work, 1, "SQLite, 1 process", args.agents, 1, args.rounds)
        ]
        for n in (max(counts),):
            url = cluster.url(cluster.create_database())
            label = f"PostgreSQL, {n} replicas"
            contended.append(_case(url, work, n, label, args.agents, 1, args.rounds))
        delays = _notify_case(cluster.url(cluster.create_database()), work, args.rounds)
    finally:
        cluster.destroy()
    _report(floor, spread, contended, args)
    d50, d95 = p50_p95(delays)
    print_table(
        "a change through replica 1 reaches a listen stream on replica 0 (LISTEN/NOTIFY)",
        ["changes", "p50 ms", "p95 ms", "max ms", "within 1 s"],
        [[len(delays), ms(d50), ms(d95), ms(max(delays)), sum(d <= 1.0 for d in delays)]],
    )
    problems = [e for r, _ in spread + contended for e in r.errors] + floor.errors
    twice = sum(t for _, t in contended)
    return 1 if problems or twice else 0


def _report(
    floor: Result,
    spread: list[tuple[Result, int]],
    contended: list[tuple[Result, int]],
    args: argparse.Namespace,
) -> None:
    f50, _ = p50_p95(floor.claims + floor.records)
    sqlite_rate = spread[0][0].per_s
    rows: list[list[object]] = []
    for res, _ in [(floor, 0), *spread]:
        both = res.claims + res.records
        p50, p95 = p50_p95(both) if both else (0.0, 0.0)
        rows.append(
            [
                res.label,
                res.clients,
                res.mutations,
                f"{res.wall_s:.2f}",
                f"{res.per_s:.0f}",
                f"{res.per_s / sqlite_rate:.2f}" if res is not floor else "-",
                ms(p50),
                ms(p95),
                f"{p50 / f50:.1f}",
                len(res.errors),
            ]
        )
    print_table(
        f"spread: {args.clients} clients, each on its own plan, {args.rounds} claim+record "
        "rounds each (one call = one mutation)",
        [
            "server",
            "clients",
            "mutations",
            "wall s",
            "mutations/s",
            "x SQLite",
            "p50 ms",
            "p95 ms",
            "p50 / floor p50",
            "errors",
        ],
        rows,
    )
    rows = []
    for res, twice in contended:
        p50c, p95c = p50_p95(res.claims) if res.claims else (0.0, 0.0)
        p50r, p95r = p50_p95(res.records) if res.records else (0.0, 0.0)
        rows.append(
            [
                res.label,
                res.clients,
                res.mutations,
                f"{res.per_s:.0f}",
                ms(p50c),
                ms(p95c),
                ms(p50r),
                ms(p95r),
                f"{p50c / f50:.1f}",
                twice,
                len(res.errors),
            ]
        )
    print_table(
        f"contended: {args.agents} agents claim and record on ONE plan ({args.rounds} rounds each)",
        [
            "server",
            "agents",
            "mutations",
            "mutations/s",
            "claim p50 ms",
            "claim p95 ms",
            "record p50 ms",
            "record p95 ms",
            "claim p50 / floor p50",
            "task claimed twice",
            "errors",
        ],
        rows,
    )
    print(f"\nfloor p50 {ms(f50)} ms (bare SDK server over streamable HTTP, same clients)")


if __name__ == "__main__":
    sys.exit(main())
