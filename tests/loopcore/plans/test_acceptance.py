"""Tracking a task's test runs across records, and the helpers that read evaluator specs."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from loopcore.clock import FixedClock
from loopcore.errors import InvalidInput
from loopcore.evaluators.base import Evaluation
from loopcore.loops.model import reference_steps
from loopcore.plans.acceptance import run_outcome, runs_command
from loopcore.plans.service import PlanService
from loopcore.store import open_store
from loopcore.store.migrations import MIGRATIONS, migrate
from loopcore.store.records import StepRecord

COMMAND = {"type": "command", "run": ["pytest", "-q"]}
LENGTH = {"type": "length", "min_words": 1}


def _run(failing: list[str] | None, passed: int = 3, **extra: Any) -> Evaluation:
    """An evaluation shaped like a command run's (``failing`` None: no verdict)."""
    details = {"failing": failing, "passed": passed, "failed": len(failing or []), "errors": 0}
    return Evaluation.of(0.5, False, details={**details, "output_tail": "x" * 50, **extra})


def _plan(plans: PlanService, acceptance: dict[str, Any] | None = COMMAND) -> str:
    return plans.create("p", "g", [{"id": "t", "title": "T", "acceptance": acceptance}]).plan.id


def test_runs_command_finds_a_command_at_any_depth() -> None:
    """A bare command spec and a composite's nested command part run a command; others not."""
    inner = {"type": "composite", "parts": [{"weight": 1.0, "spec": COMMAND}]}
    outer = {"type": "composite", "parts": [{"weight": 1.0, "spec": LENGTH}, {"spec": inner}]}
    got = [runs_command(s) for s in (COMMAND, outer, LENGTH, None)]
    assert got == [True, True, False, False]


def test_test_outcome_merges_composite_parts() -> None:
    """Failing ids of every part, sorted, and a regression flagged by any part."""
    parts = {
        "0:command": {"details": {"failing": ["b", "a"], "regression": False}},
        "1:command": {"details": {"failing": ["c"], "regression": True}},
    }
    assert run_outcome({"parts": parts}) == (("a", "b", "c"), True)
    assert run_outcome({}) == ((), False)


def test_first_run_is_the_baseline_and_the_latest_is_kept(plans: PlanService) -> None:
    """The first recorded verdict stays the baseline; each later one replaces the latest."""
    plan_id = _plan(plans)
    plans.record(plan_id, "t", evaluation=_run(["a", "b"]), mark_done=False)
    task = plans.record(plan_id, "t", evaluation=_run(["b"]), mark_done=False).task
    assert task.baseline_details is not None and task.last_details is not None
    assert (task.baseline_details["failing"], task.last_details["failing"]) == (["a", "b"], ["b"])
    assert "output_tail" not in task.last_details  # bulky, not needed to compare


def test_a_run_without_a_verdict_leaves_the_tracking_alone(plans: PlanService) -> None:
    """A timed-out run (no failing list) never becomes the reference."""
    plan_id = _plan(plans)
    plans.record(plan_id, "t", evaluation=_run(["a"]), mark_done=False)
    task = plans.record(plan_id, "t", evaluation=_run(None, timed_out=True), mark_done=False).task
    assert task.last_details is not None and task.last_details["failing"] == ["a"]


def test_tracking_survives_in_the_store(plans: PlanService) -> None:
    """What was tracked is read back from the database."""
    plan_id = _plan(plans)
    plans.record(plan_id, "t", evaluation=_run(["a"]), mark_done=False)
    task = plans.task(plan_id, "t")
    assert task.baseline_details is not None and task.baseline_details["failing"] == ["a"]


def test_a_new_acceptance_spec_clears_the_tracking(plans: PlanService) -> None:
    """Runs of the old spec are no reference for a new one."""
    plan_id = _plan(plans)
    plans.record(plan_id, "t", evaluation=_run(["a"]), mark_done=False)
    other = {**COMMAND, "run": ["pytest", "-q", "tests/test_io.py"]}
    plans.replan(plan_id, "narrow the tests", update=[{"id": "t", "acceptance": other}])
    task = plans.task(plan_id, "t")
    assert (task.baseline_details, task.last_details) == (None, None)


def test_record_with_nothing_and_no_acceptance_is_refused(plans: PlanService) -> None:
    """Nothing to record and no command to run: InvalidInput, nothing written."""
    plan_id = _plan(plans, acceptance=None)
    with pytest.raises(InvalidInput, match="nothing to record"):
        plans.record(plan_id, "t")
    assert plans.task(plan_id, "t").scored_at is None


def _step(iteration: int, failing: list[str] | None) -> StepRecord:
    details = {} if failing is None else {"failing": failing}
    return StepRecord(
        loop_id="lp", iteration=iteration, output="", score=0.0, passed=False,
        details=details, created_at=0.0,
    )  # fmt: skip


def test_reference_steps_skip_steps_without_a_verdict() -> None:
    """A first step that timed out is not the baseline; the latest judged step is previous."""
    baseline, previous = reference_steps([_step(1, None), _step(2, ["a"]), _step(3, ["b"])])
    assert baseline is not None and previous is not None
    assert (baseline.details["failing"], previous.details["failing"]) == (["a"], ["b"])
    assert reference_steps([]) == (None, None)


def test_a_version_1_database_gains_the_tracking_columns(tmp_path: Path) -> None:
    """A task written under schema 1 reads back after migrating, with nothing tracked."""
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path, isolation_level=None)
    migrate(conn, 0.0, MIGRATIONS[:1])
    conn.execute(
        "INSERT INTO plans VALUES ('pl_1', 'p', 'g', 0.72, 'advise', 'active', 1.0, 0, NULL, "
        "1, 1, 0, 1, 0.0, 0.0)"
    )
    conn.execute(
        "INSERT INTO tasks (plan_id, id, position, title, description, depends_on, notes, "
        "status, created_at, updated_at) VALUES ('pl_1', 't', 0, 'T', '', '[]', '', "
        "'pending', 0.0, 0.0)"
    )
    conn.close()
    store, report = open_store(path, FixedClock(1.0))
    try:
        task = PlanService(store).task("pl_1", "t")
    finally:
        store.close()
    assert (report.migrated_from, report.schema_version) == (1, len(MIGRATIONS))
    assert (task.title, task.baseline_details, task.last_details) == ("T", None, None)
