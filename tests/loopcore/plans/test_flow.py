"""Working through a plan: claims, leases, recording, policies, replanning, edits."""

from __future__ import annotations

from typing import Any

import pytest

from loopcore.clock import FixedClock
from loopcore.errors import Conflict, InvalidInput
from loopcore.evaluators.base import Evaluation
from loopcore.plans.service import PlanService


def diamond() -> list[dict[str, Any]]:
    """a; b and c after a; d after b and c."""
    return [
        {"id": "a", "title": "A"},
        {"id": "b", "title": "B", "depends_on": ["a"]},
        {"id": "c", "title": "C", "depends_on": ["a"]},
        {"id": "d", "title": "D", "depends_on": ["b", "c"]},
    ]


def kinds(plans: PlanService, plan_id: str) -> list[str]:
    return [e.kind for e in plans.journal(plan_id)]


def test_next_task_follows_plan_order_and_dependencies(plans: PlanService) -> None:
    """a first; then b and c; d only after both."""
    plan_id = plans.create("p", "g", diamond()).plan.id
    first = plans.next_task(plan_id, agent="x")
    assert (first.kind, first.task and first.task.id) == ("task", "a")
    assert plans.next_task(plan_id, agent="y").kind == "blocked"
    plans.record(plan_id, "a", output_score=1.0, agent="x")
    got = [plans.next_task(plan_id, agent=n).task for n in ("x", "y")]
    assert [t.id for t in got if t] == ["b", "c"]
    plans.record(plan_id, "b", output_score=1.0, agent="x")
    assert plans.next_task(plan_id).kind == "blocked"
    plans.record(plan_id, "c", output_score=1.0, agent="y")
    last = plans.next_task(plan_id)
    assert last.task is not None
    assert last.task.id == "d"


def test_a_claim_records_the_agent_and_lease(plans: PlanService, clock: FixedClock) -> None:
    """The claimed task is in_progress, held by the agent until now + lease."""
    plan_id = plans.create("p", "g", diamond()).plan.id
    claimed = plans.next_task(plan_id, agent="agent-7", lease_s=60).task
    assert claimed is not None
    assert (claimed.status, claimed.claimed_by) == ("in_progress", "agent-7")
    assert claimed.lease_expires_at == clock.now + 60


def test_blocked_names_the_tasks_in_progress(plans: PlanService) -> None:
    """Nothing ready while a is held: the reason names a and its holder."""
    plan_id = plans.create("p", "g", diamond()).plan.id
    plans.next_task(plan_id, agent="x")
    answer = plans.next_task(plan_id, agent="y")
    assert answer.kind == "blocked"
    assert "a (claimed by x)" in answer.reason


def test_complete_when_every_task_is_done_or_skipped(plans: PlanService) -> None:
    """complete only when all tasks are done or skipped."""
    plan_id = plans.create("p", "g", diamond()).plan.id
    for task_id in ("a", "b", "c"):
        plans.record(plan_id, task_id, output_score=0.9)
    plans.update_task(plan_id, "d", status="skipped")
    answer = plans.next_task(plan_id)
    assert (answer.kind, answer.task) == ("complete", None)


def test_a_failed_task_blocks_and_is_named(plans: PlanService) -> None:
    """A failed task keeps the plan from completing; the reason names what it blocks."""
    plan_id = plans.create(
        "p", "g", [{"id": "a", "title": "A"}, {"id": "b", "title": "B", "depends_on": ["a"]}]
    ).plan.id
    plans.record(plan_id, "a", output_score=0.1)
    answer = plans.next_task(plan_id)
    assert answer.kind == "blocked"
    assert "a (blocks b)" in answer.reason
    assert "plan_replan" in answer.reason


def test_an_expired_lease_returns_the_task_to_pending(
    plans: PlanService, clock: FixedClock
) -> None:
    """After the lease ends the task is handed to the next agent, journalled lease_expired."""
    plan_id = plans.create("p", "g", [{"id": "a", "title": "A"}]).plan.id
    plans.next_task(plan_id, agent="slow", lease_s=30)
    clock.advance(29)
    assert plans.next_task(plan_id, agent="fast").kind == "blocked"
    clock.advance(1)
    answer = plans.next_task(plan_id, agent="fast")
    assert answer.task is not None
    assert (answer.task.id, answer.task.claimed_by, answer.released) == ("a", "fast", ("a",))
    expired = [e for e in plans.journal(plan_id) if e.kind == "lease_expired"]
    assert [(e.task_id, e.detail["agent"]) for e in expired] == [("a", "slow")]


def test_recording_releases_the_claim(plans: PlanService) -> None:
    """A task marked done no longer has a holder or a lease."""
    plan_id = plans.create("p", "g", [{"id": "a", "title": "A"}]).plan.id
    plans.next_task(plan_id, agent="x")
    task = plans.record(plan_id, "a", output_score=0.9, agent="x").task
    assert (task.status, task.claimed_by, task.lease_expires_at) == ("done", None, None)


def test_advise_policy_hands_out_work_with_the_flag(plans: PlanService) -> None:
    """Below threshold under advise, next_task still gives a task and says needs_replan."""
    plan_id = plans.create("p", "g", diamond(), replan_policy="advise").plan.id
    plans.record(plan_id, "a", output_score=0.75, prompt_score=0.0)
    answer = plans.next_task(plan_id)
    assert (answer.kind, answer.needs_replan) == ("blocked", True)
    plans.update_task(plan_id, "a", status="done")
    answer = plans.next_task(plan_id)
    assert (answer.kind, answer.needs_replan) == ("task", True)
    assert "fell below threshold" in answer.reason


def test_block_policy_refuses_work_until_replan(plans: PlanService) -> None:
    """Under block, needs_replan stops next_task until plan_replan clears it."""
    plan_id = plans.create("p", "g", diamond(), replan_policy="block").plan.id
    plans.record(plan_id, "a", output_score=0.3)
    refused = plans.next_task(plan_id)
    assert (refused.kind, refused.task) == ("needs_replan", None)
    assert "plan_replan" in refused.reason
    result = plans.replan(
        plan_id,
        "a was too vague",
        update=[{"id": "a", "status": "pending", "description": "sharper"}],
    )
    assert result.plan.needs_replan is False
    answer = plans.next_task(plan_id)
    assert answer.task is not None
    assert answer.task.id == "a"


def test_confidence_recovering_clears_the_flag(plans: PlanService) -> None:
    """needs_replan follows the confidence: a good score that lifts it clears the flag."""
    plan_id = plans.create("p", "g", diamond(), threshold=0.5).plan.id
    plans.record(plan_id, "a", output_score=0.4, mark_done=False)
    result = plans.record(plan_id, "a", output_score=0.9)
    assert (result.needs_replan, result.plan.replan_reason) == (False, None)
    assert "confidence_recovered" in kinds(plans, plan_id)


def test_replan_adds_removes_and_updates_the_pending_part(plans: PlanService) -> None:
    """A replan changes only what it names and bumps the revision; history is kept."""
    plan_id = plans.create("p", "g", diamond()).plan.id
    plans.record(plan_id, "a", output_score=0.9)
    result = plans.replan(
        plan_id,
        "split d",
        add=[{"id": "e", "title": "E", "depends_on": ["b"]}],
        remove=["c"],
        update=[{"id": "d", "depends_on": ["b", "e"], "title": "D2"}],
    )
    tasks = {t.id: t for t in result.tasks}
    assert (result.revision, result.added, result.removed, result.updated) == (
        2,
        ("e",),
        ("c",),
        ("d",),
    )
    assert sorted(tasks) == ["a", "b", "d", "e"]
    assert (tasks["d"].title, tasks["d"].depends_on) == ("D2", ("b", "e"))
    export = plans.export_json(plan_id)
    assert [r["revision"] for r in export["revisions"]] == [1, 2]
    assert export["revisions"][1]["changes"]["removed"][0]["id"] == "c"
    assert "replanned" in kinds(plans, plan_id)


def test_replan_cannot_remove_or_change_done_tasks(plans: PlanService) -> None:
    """Done tasks are history: removing or updating one is InvalidInput."""
    plan_id = plans.create("p", "g", diamond()).plan.id
    plans.record(plan_id, "a", output_score=0.9)
    with pytest.raises(InvalidInput, match="done"):
        plans.replan(plan_id, "r", remove=["a"])
    with pytest.raises(InvalidInput, match="done"):
        plans.replan(plan_id, "r", update=[{"id": "a", "title": "new"}])


def test_replan_rejects_a_cycle_and_writes_nothing(plans: PlanService) -> None:
    """A replan that would make a cycle is refused whole: the plan stays at revision 1."""
    plan_id = plans.create("p", "g", diamond()).plan.id
    with pytest.raises(InvalidInput, match="cycle: a -> e -> a"):
        plans.replan(
            plan_id,
            "r",
            add=[{"id": "e", "title": "E", "depends_on": ["a"]}],
            update=[{"id": "a", "depends_on": ["e"]}],
        )
    status = plans.status(plan_id, verbose=True)
    assert (status.plan.revision, len(status.tasks)) == (1, 4)


def test_replan_rejects_unknown_ids(plans: PlanService) -> None:
    """Removing, updating or depending on an unknown id names it."""
    plan_id = plans.create("p", "g", diamond()).plan.id
    with pytest.raises(InvalidInput, match="unknown task 'zz'"):
        plans.replan(plan_id, "r", remove=["zz"])
    with pytest.raises(InvalidInput, match="'zz'"):
        plans.replan(plan_id, "r", update=[{"id": "zz", "title": "t"}])
    with pytest.raises(InvalidInput, match="unknown task 'zz'"):
        plans.replan(plan_id, "r", add=[{"id": "e", "title": "E", "depends_on": ["zz"]}])
    with pytest.raises(InvalidInput, match="already exists"):
        plans.replan(plan_id, "r", add=[{"id": "a", "title": "again"}])


def test_replan_refuses_to_remove_a_task_under_a_live_lease(plans: PlanService) -> None:
    """Removing the task an agent is working on is a Conflict."""
    plan_id = plans.create("p", "g", diamond()).plan.id
    plans.next_task(plan_id, agent="x")
    with pytest.raises(Conflict, match="in progress"):
        plans.replan(plan_id, "r", remove=["a"])


def test_a_stale_version_is_a_conflict(plans: PlanService) -> None:
    """expected_version guards against edits based on an old read."""
    status = plans.create("p", "g", diamond())
    plan_id, version = status.plan.id, status.plan.version
    plans.next_task(plan_id)
    with pytest.raises(Conflict, match="version"):
        plans.replan(plan_id, "r", expected_version=version)
    with pytest.raises(Conflict, match="version"):
        plans.update_task(plan_id, "b", notes="n", expected_version=version)


def test_update_task_to_pending_releases_the_claim(plans: PlanService) -> None:
    """A manual status change drops the holder and lease and is journalled as edited."""
    plan_id = plans.create("p", "g", diamond()).plan.id
    plans.next_task(plan_id, agent="x")
    task = plans.update_task(plan_id, "a", status="pending", notes="handed back")
    assert (task.status, task.claimed_by, task.lease_expires_at, task.notes) == (
        "pending",
        None,
        None,
        "handed back",
    )
    edited = [e for e in plans.journal(plan_id) if e.kind == "edited"]
    assert edited[0].detail["changes"]["status"] == ["in_progress", "pending"]


def test_update_task_cannot_claim(plans: PlanService) -> None:
    """Setting in_progress by hand is refused: claims go through next_task."""
    plan_id = plans.create("p", "g", diamond()).plan.id
    with pytest.raises(InvalidInput, match="plan_next_task"):
        plans.update_task(plan_id, "a", status="in_progress")


def test_an_output_is_scored_with_the_acceptance_spec(plans: PlanService) -> None:
    """record(output=...) runs the task's evaluator and keeps its deficiencies."""
    spec = {"type": "regex", "required": ["tests pass"], "forbidden": ["TODO"]}
    plan_id = plans.create("p", "g", [{"id": "a", "title": "A", "acceptance": spec}]).plan.id
    result = plans.record(plan_id, "a", output="TODO: finish")
    assert result.evaluation is not None
    assert result.task.output_score == result.evaluation.score
    assert result.task.status == "failed"
    assert result.deficiencies == result.evaluation.deficiencies
    assert result.deficiencies
    assert result.task.last_output == "TODO: finish"
    scored = [e for e in plans.journal(plan_id) if e.kind == "scored"]
    assert scored[0].detail["deficiencies"] == list(result.deficiencies)


def test_an_output_without_acceptance_needs_a_score(plans: PlanService) -> None:
    """With no acceptance spec and no output_score the caller is told what to pass."""
    plan_id = plans.create("p", "g", [{"id": "a", "title": "A"}]).plan.id
    with pytest.raises(InvalidInput, match="pass output_score"):
        plans.record(plan_id, "a", output="done")


def test_a_given_evaluation_supplies_the_output_score(plans: PlanService) -> None:
    """An Evaluation from verify_output is recorded as the output score."""
    plan_id = plans.create("p", "g", [{"id": "a", "title": "A"}]).plan.id
    evaluation = Evaluation.of(0.8, True, ["minor: style"])
    result = plans.record(plan_id, "a", evaluation=evaluation)
    assert (result.task.output_score, result.task.status, result.deficiencies) == (
        0.8,
        "done",
        ("minor: style",),
    )


def test_nothing_to_record_is_refused(plans: PlanService) -> None:
    """A record call with no score, output or evaluation is InvalidInput."""
    plan_id = plans.create("p", "g", [{"id": "a", "title": "A"}]).plan.id
    with pytest.raises(InvalidInput, match="nothing to record"):
        plans.record(plan_id, "a")


def test_every_change_is_journalled_in_order(plans: PlanService) -> None:
    """created, claimed, scored, failed, replan_needed, replanned, claimed, scored, done."""
    plan_id = plans.create("p", "g", [{"id": "a", "title": "A"}]).plan.id
    plans.next_task(plan_id, agent="x")
    plans.record(plan_id, "a", output_score=0.2, agent="x")
    plans.replan(plan_id, "retry a", update=[{"id": "a", "status": "pending"}])
    plans.next_task(plan_id, agent="x")
    plans.record(plan_id, "a", output_score=0.95, agent="x")
    assert kinds(plans, plan_id) == [
        "created",
        "claimed",
        "scored",
        "failed",
        "replan_needed",
        "replanned",
        "claimed",
        "scored",
        "done",
    ]


# ---- order kept, plans finish (issue 15) -----------------------------------------------------


def test_record_refuses_a_task_whose_dependencies_are_not_done(plans: PlanService) -> None:
    """b cannot be recorded while a is pending; the error names a and says what to do."""
    plan_id = plans.create("p", "g", diamond()).plan.id
    with pytest.raises(Conflict) as info:
        plans.record(plan_id, "b", output_score=1.0)
    assert "'a' (pending)" in str(info.value)
    assert "record those first" in str(info.value)
    assert plans.task(plan_id, "b").status == "pending"


def test_record_refuses_a_task_another_agent_holds(plans: PlanService, clock: FixedClock) -> None:
    """A live lease of x keeps y from recording; x may; after the lease ends, y may too."""
    plan_id = plans.create("p", "g", diamond()).plan.id
    plans.next_task(plan_id, agent="x", lease_s=60)
    with pytest.raises(Conflict) as info:
        plans.record(plan_id, "a", output_score=1.0, agent="y")
    assert "claimed by 'x'" in str(info.value)
    assert plans.record(plan_id, "a", output_score=0.1, agent="x", mark_done=False).task.claimed_by
    clock.advance(61)
    assert plans.record(plan_id, "a", output_score=1.0, agent="y").task.status == "done"


def test_an_unclaimed_ready_task_can_be_recorded(plans: PlanService) -> None:
    """Recording a ready task nobody claimed works (no claim needed)."""
    plan_id = plans.create("p", "g", diamond()).plan.id
    assert plans.record(plan_id, "a", output_score=1.0).task.status == "done"


def test_a_failed_task_can_be_recorded_again(plans: PlanService) -> None:
    """The recovery open to every tool set: record the failed task again with a better result."""
    plan_id = plans.create("p", "g", [{"id": "a", "title": "A"}]).plan.id
    assert plans.record(plan_id, "a", output_score=0.1).task.status == "failed"
    again = plans.record(plan_id, "a", output_score=1.0)
    assert again.task.status == "done"
    assert again.plan.status == "done"


def test_a_plan_whose_tasks_are_done_or_skipped_is_done(plans: PlanService) -> None:
    """Status done in results, status() and list filters; active again when work is added."""
    plan_id = plans.create("p", "g", diamond()[:2]).plan.id
    plans.record(plan_id, "a", output_score=1.0)
    assert plans.get(plan_id).status == "active"
    plans.update_task(plan_id, "b", status="skipped")
    assert plans.status(plan_id).plan.status == "done"
    assert plans.get(plan_id).status == "done"
    assert plans.next_task(plan_id).plan.status == "done"
    done = plans.list_plans("p", status="done").plans
    active = plans.list_plans("p", status="active").plans
    assert ([p.id for p in done], active) == ([plan_id], ())
    res = plans.replan(plan_id, "more work", add=[{"id": "c", "title": "C"}])
    assert res.plan.status == "active"
    assert [p.id for p in plans.list_plans("p", status="active").plans] == [plan_id]


def test_a_replan_that_leaves_no_task_is_refused(plans: PlanService) -> None:
    """Removing every task is refused with what to do instead; nothing changes."""
    plan_id = plans.create("p", "g", [{"id": "a", "title": "A"}]).plan.id
    with pytest.raises(InvalidInput) as info:
        plans.replan(plan_id, "drop it", remove=["a"])
    assert "without tasks" in str(info.value)
    assert plans.status(plan_id).counts["pending"] == 1


def test_done_filter_pages_through_plans(plans: PlanService, clock: FixedClock) -> None:
    """The done filter keeps list order and cursors across plans that are not done."""
    ids = []
    for i in range(5):
        clock.advance(1)
        plan_id = plans.create("p", f"g{i}", [{"id": "a", "title": "A"}]).plan.id
        if i % 2 == 0:
            plans.record(plan_id, "a", output_score=1.0)
        ids.append(plan_id)
    first = plans.list_plans("p", status="done", limit=2)
    second = plans.list_plans("p", status="done", cursor=first.next_cursor, limit=2)
    assert [p.id for p in first.plans + second.plans] == [ids[4], ids[2], ids[0]]
    assert second.next_cursor is None
