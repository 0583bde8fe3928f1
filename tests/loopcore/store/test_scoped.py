"""The store as one project sees it: another project's plans and loops are not there."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from loopcore.clock import FixedClock
from loopcore.errors import LoopNotFound, NotFound, PlanNotFound
from loopcore.history import HistoryService
from loopcore.loops.sessions import LoopService
from loopcore.plans.service import PlanService
from loopcore.store import SqliteStore
from loopcore.store.scoped import ProjectStore

SPEC = {"type": "length", "min_words": 1}


def test_services_on_a_project_store_treat_foreign_ids_as_unknown(
    store: SqliteStore, clock: FixedClock
) -> None:
    """Plans, loops and intercepts of project b cannot touch project a's by id."""
    mine = PlanService(store, clock)
    plan_id = mine.create("a", "g", [{"id": "t", "title": "T"}]).plan.id
    loop_id = LoopService(store, clock).start("a", "g", SPEC).id
    view = ProjectStore(store, "b").as_store()
    plans, loops = PlanService(view, clock), LoopService(view, clock)
    history = HistoryService(view, clock)
    refusals: list[Callable[[], object]] = [
        lambda: plans.status(plan_id),
        lambda: plans.record(plan_id, "t", output_score=1.0),
        lambda: plans.delete(plan_id),
        lambda: loops.step(loop_id, "x"),
        lambda: loops.start("b", "g", SPEC, plan_id=plan_id, task_id="t"),
        lambda: history.record_intercept(
            "b", "h", 0.5, "C", {}, "proceed", None, plan_id=plan_id, task_id="t"
        ),
    ]
    for call in refusals:
        with pytest.raises((PlanNotFound, LoopNotFound)):
            call()
    own = ProjectStore(store, "a").as_store()
    assert PlanService(own, clock).status(plan_id).plan.id == plan_id
    assert mine.task(plan_id, "t").status == "pending"
    assert LoopService(store, clock).status(loop_id).loop.status == "open"
    # the one-statement reads the questions before a record or a step are decided from
    assert plans.peek_task(plan_id, "t") is None and loops.peek(loop_id) is None
    assert PlanService(own, clock).peek_task(plan_id, "t") is not None
    assert LoopService(own, clock).peek(loop_id) is not None


def test_another_projects_scored_prompt_cannot_be_read_or_rated(
    store: SqliteStore, clock: FixedClock
) -> None:
    """A history id is a boundary too: project b gets "not found" for project a's prompt."""
    mine = HistoryService(ProjectStore(store, "a").as_store(), clock)
    history_id = mine.record_intercept("a", "h", 0.5, "C", {}, "proceed", "fix it")
    theirs = HistoryService(ProjectStore(store, "b").as_store(), clock)
    with pytest.raises(NotFound, match="no intercept"):
        theirs.get(history_id)
    with pytest.raises(NotFound, match="no intercept"):
        theirs.record_feedback(history_id, 1, "not mine")
    assert mine.get(history_id).project == "a"
    assert mine.record_feedback(history_id, 5).rating == 5
