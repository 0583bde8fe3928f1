"""SQLite vs PostgreSQL behind the same ``Store``: mutations per second and p50/p95, in one run.

Issue 17. In process, through ``PlanService`` (the code the tools call):

1. serial: one agent claims a task (``next_task``) and records a score on it
   (``record``), over and over, on each backend: mutations/s, p50/p95 per call;
2. contended: 16 agents (threads) claim and record on ONE plan at once, on each
   backend; afterwards the journal is read back and no task may have been claimed
   twice, nor any acknowledged record be missing;
3. claim strategies on PostgreSQL, raw SQL, 16 agents on one plan: the plan row
   lock (``SELECT ... FOR UPDATE`` on the plan, then the first pending task: what
   the store does, because every claim also bumps the plan's version and journals
   under it) against ``FOR UPDATE SKIP LOCKED`` on the task rows alone.

PostgreSQL is a throwaway cluster started by this script (``tests/pg_cluster.py``)
with ``fsync=on`` and ``synchronous_commit=off`` (a commit survives a killed
process, not a power cut: the durability class of SQLite's WAL with
``synchronous=NORMAL``), or the server given with ``--url``.

    .venv/bin/python bench/store_backends.py [--tasks 400] [--agents 16] [--quick]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from _common import ROOT, machine_line, ms, now, p50_p95, print_command, print_table

if str(ROOT) not in sys.path:  # tests/pg_cluster.py starts the throwaway cluster
    sys.path.insert(0, str(ROOT))

import psycopg

from loopcore.clock import system_clock
from loopcore.plans import PlanService
from loopcore.store import PoolOptions, Store, open_store
from tests.pg_cluster import Cluster, find_bin

PROJECT = "bench"


def _plan(plans: PlanService, n: int) -> str:
    tasks = [{"id": f"t{i:05d}", "title": f"task {i}"} for i in range(n)]
    return plans.create(PROJECT, "bench", tasks).plan.id


def _claim_record(plans: PlanService, plan_id: str, agent: str) -> tuple[float, float] | None:
    """One claim and one record; their durations, or None when nothing is left."""
    t0 = now()
    answer = plans.next_task(plan_id, agent=agent, lease_s=3600)
    t1 = now()
    if answer.kind != "task" or answer.task is None:
        return None
    plans.record(plan_id, answer.task.id, output_score=0.9, agent=agent)
    return t1 - t0, now() - t1


def serial(store: Store, n: int) -> tuple[list[float], list[float], float]:
    plans = PlanService(store, system_clock)
    plan_id = _plan(plans, n)
    claims: list[float] = []
    records: list[float] = []
    start = now()
    while (pair := _claim_record(plans, plan_id, "solo")) is not None:
        claims.append(pair[0])
        records.append(pair[1])
    return claims, records, now() - start


def contended(
    store: Store, n: int, agents: int
) -> tuple[list[float], list[float], float, list[str]]:
    """``agents`` threads claim+record on one plan until it is done; returns problems found."""
    plans = PlanService(store, system_clock)
    plan_id = _plan(plans, n)
    claims: list[float] = []
    records: list[float] = []
    acked: list[tuple[str, str]] = []
    errors: list[str] = []
    lock = threading.Lock()
    go = threading.Barrier(agents + 1)

    def agent(name: str) -> None:
        go.wait()
        while True:
            try:
                t0 = now()
                answer = plans.next_task(plan_id, agent=name, lease_s=3600)
                t1 = now()
                if answer.kind != "task" or answer.task is None:
                    return
                plans.record(plan_id, answer.task.id, output_score=0.9, agent=name)
                t2 = now()
            except Exception as exc:  # counted, and the run goes on
                with lock:
                    errors.append(f"{type(exc).__name__}: {exc}")
                continue
            with lock:
                claims.append(t1 - t0)
                records.append(t2 - t1)
                acked.append((answer.task.id, name))

    threads = [threading.Thread(target=agent, args=(f"agent-{i}",)) for i in range(agents)]
    for t in threads:
        t.start()
    go.wait()
    start = now()
    for t in threads:
        t.join()
    wall = now() - start
    problems = list(errors)
    with store.read() as tx:
        journal = tx.read_journal(plan_id=plan_id, limit=10 * n)
        tasks = {t.id: t for t in tx.list_tasks(plan_id)}
    twice = [
        k for k, c in Counter(e.task_id for e in journal if e.kind == "claimed").items() if c > 1
    ]
    problems += [f"task {k} claimed twice" for k in twice]
    problems += [f"acked record of {k} not done" for k, _ in acked if tasks[k].status != "done"]
    return claims, records, wall, problems


def _raw_claims(url: str, n: int, agents: int, skip_locked: bool) -> tuple[list[float], float, int]:
    """Raw-SQL claims on one plan: the plan lock, or SKIP LOCKED on task rows."""
    with psycopg.connect(url, autocommit=True) as conn:
        plan_id = f"raw-{'skip' if skip_locked else 'plan'}-{time.time_ns()}"
        conn.execute(
            "INSERT INTO plans VALUES (%s, 'raw', 'g', 0.7, 'advise', 'active', 1, 0, NULL, "
            "1, 1, 0, %s, 0, 0)",
            (plan_id, n),
        )
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO tasks (plan_id, id, position, title, description, depends_on, notes, "
                "status, created_at, updated_at) VALUES (%s, %s, %s, 't', '', '[]', '', "
                "'pending', 0, 0)",
                [(plan_id, f"t{i:05d}", i) for i in range(n)],
            )
    # The plan lock is its own statement: under READ COMMITTED a statement that waited for
    # it sees the commits made meanwhile only if it starts after the wait (one statement
    # with the lock in a CTE reads the tasks from before the wait, and hands a task twice).
    lock_plan = "SELECT id FROM plans WHERE id = %(plan)s FOR UPDATE"
    first_pending = (
        "UPDATE tasks SET status = 'in_progress', claimed_by = %(agent)s "
        "WHERE plan_id = %(plan)s AND id = (SELECT id FROM tasks WHERE plan_id = %(plan)s "
        "AND status = 'pending' ORDER BY position LIMIT 1{skip}) RETURNING id"
    )
    statement = first_pending.format(skip=" FOR UPDATE SKIP LOCKED" if skip_locked else "")
    lat: list[float] = []
    got: list[str] = []
    lock = threading.Lock()
    go = threading.Barrier(agents + 1)

    def agent(name: str) -> None:
        with psycopg.connect(url, autocommit=True) as conn:
            go.wait()
            while True:
                t0 = now()
                with conn.transaction():
                    if not skip_locked:
                        conn.execute(lock_plan, {"plan": plan_id})
                    row = conn.execute(statement, {"plan": plan_id, "agent": name}).fetchone()
                    if row is not None:
                        if not skip_locked:
                            conn.execute(
                                "UPDATE plans SET version = version + 1 WHERE id = %s", (plan_id,)
                            )
                        conn.execute(
                            "INSERT INTO journal (at, project, kind, plan_id, task_id, detail) "
                            "VALUES (0, 'raw', 'claimed', %s, %s, '{}')",
                            (plan_id, row[0]),
                        )
                if row is None:
                    return
                with lock:
                    lat.append(now() - t0)
                    got.append(str(row[0]))

    threads = [threading.Thread(target=agent, args=(f"a{i}",)) for i in range(agents)]
    for t in threads:
        t.start()
    go.wait()
    start = now()
    for t in threads:
        t.join()
    wall = now() - start
    duplicates = len(got) - len(set(got))
    return lat, wall, duplicates


def _row(name: str, lat: list[float]) -> list[str]:
    p50, p95 = p50_p95(lat)
    return [name, str(len(lat)), ms(p50), ms(p95)]


def run(args: argparse.Namespace, pg_url: str, sqlite_dir: Path) -> None:
    backends: list[tuple[str, Callable[[str], str | Path]]] = [
        ("SQLite (WAL, synchronous=NORMAL)", lambda tag: sqlite_dir / f"{tag}.db"),
        ("PostgreSQL (pool 20)", lambda tag: pg_url),
    ]
    serial_rows, contended_rows, latency_rows = [], [], []
    for name, where in backends:
        store, _ = open_store(where("serial"), system_clock, pool=PoolOptions(pool_size=20))
        claims, records, wall = serial(store, args.tasks)
        store.close()
        mutations = len(claims) + len(records)
        serial_rows.append([name, mutations, f"{wall:.2f}", f"{mutations / wall:.0f}"])
        latency_rows += [
            _row(f"{name}, serial claim", claims),
            _row(f"{name}, serial record", records),
        ]

        store, _ = open_store(where("contended"), system_clock, pool=PoolOptions(pool_size=20))
        claims, records, wall, problems = contended(store, args.tasks, args.agents)
        store.close()
        mutations = len(claims) + len(records)
        contended_rows.append(
            [name, f"{args.agents} x 1 plan", mutations, f"{wall:.2f}", f"{mutations / wall:.0f}",
             len(problems), "; ".join(problems[:3]) or "-"]
        )  # fmt: skip
        latency_rows += [
            _row(f"{name}, {args.agents} agents claim", claims),
            _row(f"{name}, {args.agents} agents record", records),
        ]
    print_table(
        f"serial: one agent claims and records {args.tasks} tasks (in process, PlanService)",
        ["store", "mutations", "wall s", "mutations/s"],
        serial_rows,
    )
    print_table(
        f"contended: {args.agents} agents claim and record on one plan of {args.tasks} tasks",
        ["store", "agents", "mutations", "wall s", "mutations/s", "problems", "first problems"],
        contended_rows,
    )
    print_table("latency per call", ["case", "calls", "p50 ms", "p95 ms"], latency_rows)

    strategy_rows = []
    for label, skip in (("plan row lock (the store)", False), ("FOR UPDATE SKIP LOCKED", True)):
        lat, wall, duplicates = _raw_claims(pg_url, args.tasks, args.agents, skip)
        p50, p95 = p50_p95(lat)
        strategy_rows.append(
            [label, len(lat), f"{len(lat) / wall:.0f}", ms(p50), ms(p95), duplicates]
        )
    print_table(
        f"claim strategies, raw SQL on PostgreSQL: {args.agents} agents, one plan of "
        f"{args.tasks} tasks (claim + journal line per transaction)",
        ["strategy", "claims", "claims/s", "p50 ms", "p95 ms", "task claimed twice"],
        strategy_rows,
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=400, help="tasks per plan")
    parser.add_argument("--agents", type=int, default=16, help="contending agents (threads)")
    parser.add_argument("--url", help="an existing PostgreSQL database (its rows are kept)")
    parser.add_argument("--quick", action="store_true", help="tiny counts (smoke test)")
    args = parser.parse_args()
    if args.quick:
        args.tasks, args.agents = 24, 4
    print_command()
    print(machine_line())
    cluster: Cluster | None = None
    url = args.url
    if url is None:
        pg_bin = find_bin()
        if pg_bin is None:
            print("PostgreSQL is not installed (apt-get install -y postgresql) and no --url")
            return 1
        cluster = Cluster(pg_bin, fsync=True, synchronous_commit=False)
        url = cluster.url(cluster.create_database())
        print(
            f"postgresql: throwaway cluster {pg_bin.parent.name}, fsync=on, synchronous_commit=off"
        )
    try:
        with tempfile.TemporaryDirectory() as tmp:
            run(args, url, Path(tmp))
    finally:
        if cluster is not None:
            cluster.destroy()
    return 0


if __name__ == "__main__":
    sys.exit(main())
