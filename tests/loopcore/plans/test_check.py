"""Checking a task against its acceptance spec records nothing; finding a session's task."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from loopcore.clock import FixedClock
from loopcore.errors import InvalidInput, TaskNotFound
from loopcore.evaluators.factory import FactoryOptions
from loopcore.plans.check import check_task, find_session_task, journal_check
from loopcore.plans.service import PlanService
from loopcore.store import SqliteStore, open_store

SPEC = {"type": "regex", "required": ["tests pass"]}
TASKS: list[dict[str, Any]] = [
    {"id": "t1", "title": "Fix the parser", "acceptance": SPEC},
    {"id": "t2", "title": "Write the docs", "depends_on": ["t1"]},
]


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteStore]:
    s, _ = open_store(tmp_path / "lc.db", FixedClock(1000.0))
    assert isinstance(s, SqliteStore)
    yield s
    s.close()


def _plan(store: SqliteStore, project: str = "p") -> tuple[PlanService, str]:
    plans = PlanService(store, FixedClock(1000.0))
    return plans, plans.create(project, "Repair the parser", TASKS).plan.id


def test_check_task_scores_with_the_acceptance_spec_and_records_nothing(store: SqliteStore) -> None:
    """A failing and a passing check leave the task and the plan as they were."""
    plans, pid = _plan(store)
    before = (plans.get(pid), plans.task(pid, "t1"))
    failed = check_task(plans, FactoryOptions(), pid, "t1", "all done")
    passed = check_task(plans, FactoryOptions(), pid, "t1", "tests pass")
    assert (failed.evaluation.passed, passed.evaluation.passed) == (False, True)
    assert failed.evaluation.deficiencies == ("missing required pattern 'tests pass'",)
    assert (plans.get(pid), plans.task(pid, "t1")) == before


def test_check_task_refuses_a_task_without_a_spec_and_empty_output(store: SqliteStore) -> None:
    """No acceptance spec, an empty output, an unknown task: clear errors."""
    plans, pid = _plan(store)
    with pytest.raises(InvalidInput, match="no acceptance spec"):
        check_task(plans, FactoryOptions(), pid, "t2", "x")
    with pytest.raises(InvalidInput, match="must not be empty"):
        check_task(plans, FactoryOptions(), pid, "t1", "  ")
    with pytest.raises(TaskNotFound):
        check_task(plans, FactoryOptions(), pid, "t9", "x")


def test_find_session_task_by_claim_then_by_id_or_title(store: SqliteStore) -> None:
    """The task claimed by the session wins; else a task named by id or title."""
    plans, pid = _plan(store)
    assert find_session_task(plans, "p", agents=["s1"]) is None
    plans.next_task(pid, agent="s1")
    found = find_session_task(plans, "p", agents=["other", "s1"])
    assert found is not None and found[1].id == "t1"
    by_title = find_session_task(plans, "p", agents=["nobody"], refs=["7", "  write THE docs "])
    assert by_title is not None and by_title[1].id == "t2"
    assert find_session_task(plans, "other-project", agents=["s1"]) is None


def test_journal_check_adds_a_checked_line(store: SqliteStore) -> None:
    """A hook's check is journaled as 'checked ... nothing recorded'."""
    plans, pid = _plan(store)
    check = check_task(plans, FactoryOptions(), pid, "t1", "nope")
    journal_check(store, FixedClock(2000.0), check, "claude-code Stop hook")
    last = plans.explain(pid).lines[-1]
    assert (
        "task t1 checked by claude-code Stop hook: failed (score 0.000); nothing recorded" in last
    )
