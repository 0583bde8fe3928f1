"""Several OS processes share one database file; a killed writer loses no acknowledged write.

The workers are this file run as a script (``python test_store_processes.py <role> ...``):
each prints an ack line only after the write it acknowledges has committed.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from loopcore.plans.service import PlanLimits, PlanService
from loopcore.store import Store, open_store
from loopcore.store.observations import LoopObservation

ROOT = Path(__file__).resolve().parents[2]
WORKERS = 8
TASKS = 800  # 800 claims + 800 records = 1,600 acknowledged mutations on one plan
CHAINS = 16  # task i depends on task i - CHAINS: readiness keeps changing under the workers
LIMITS = PlanLimits(max_tasks=1000)
RELEASES = {"done", "failed", "lease_expired", "edited"}


def ack(line: str) -> None:
    """Acknowledge a committed write on stdout, flushed at once."""
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


# ---------------------------------------------------------------- workers (run as scripts)


def claim_worker(db: str, plan_id: str, agent: str) -> None:
    """Claim and record tasks until the plan is complete, acking each committed mutation."""
    store, _ = open_store(db)
    plans = PlanService(store, limits=LIMITS)
    rng = random.Random(agent)
    give_up = time.monotonic() + 90  # never outlive the test if a peer died holding a claim
    while time.monotonic() < give_up:
        answer = plans.next_task(plan_id, agent=agent, lease_s=3600)
        if answer.kind == "complete":
            break
        if answer.task is None:  # blocked: every ready task is held by someone else
            time.sleep(0.002)
            continue
        ack(f"claim {answer.task.id}")
        score = round(rng.uniform(0.8, 1.0), 6)
        plans.record(plan_id, answer.task.id, output_score=score, agent=agent)
        ack(f"record {answer.task.id} {score!r}")
    store.close()


def crash_writer(db: str) -> None:
    """Create three-task plans and score them as fast as possible, forever (until killed)."""
    store, _ = open_store(db)
    plans = PlanService(store)
    tasks: list[dict[str, Any]] = [
        {"id": "a", "title": "A"},
        {"id": "b", "title": "B", "depends_on": ["a"]},
        {"id": "c", "title": "C", "depends_on": ["a", "b"]},
    ]
    i = 0
    while True:
        plan_id = plans.create("crash", f"goal {i}", tasks).plan.id
        ack(f"plan {plan_id}")
        score = (i % 100) / 100
        plans.record(plan_id, "a", output_score=score)
        ack(f"record {plan_id} {score!r}")
        i += 1


def prior_worker(db: str, count: str) -> None:
    """Record ``count`` observations of one (task type, model)."""
    store, _ = open_store(db)
    for _ in range(int(count)):
        store.record_observation(
            LoopObservation(
                task_type="code", model="m", scores=(0.5, 0.7), threshold=0.8, converged=False
            )
        )
    store.close()
    ack("done")


# ---------------------------------------------------------------- helpers


def spawn(*args: str) -> subprocess.Popen[str]:
    # PYTHONPATH: the workers import this checkout's code (not another editable install).
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }
    return subprocess.Popen(
        [sys.executable, __file__, *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def overlapping_claims(store: Store, plan_id: str) -> list[str]:
    """Tasks claimed while another agent still held them, read from the journal."""
    holder: dict[str, str | None] = defaultdict(lambda: None)
    bad: list[str] = []
    with store.read() as tx:
        entries = tx.read_journal(plan_id=plan_id, limit=1_000_000)
    for e in entries:
        if e.task_id is None:
            continue
        if e.kind == "claimed":
            if holder[e.task_id] is not None:
                bad.append(f"{e.task_id}: {holder[e.task_id]} then {e.detail['agent']}")
            holder[e.task_id] = str(e.detail["agent"])
        elif e.kind in RELEASES:
            holder[e.task_id] = None
    return bad


# ---------------------------------------------------------------- tests


@pytest.mark.slow
def test_eight_processes_share_one_plan_without_losing_a_write(where: str | Path) -> None:
    """8 processes, 1,600 acked claims and records: all present, no double claim, never locked.

    On a SQLite file and on PostgreSQL (``where``)."""
    db = str(where)
    store, _ = open_store(db)
    tasks = [
        {
            "id": f"t{i}",
            "title": f"task {i}",
            "depends_on": [f"t{i - CHAINS}"] if i >= CHAINS else [],
        }
        for i in range(TASKS)
    ]
    plan_id = PlanService(store, limits=LIMITS).create("shared", "one plan", tasks).plan.id
    workers = {f"agent-{n}": spawn("claims", db, plan_id, f"agent-{n}") for n in range(WORKERS)}
    try:
        outputs = {agent: proc.communicate(timeout=100) for agent, proc in workers.items()}
    finally:
        for proc in workers.values():
            if proc.poll() is None:
                proc.kill()
                proc.wait()

    claims: dict[str, str] = {}
    records: dict[str, float] = {}
    for agent, (out, err) in outputs.items():
        assert workers[agent].returncode == 0, err
        assert "locked" not in err.lower()
        for line in out.splitlines():
            kind, task_id, *rest = line.split()
            if kind == "claim":
                assert task_id not in claims, f"{task_id} acked as claimed twice"
                claims[task_id] = agent
            else:
                records[task_id] = float(rest[0])
    status = PlanService(store, limits=LIMITS).status(plan_id, verbose=True)
    with store.read() as tx:
        journal = tx.read_journal(plan_id=plan_id, limit=1_000_000)
    overlaps = overlapping_claims(store, plan_id)
    store.close()

    assert len(claims) + len(records) >= 1600
    assert len(claims) == len(records) == TASKS
    assert {t.id: t.output_score for t in status.tasks} == records
    assert {t.status for t in status.tasks} == {"done"}
    claimed_by = {e.task_id: e.detail["agent"] for e in journal if e.kind == "claimed"}
    assert claimed_by == claims
    assert overlaps == []
    assert len({agent for agent in claims.values()}) > 1


@pytest.mark.slow
def test_a_killed_writer_loses_no_acknowledged_write(where: str | Path) -> None:
    """SIGKILL mid-stream: every acked plan and score is there and integrity_check is ok."""
    db = str(where)
    open_store(db)[0].close()
    proc = spawn("crash", db)
    assert proc.stdout is not None
    acked: list[str] = []
    while len(acked) < 400:
        line = proc.stdout.readline()
        assert line, proc.stderr.read() if proc.stderr else "writer died"
        acked.append(line)
    os.kill(proc.pid, signal.SIGKILL)
    rest, _ = proc.communicate(timeout=30)
    acked += rest.splitlines()
    assert proc.returncode == -signal.SIGKILL

    store, _ = open_store(db)
    plans = PlanService(store)
    integrity = store.integrity_check()
    missing: list[str] = []
    for line in acked:
        kind, plan_id, *score = line.split()
        status = plans.status(plan_id, verbose=True)
        if len(status.tasks) != 3:
            missing.append(f"plan {plan_id} has {len(status.tasks)} tasks")
        if kind == "record" and status.tasks[0].output_score != float(score[0]):
            missing.append(f"score of {plan_id}")
    store.close()
    assert integrity == "ok"
    assert missing == []


@pytest.mark.slow
def test_two_processes_recording_priors_both_land(where: str | Path) -> None:
    """Two processes folding 150 observations each into one row end with 300."""
    db = str(where)
    open_store(db)[0].close()
    procs = [spawn("priors", db, "150") for _ in range(2)]
    for proc in procs:
        out, err = proc.communicate(timeout=100)
        assert (proc.returncode, out.strip()) == (0, "done"), err
    store, _ = open_store(db)
    iterations, outcomes = store.load_prior_stats()
    store.close()
    assert [(o.loops, o.converged, o.iterations.n) for o in outcomes] == [(300, 0, 300)]
    assert [(s.iteration, s.score.n) for s in iterations] == [(1, 300), (2, 300)]
    assert iterations[1].delta.mean == pytest.approx(0.2)


if __name__ == "__main__":
    roles: dict[str, Callable[..., None]] = {
        "claims": claim_worker,
        "crash": crash_writer,
        "priors": prior_worker,
    }
    roles[sys.argv[1]](*sys.argv[2:])
