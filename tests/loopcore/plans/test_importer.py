"""A plan from a Markdown checklist, and the export's checklist read back (round trip)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from loopcore.errors import InvalidInput
from loopcore.evaluators.factory import validate_spec
from loopcore.plans.importer import import_markdown, parse_markdown
from loopcore.plans.service import PlanService
from loopcore.store import open_store

DOC = """\
# Repair the date parser

Dates must parse strictly.

- [ ] parse: Parse ISO dates
  Accept YYYY-MM-DD only.

  Reject the rest.
  depends on: setup
  ```json acceptance
  {"type": "regex", "required": ["tests pass"]}
  ```
  - [ ] setup: Add the test file
  - [x] Write fixtures
- [x] docs: Document it
  depends on: Parse ISO dates
"""


@pytest.fixture
def plans(tmp_path: Path) -> Iterator[PlanService]:
    store, _ = open_store(tmp_path / "lc.db")
    yield PlanService(store)
    store.close()


def test_items_ids_descriptions_dependencies_and_specs() -> None:
    """Nested items, 'depends on' (ids or titles), fenced acceptance, checked items."""
    draft = parse_markdown(DOC)
    assert draft.goal == "Repair the date parser\n\nDates must parse strictly."
    assert draft.tasks == (
        {
            "id": "parse",
            "title": "Parse ISO dates",
            "description": "Accept YYYY-MM-DD only.\n\nReject the rest.",
            "depends_on": ["setup", "t1"],
            "acceptance": {"type": "regex", "required": ["tests pass"]},
        },
        {"id": "setup", "title": "Add the test file"},
        {"id": "t1", "title": "Write fixtures"},
        {"id": "docs", "title": "Document it", "depends_on": ["parse"]},
    )
    assert draft.done == ("t1", "docs")
    assert (draft.threshold, draft.replan_policy) == (0.72, "advise")


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ("# goal\n\nno items here\n", "no checklist items"),
        ("- [ ] a: A\n", "no goal"),
        ("# g\n- [ ] a: A\n- [ ] a: B\n", "line 3: task id 'a' appears twice"),
        ("# g\n- [ ] a: A\n  depends on: zz\n", "line 3: depends on 'zz'"),
        ("# g\n- [ ] a: A\n  ```json acceptance\n  {nope\n  ```\n", "line 3: the acceptance"),
        ("# g\n- [ ] a: A\n  ```json acceptance\n  [1]\n  ```\n", "must hold a JSON object"),
        ("# g\n- [ ] a: A\n  ```\n  never closed\n", "line 3: this fenced block"),
    ],
)
def test_bad_documents_name_the_line(doc: str, message: str) -> None:
    """Every refusal says what is wrong and where."""
    with pytest.raises(InvalidInput, match=message.replace("[", r"\[")):
        parse_markdown(doc)


def test_a_cycle_is_refused_by_create_and_nothing_is_written(plans: PlanService) -> None:
    """A document whose dependencies form a cycle creates no plan."""
    doc = "# g\n- [ ] a: A\n  depends on: b\n- [ ] b: B\n  depends on: a\n"
    with pytest.raises(InvalidInput, match="cycle"):
        import_markdown(plans, "p", doc)
    assert plans.list_plans("p").plans == ()


def test_import_creates_the_plan_with_checked_items_done(plans: PlanService) -> None:
    """import_markdown: the plan, its tasks in order, checked items done."""
    status = import_markdown(plans, "p", DOC)
    assert [t.id for t in status.tasks] == ["parse", "setup", "t1", "docs"]
    assert {t.id: t.status for t in status.tasks}["t1"] == "done"
    assert status.ready == ("setup",)


def _shape(plans: PlanService, plan_id: str) -> list[tuple[object, ...]]:
    return [
        (
            t.id,
            t.title,
            t.description,
            t.depends_on,
            None if t.acceptance is None else validate_spec(dict(t.acceptance)),
            t.status,
        )
        for t in plans.status(plan_id, verbose=True).tasks
    ]


def test_export_then_import_round_trips(plans: PlanService) -> None:
    """export_markdown then import: the same goal, tasks, specs, statuses and settings."""
    first = plans.create(
        "p",
        "Ship the parser\n\nwith docs",
        parse_markdown(DOC).tasks,
        threshold=0.8,
        replan_policy="block",
    ).plan
    plans.update_task(first.id, "setup", status="done")
    second = import_markdown(plans, "p", plans.export_markdown(first.id)).plan
    assert second.id != first.id
    assert (second.goal, second.threshold, second.replan_policy) == (
        first.goal,
        0.8,
        "block",
    )
    assert _shape(plans, second.id) == _shape(plans, first.id)
    third = import_markdown(plans, "p", plans.export_markdown(second.id)).plan
    assert _shape(plans, third.id) == _shape(plans, first.id)
