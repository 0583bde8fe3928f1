"""N processes x M mutations on one database file through loopcore's store API.

Issue 7, part 4. The parent creates plans (tasks in chains, task i depending
on task i - 16, so readiness keeps changing under the workers), then starts
``--processes`` workers (this file with ``--worker``), each with its own
``open_store`` on the same file. On a common "go" every worker claims tasks
(``PlanService.next_task``) and records a score on each (``PlanService.record``)
until it has made ``--mutations`` mutations, printing an ack line only after
each call returned. The parent then reads the database and checks every ack:

- lost update: an acknowledged record whose task is not ``done`` with that
  exact output score, or a task acknowledged as claimed by two agents;
- errors: any exception a worker saw (``database is locked`` counted apart).

    .venv/bin/python bench/concurrency.py [--processes 8] [--mutations 200] [--quick]
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from _common import (
    BENCH,
    PROJECT,
    machine_line,
    ms,
    now,
    p50_p95,
    print_command,
    print_table,
    verdict,
)

from loopcore.plans.service import PlanService
from loopcore.store import open_store

CHAINS = 16
TASKS_PER_PLAN = 200
THIS = str(BENCH / "concurrency.py")


def emit(record: dict[str, object]) -> None:
    """One JSON line on stdout, flushed at once (an ack is sent only after the commit)."""
    sys.stdout.write(json.dumps(record) + "\n")
    sys.stdout.flush()


def _classify(exc: BaseException) -> str:
    return "database is locked" if "locked" in str(exc).lower() else type(exc).__name__


def run_worker(db: str, plan_ids: list[str], agent: str, budget: int) -> None:
    """Claim and record until ``budget`` mutations are acknowledged or every plan is done."""
    store, _ = open_store(db)
    plans = PlanService(store)
    rng = random.Random(agent)
    emit({"ready": agent})
    sys.stdin.readline()  # the parent's "go"
    started = time.monotonic()  # one clock for every process (CLOCK_MONOTONIC)
    lat: list[float] = []
    done, errors, i = 0, 0, 0
    while done < budget and i < len(plan_ids) and errors < 100:
        plan_id = plan_ids[i]
        try:
            t = now()
            answer = plans.next_task(plan_id, agent=agent, lease_s=3600)
            if answer.kind == "complete":
                i += 1
                continue
            if answer.task is None:  # every ready task is held by another worker: poll again
                time.sleep(0.002)
                continue
            lat.append(now() - t)
            done += 1
            emit({"ack": "claim", "plan": plan_id, "task": answer.task.id, "agent": agent})
            score = round(rng.uniform(0.8, 1.0), 6)
            t = now()
            plans.record(plan_id, answer.task.id, output_score=score, agent=agent)
            lat.append(now() - t)
            done += 1
            emit({"ack": "record", "plan": plan_id, "task": answer.task.id, "score": score})
        except Exception as exc:  # a benchmark counts failures instead of stopping on them
            errors += 1
            emit({"error": _classify(exc), "detail": str(exc)[:200]})
    ended = time.monotonic()
    store.close()
    emit({"done": done, "latencies": lat, "started": started, "ended": ended})


@dataclass
class Outcome:
    """What the workers reported."""

    claims: list[tuple[str, str, str]] = field(default_factory=list)  # plan, task, agent
    records: list[tuple[str, str, float]] = field(default_factory=list)  # plan, task, score
    errors: Counter[str] = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)
    starts: list[float] = field(default_factory=list)
    spans: list[float] = field(default_factory=list)  # each worker's end time
    wall: float = 0.0


def make_plans(db: Path, tasks: int) -> list[str]:
    """Plans holding ``tasks`` tasks in all, at most ``TASKS_PER_PLAN`` each."""
    store, _ = open_store(db)
    plans = PlanService(store)
    ids = []
    for start in range(0, tasks, TASKS_PER_PLAN):
        n = min(TASKS_PER_PLAN, tasks - start)
        specs = [
            {
                "id": f"t{k}",
                "title": f"Task {k}",
                "depends_on": [f"t{k - CHAINS}"] if k >= CHAINS else [],
            }
            for k in range(n)
        ]
        ids.append(plans.create(PROJECT, f"concurrency {start}", specs).plan.id)
    store.close()
    return ids


def run_workers(db: Path, plan_ids: list[str], processes: int, mutations: int) -> Outcome:
    """Start the workers, release them together, collect their acks."""
    cmd = [
        sys.executable,
        THIS,
        "--worker",
        "--db",
        str(db),
        "--plans",
        ",".join(plan_ids),
        "--mutations",
        str(mutations),
    ]
    procs = [
        subprocess.Popen(
            [*cmd, "--agent", f"w{k}"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        for k in range(processes)
    ]
    for p in procs:
        assert p.stdout is not None
        json.loads(p.stdout.readline())  # {"ready": ...}
    for p in procs:
        assert p.stdin is not None
        p.stdin.write("go\n")
        p.stdin.flush()
    out = Outcome()
    for k, p in enumerate(procs):
        stdout, _ = p.communicate(timeout=600)
        for line in stdout.splitlines():
            _collect(out, json.loads(line), f"w{k}")
        if p.returncode != 0:
            out.errors[f"worker exit {p.returncode}"] += 1
    out.wall = max(out.spans, default=0.0) - min(out.starts, default=0.0)
    return out


def _collect(out: Outcome, rec: dict[str, object], agent: str) -> None:
    if rec.get("ack") == "claim":
        out.claims.append((str(rec["plan"]), str(rec["task"]), agent))
    elif rec.get("ack") == "record":
        out.records.append((str(rec["plan"]), str(rec["task"]), float(str(rec["score"]))))
    elif "error" in rec:
        out.errors[str(rec["error"])] += 1
    elif "latencies" in rec:
        out.latencies.extend(float(x) for x in rec["latencies"])  # type: ignore[attr-defined]
        out.starts.append(float(str(rec["started"])))
        out.spans.append(float(str(rec["ended"])))


def count_lost(db: Path, out: Outcome) -> int:
    """Acknowledged writes the database does not hold (double claims included)."""
    claimed = Counter((plan, task) for plan, task, _ in out.claims)
    lost = sum(n - 1 for n in claimed.values() if n > 1)
    store, _ = open_store(db)
    plans = PlanService(store)
    try:
        for plan_id, task_id, score in out.records:
            task = plans.task(plan_id, task_id)
            if task.status != "done" or task.output_score != score:
                lost += 1
    finally:
        store.close()
    return lost


def bench_one(processes: int, mutations: int) -> list[object]:
    """One table row: ``processes`` x ``mutations`` on a fresh database."""
    with tempfile.TemporaryDirectory(prefix="loopcore-conc-") as tmp:
        db = Path(tmp) / "shared.db"
        plan_ids = make_plans(db, processes * mutations // 2)
        out = run_workers(db, plan_ids, processes, mutations)
        lost = count_lost(db, out)
    acked = len(out.claims) + len(out.records)
    errors = sum(out.errors.values())
    locked = out.errors.get("database is locked", 0)
    p50, p95 = p50_p95(out.latencies) if out.latencies else (float("nan"), float("nan"))
    met = errors == 0 and lost == 0 and acked == processes * mutations
    return [
        f"{processes} x {mutations}",
        acked,
        f"{out.wall:.2f}",
        f"{acked / out.wall:,.0f}",
        ms(p50),
        ms(p95),
        errors,
        locked,
        lost,
        "0 errors, 0 lost, all acked",
        verdict(met),
    ]


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Command-line options; ``--worker`` is the mode the parent starts its workers in."""
    p = argparse.ArgumentParser(description="Processes x mutations on one database file.")
    p.add_argument("--processes", default="8", help="worker processes; a comma list runs each")
    p.add_argument("--mutations", type=int, default=200, help="mutations per process (even)")
    p.add_argument("--quick", action="store_true", help="2 processes x 20 mutations")
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--db", help=argparse.SUPPRESS)
    p.add_argument("--plans", help=argparse.SUPPRESS)
    p.add_argument("--agent", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    args.processes = [int(x) for x in str(args.processes).split(",")]
    if args.quick:
        args.processes, args.mutations = [2], 20
    args.mutations -= args.mutations % 2  # a claim and its record come in pairs
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Run the workers (or be one), print the table; exit 0."""
    args = parse_args(argv)
    if args.worker:
        run_worker(args.db, args.plans.split(","), args.agent, args.mutations)
        return 0
    print_command()
    print(machine_line())
    rows = [bench_one(n, args.mutations) for n in args.processes]
    print_table(
        "Processes x mutations on one SQLite file (store API: plan claims + records)",
        [
            "processes x mutations",
            "acked",
            "wall s",
            "mutations/s",
            "p50 ms",
            "p95 ms",
            "errors",
            "database is locked",
            "lost",
            "target",
            "result",
        ],
        rows,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
