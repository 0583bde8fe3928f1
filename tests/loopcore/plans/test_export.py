"""Reading plans: status, listing by project, archive and delete, explain, export."""

from __future__ import annotations

import json
from typing import Any

import pytest

from loopcore.clock import FixedClock
from loopcore.errors import Conflict, InvalidInput, PlanNotFound
from loopcore.plans.service import PlanService
from loopcore.store import SqliteStore
from tests.loopcore.conftest import query

TASKS: list[dict[str, Any]] = [
    {"id": "a", "title": "Write the parser"},
    {"id": "b", "title": "Test | the parser", "depends_on": ["a"]},
]


def test_compact_status_counts_and_ready_ids(plans: PlanService) -> None:
    """Compact status: counts for every status, ready ids, no task list."""
    plan_id = plans.create("p", "g", TASKS).plan.id
    status = plans.status(plan_id)
    assert dict(status.counts) == {
        "pending": 2,
        "in_progress": 0,
        "done": 0,
        "failed": 0,
        "skipped": 0,
    }
    assert (status.ready, status.tasks, status.confidence, status.needs_replan) == (
        ("a",),
        (),
        1.0,
        False,
    )


def test_verbose_status_lists_tasks_in_plan_order(plans: PlanService) -> None:
    """verbose=True adds every task."""
    plan_id = plans.create("p", "g", TASKS).plan.id
    assert [t.id for t in plans.status(plan_id, verbose=True).tasks] == ["a", "b"]


def test_list_is_per_project_and_paginated(plans: PlanService, clock: FixedClock) -> None:
    """Five plans in two pages of two and one of one, newest first; other projects excluded."""
    made = []
    for i in range(5):
        clock.advance(1)
        made.append(plans.create("mine", f"goal {i}", TASKS).plan.id)
    plans.create("theirs", "other", TASKS)
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        page = plans.list_plans("mine", cursor=cursor, limit=2)
        seen += [p.id for p in page.plans]
        pages += 1
        cursor = page.next_cursor
        if cursor is None:
            break
    assert (seen, pages) == (made[::-1], 3)


def test_list_pages_plans_created_in_the_same_instant(plans: PlanService) -> None:
    """Ties on creation time are broken by id, so pagination neither repeats nor skips."""
    made = {plans.create("p", f"g{i}", TASKS).plan.id for i in range(7)}
    first = plans.list_plans("p", limit=4)
    second = plans.list_plans("p", cursor=first.next_cursor, limit=4)
    ids = [p.id for p in first.plans + second.plans]
    assert (sorted(ids), second.next_cursor) == (sorted(made), None)


def test_list_filters_by_status(plans: PlanService) -> None:
    """status='archived' lists only archived plans, 'active' only the others."""
    keep = plans.create("p", "keep", TASKS).plan.id
    old = plans.create("p", "old", TASKS).plan.id
    plans.archive(old)
    assert [p.id for p in plans.list_plans("p", status="archived").plans] == [old]
    assert [p.id for p in plans.list_plans("p", status="active").plans] == [keep]


def test_a_bad_cursor_or_limit_is_invalid_input(plans: PlanService) -> None:
    """A cursor not made by list, or a limit outside 1..100, names its field."""
    with pytest.raises(InvalidInput, match="cursor"):
        plans.list_plans("p", cursor="not-a-cursor!")
    with pytest.raises(InvalidInput, match="limit"):
        plans.list_plans("p", limit=0)


def test_an_archived_plan_is_read_only(plans: PlanService) -> None:
    """After archive, claims and scores are a Conflict; reads still work."""
    plan_id = plans.create("p", "g", TASKS).plan.id
    archived = plans.archive(plan_id)
    assert archived.status == "archived"
    with pytest.raises(Conflict, match="archived"):
        plans.next_task(plan_id)
    with pytest.raises(Conflict, match="archived"):
        plans.record(plan_id, "a", output_score=1.0)
    assert plans.status(plan_id).plan.status == "archived"


def test_delete_removes_the_plan_and_leaves_a_project_entry(
    plans: PlanService, store: SqliteStore
) -> None:
    """After delete the id is not found; a project-level plan_deleted entry remains."""
    plan_id = plans.create("p", "g", TASKS).plan.id
    plans.delete(plan_id)
    with pytest.raises(PlanNotFound):
        plans.status(plan_id)
    with pytest.raises(PlanNotFound):
        plans.delete(plan_id)
    rows = query(store, "SELECT kind, detail FROM journal WHERE plan_id IS NULL")
    assert [(r[0], json.loads(r[1])["plan_id"]) for r in rows] == [("plan_deleted", plan_id)]


def test_explain_says_why_a_replan_was_asked_for(plans: PlanService) -> None:
    """The summary carries the replan reason; lines show how the confidence moved."""
    plan_id = plans.create("p", "g", TASKS).plan.id
    plans.record(plan_id, "a", output_score=0.3)
    explanation = plans.explain(plan_id)
    assert "replan needed: plan confidence 0.300 fell below threshold 0.72" in explanation.summary
    assert any("plan confidence 1.000 -> 0.300" in line for line in explanation.lines)
    assert any("replan needed" in line for line in explanation.lines)


def test_export_json_round_trips_through_json(plans: PlanService) -> None:
    """The export is plain JSON with the plan, tasks, revisions and journal."""
    plan_id = plans.create("p", "g", TASKS).plan.id
    plans.record(plan_id, "a", output_score=0.9)
    data = json.loads(json.dumps(plans.export_json(plan_id)))
    assert data["format"] == "loopcore.plan/1"
    assert data["plan"]["id"] == plan_id
    assert [t["id"] for t in data["tasks"]] == ["a", "b"]
    assert data["tasks"][0]["output_score"] == 0.9
    assert [e["kind"] for e in data["journal"]] == ["created", "scored", "done"]


def test_export_markdown_has_the_summary_and_a_task_table(plans: PlanService) -> None:
    """The Markdown names the plan, its confidence, and one escaped table row per task."""
    plan_id = plans.create("p", "Ship the parser", TASKS).plan.id
    plans.record(plan_id, "a", output_score=0.9)
    text = plans.export_markdown(plan_id)
    assert text.startswith(f"# Plan {plan_id}\n")
    assert "- Confidence: 0.900 (threshold 0.72, replan policy advise)" in text
    assert "| 1 | a | Write the parser | done | - | 0.900 | 0.900 | - |" in text
    assert "| 2 | b | Test \\| the parser | pending | - | - | - | a |" in text
    assert "## Journal" in text
