"""Latency of the scored-plan service on a real SQLite file.

Prints one Markdown table (median and p95 per call, in milliseconds):

- creating a 500-task plan;
- next-task + record, once per task, through a 500-task plan;
- status (compact and verbose) and list on a store holding 10,000 tasks;
- record on plans of 20, 200 and 1,000 tasks whose every task is already
  scored (it should stay flat: the rolling confidence reads at most the 200
  newest scores through an index).

Run: ``python bench/plans.py`` (``--quick`` for a smoke run with fewer
repetitions and a 2,000-task store).
"""

from __future__ import annotations

import argparse
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from loopcore.plans.service import PlanLimits, PlanService
from loopcore.store import SqliteStore, open_store

LIMITS = PlanLimits(max_tasks=1000)


def tasks(n: int, chains: int = 10) -> list[dict[str, Any]]:
    """``n`` tasks in ``chains`` interleaved dependency chains."""
    return [
        {
            "id": f"t{i}",
            "title": f"task {i}",
            "description": "do the thing and check it " * 4,
            "depends_on": [f"t{i - chains}"] if i >= chains else [],
        }
        for i in range(n)
    ]


def timed(fn: Callable[[], object], reps: int) -> list[float]:
    """Milliseconds of ``reps`` calls of ``fn``."""
    out = []
    for _ in range(reps):
        start = time.perf_counter()
        fn()
        out.append((time.perf_counter() - start) * 1000)
    return out


def p95(xs: list[float]) -> float:
    return statistics.quantiles(xs, n=20, method="inclusive")[-1] if len(xs) > 1 else xs[0]


def bench_create(plans: PlanService, reps: int) -> list[float]:
    spec = tasks(500)
    return timed(lambda: plans.create("bench-create", "a 500-task plan", spec), reps)


def bench_work_through(plans: PlanService) -> list[float]:
    plan_id = plans.create("bench-work", "work through", tasks(500)).plan.id
    rng = random.Random(1)
    out = []
    for _ in range(500):
        start = time.perf_counter()
        answer = plans.next_task(plan_id, agent="bench")
        assert answer.task is not None, answer.reason
        plans.record(plan_id, answer.task.id, output_score=rng.uniform(0.75, 1.0), agent="bench")
        out.append((time.perf_counter() - start) * 1000)
    return out


def bench_reads(plans: PlanService, total_tasks: int, reps: int) -> dict[str, list[float]]:
    ids = [
        plans.create("bench-store", f"plan {i}", tasks(500)).plan.id
        for i in range(total_tasks // 500)
    ]
    target = ids[len(ids) // 2]
    for t in range(0, 250):
        plans.record(target, f"t{t}", output_score=0.9)
    return {
        "status (compact)": timed(lambda: plans.status(target), reps),
        "status (verbose)": timed(lambda: plans.status(target, verbose=True), reps),
        "list (first page of 20)": timed(lambda: plans.list_plans("bench-store"), reps),
        "list (second page)": timed(
            lambda: plans.list_plans(
                "bench-store", cursor=plans.list_plans("bench-store", limit=5).next_cursor
            ),
            reps,
        ),
    }


def bench_record(plans: PlanService, size: int, reps: int) -> list[float]:
    plan_id = plans.create("bench-record", f"{size} tasks", tasks(size, chains=size)).plan.id
    for i in range(size):
        plans.record(plan_id, f"t{i}", output_score=0.9, mark_done=False)
    rng = random.Random(size)
    return timed(
        lambda: plans.record(
            plan_id, f"t{rng.randrange(size)}", output_score=rng.random(), mark_done=False
        ),
        reps,
    )


def run(quick: bool, store: SqliteStore) -> list[tuple[str, list[float]]]:
    plans = PlanService(store, limits=LIMITS)
    reps = 20 if quick else 200
    store_tasks = 2_000 if quick else 10_000
    rows = [("create a 500-task plan", bench_create(plans, 3 if quick else 20))]
    rows.append(("next-task + record (per task, 500-task plan)", bench_work_through(plans)))
    for name, xs in bench_reads(plans, store_tasks, reps).items():
        rows.append((f"{name}, store of {store_tasks:,} tasks", xs))
    for size in (20, 200, 1000):
        rows.append((f"record, plan of {size} scored tasks", bench_record(plans, size, reps)))
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions, smaller store")
    args = parser.parse_args(argv)
    command = "python bench/plans.py" + (" --quick" if args.quick else "")
    with tempfile.TemporaryDirectory() as tmp:
        store, _ = open_store(Path(tmp) / "bench.db")
        try:
            rows = run(args.quick, store)
        finally:
            store.close()
    print(f"command: {command}")
    print(f"python {sys.version.split()[0]}, sqlite {sqlite3.sqlite_version}")
    print()
    print("| operation | calls | median ms | p95 ms |")
    print("|---|---:|---:|---:|")
    for name, xs in rows:
        print(f"| {name} | {len(xs)} | {statistics.median(xs):.2f} | {p95(xs):.2f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
