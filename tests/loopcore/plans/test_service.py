"""Plan confidence maths and plan creation (DESIGN.md, "Plans and confidence")."""

from __future__ import annotations

import math
import random
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from loopcore.clock import FixedClock
from loopcore.errors import InvalidInput, PlanNotFound, TaskNotFound
from loopcore.plans.confidence import WINDOW, rolling_confidence, task_confidence
from loopcore.plans.export import finished_plan
from loopcore.plans.service import PlanLimits, PlanService, TaskPatch, TaskSpec
from loopcore.store import SqliteStore, Store, open_store
from tests.loopcore.conftest import query


def flat(n: int) -> list[dict[str, Any]]:
    return [{"id": f"t{i}", "title": f"task {i}"} for i in range(n)]


def _count_plans(store: Store) -> int:
    return int(query(store, "SELECT COUNT(*) FROM plans")[0][0])


def test_task_confidence_weighs_prompt_and_output() -> None:
    """0.35 x prompt + 0.65 x output when both exist."""
    assert task_confidence(0.6, 0.8) == pytest.approx(0.35 * 0.6 + 0.65 * 0.8)


def test_task_confidence_uses_whichever_score_exists() -> None:
    """One score alone is the confidence; none is unscored."""
    assert (task_confidence(0.4, None), task_confidence(None, 0.7)) == (0.4, 0.7)
    assert task_confidence(None, None) is None


def test_a_zero_score_is_a_real_score() -> None:
    """0.0 counts as scored, both alone and combined."""
    assert task_confidence(0.0, None) == 0.0
    assert task_confidence(1.0, 0.0) == pytest.approx(0.35)


def test_rolling_confidence_weights_by_recency() -> None:
    """Weights decay^(n-1-i), decay 0.85, newest heaviest; 1.0 when nothing is scored."""
    expected = (0.2 * 0.85**2 + 0.5 * 0.85 + 0.9) / (0.85**2 + 0.85 + 1)
    assert rolling_confidence([0.2, 0.5, 0.9]) == pytest.approx(expected)
    assert rolling_confidence([]) == 1.0


def test_plan_confidence_follows_the_order_of_scoring(
    plans: PlanService, clock: FixedClock
) -> None:
    """Tasks scored out of plan order weigh by when they were scored."""
    plan_id = plans.create("p", "g", flat(3)).plan.id
    for task_id, score in (("t2", 0.9), ("t0", 0.3), ("t1", 0.6)):
        clock.advance(1)
        result = plans.record(plan_id, task_id, output_score=score)
    assert result.confidence == pytest.approx(rolling_confidence([0.9, 0.3, 0.6]))


def test_rescoring_moves_a_task_to_the_newest_place(plans: PlanService, clock: FixedClock) -> None:
    """A task scored again counts once, as the newest score."""
    plan_id = plans.create("p", "g", flat(2)).plan.id
    plans.record(plan_id, "t0", output_score=0.2, mark_done=False)
    clock.advance(1)
    plans.record(plan_id, "t1", output_score=0.8, mark_done=False)
    clock.advance(1)
    result = plans.record(plan_id, "t0", output_score=0.4, mark_done=False)
    assert result.confidence == pytest.approx(rolling_confidence([0.8, 0.4]))


def test_scores_at_the_same_instant_are_ordered_by_sequence(plans: PlanService) -> None:
    """With a clock that does not move, the scoring sequence breaks the tie."""
    plan_id = plans.create("p", "g", flat(3)).plan.id
    for task_id, score in (("t1", 1.0), ("t2", 0.0), ("t0", 0.5)):
        result = plans.record(plan_id, task_id, output_score=score, mark_done=False)
    assert result.confidence == pytest.approx(rolling_confidence([1.0, 0.0, 0.5]))


def test_zero_output_score_fails_the_task_and_lowers_confidence(plans: PlanService) -> None:
    """An output score of 0.0 is recorded as a score: the task fails, the plan drops to 0."""
    plan_id = plans.create("p", "g", flat(2)).plan.id
    result = plans.record(plan_id, "t0", output_score=0.0)
    assert (result.task.status, result.task.confidence, result.confidence) == ("failed", 0.0, 0.0)
    assert result.needs_replan is True


def test_mark_done_compares_task_confidence_with_the_threshold(plans: PlanService) -> None:
    """done when confidence >= threshold, failed below; the boundary itself is done."""
    plan_id = plans.create("p", "g", flat(2), threshold=0.5).plan.id
    assert plans.record(plan_id, "t0", output_score=0.5).task.status == "done"
    assert plans.record(plan_id, "t1", output_score=0.49).task.status == "failed"


def test_a_prompt_score_alone_leaves_the_status(plans: PlanService) -> None:
    """Only an output score completes a task; a prompt score only scores it."""
    plan_id = plans.create("p", "g", flat(1)).plan.id
    result = plans.record(plan_id, "t0", prompt_score=0.9)
    assert (result.task.status, result.task.confidence) == ("pending", 0.9)


def test_record_reports_what_changed(plans: PlanService) -> None:
    """The changes list names every field that moved, old and new."""
    plan_id = plans.create("p", "g", flat(1)).plan.id
    result = plans.record(plan_id, "t0", prompt_score=1.0, output_score=0.0)
    assert result.changes == (
        "prompt_score: none -> 1.000",
        "output_score: none -> 0.000",
        "task_confidence: none -> 0.350",
        "status: pending -> failed",
        "plan_confidence: 1.000 -> 0.350",
        "needs_replan: false -> true",
    )


def test_the_confidence_window_matches_the_full_formula(tmp_path: Path, clock: FixedClock) -> None:
    """With 300 scored tasks (more than the 200 read) the result equals the full sum to 1e-12."""
    store, _ = open_store(tmp_path / "big.db", clock)
    plans = PlanService(store, clock, limits=PlanLimits(max_tasks=300))
    plan_id = plans.create("p", "g", flat(300)).plan.id
    scores = [((i * 37) % 101) / 100 for i in range(300)]
    for i, s in enumerate(scores):
        clock.advance(1)
        result = plans.record(plan_id, f"t{i}", output_score=s, mark_done=False)
    store.close()
    assert math.isclose(result.confidence, rolling_confidence(scores), abs_tol=1e-12)


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -0.1, 1.5, True, "0.5"])
def test_scores_must_be_finite_and_within_unit_range(plans: PlanService, bad: object) -> None:
    """NaN, infinities, out-of-range values, booleans and strings are InvalidInput."""
    plan_id = plans.create("p", "g", flat(1)).plan.id
    with pytest.raises(InvalidInput, match="output_score"):
        plans.record(plan_id, "t0", output_score=bad)  # type: ignore[arg-type]


def test_a_cycle_is_refused_naming_its_path(plans: PlanService, store: SqliteStore) -> None:
    """a -> b -> c -> a is an InvalidInput that spells out the cycle; nothing is written."""
    tasks = [
        {"id": "a", "title": "A", "depends_on": ["b"]},
        {"id": "b", "title": "B", "depends_on": ["c"]},
        {"id": "c", "title": "C", "depends_on": ["a"]},
    ]
    with pytest.raises(InvalidInput, match=r"dependency cycle: a -> b -> c -> a"):
        plans.create("p", "g", tasks)
    assert _count_plans(store) == 0


def test_a_self_dependency_is_a_cycle(plans: PlanService) -> None:
    """A task depending on itself is named as a one-task cycle."""
    with pytest.raises(InvalidInput, match=r"cycle: a -> a"):
        plans.create("p", "g", [{"id": "a", "title": "A", "depends_on": ["a"]}])


def test_an_unknown_dependency_is_refused_naming_it(plans: PlanService) -> None:
    """The error names the task and the id it cannot find."""
    with pytest.raises(InvalidInput, match=r"task 'a' depends on unknown task 'zz'") as caught:
        plans.create("p", "g", [{"id": "a", "title": "A", "depends_on": ["zz"]}])
    assert caught.value.field == "tasks.a.depends_on"


def test_duplicate_task_ids_are_refused(plans: PlanService) -> None:
    """Two tasks with one id is InvalidInput."""
    with pytest.raises(InvalidInput, match="appears twice"):
        plans.create("p", "g", [{"id": "a", "title": "A"}, {"id": "a", "title": "B"}])


@pytest.mark.parametrize(
    ("task", "field"),
    [
        ({"id": "has space", "title": "x"}, "tasks[0].id"),
        ({"id": "x" * 65, "title": "x"}, "tasks[0].id"),
        ({"id": "a", "title": "x" * 201}, "tasks[0].title"),
        ({"id": "a", "title": ""}, "tasks[0].title"),
        ({"id": "a", "title": "x", "description": "d" * 4001}, "tasks[0].description"),
        ({"id": "a", "title": "x", "colour": "red"}, "tasks[0].colour"),
        ({"id": "a", "title": "x", "acceptance": {"type": "nope"}}, "tasks[0].acceptance"),
    ],
)
def test_bad_task_fields_are_named(
    plans: PlanService, store: SqliteStore, task: dict[str, Any], field: str
) -> None:
    """Each violation is an InvalidInput whose field points at it; nothing is written."""
    with pytest.raises(InvalidInput) as caught:
        plans.create("p", "g", [task])
    assert caught.value.field is not None
    assert caught.value.field.startswith(field)
    assert _count_plans(store) == 0


def test_too_many_tasks_are_refused(store: SqliteStore, clock: FixedClock) -> None:
    """More tasks than the limit (500 by default) is InvalidInput naming the limit."""
    plans = PlanService(store, clock)
    with pytest.raises(InvalidInput, match="at most 500"):
        plans.create("p", "g", flat(501))


def test_goal_threshold_and_policy_are_checked(plans: PlanService) -> None:
    """An empty goal, a threshold outside [0, 1] and an unknown policy are refused."""
    with pytest.raises(InvalidInput, match="goal"):
        plans.create("p", "", flat(1))
    with pytest.raises(InvalidInput, match="confidence_threshold"):
        plans.create("p", "g", flat(1), threshold=1.2)
    with pytest.raises(InvalidInput, match="replan_policy"):
        plans.create("p", "g", flat(1), replan_policy="never")  # type: ignore[arg-type]


def test_acceptance_specs_are_stored_normalised(plans: PlanService) -> None:
    """A valid acceptance spec is validated by the factory and kept on the task."""
    spec = {"type": "regex", "required": ["ok"]}
    status = plans.create("p", "g", [{"id": "a", "title": "A", "acceptance": spec}])
    stored = status.tasks[0].acceptance
    assert stored is not None
    assert stored["type"] == "regex"


def test_unknown_ids_are_not_found_never_complete(plans: PlanService) -> None:
    """Unknown plan or task ids raise PlanNotFound / TaskNotFound."""
    plan_id = plans.create("p", "g", flat(1)).plan.id
    with pytest.raises(PlanNotFound):
        plans.next_task("pl_doesnotexist")
    with pytest.raises(PlanNotFound):
        plans.status("pl_doesnotexist")
    with pytest.raises(PlanNotFound):
        plans.record("pl_doesnotexist", "t0", output_score=1.0)
    with pytest.raises(TaskNotFound):
        plans.record(plan_id, "nope", output_score=1.0)


def test_plan_ids_are_global_across_projects(plans: PlanService) -> None:
    """A plan made in one project is found by id from anywhere, with its project kept."""
    plan_id = plans.create("project-a", "g", flat(1)).plan.id
    assert plan_id.startswith("pl_")
    assert len(plan_id) == 15
    assert plans.get(plan_id).project == "project-a"


@given(st.lists(st.floats(min_value=0.0, max_value=1.0), min_size=1, max_size=60))
def test_rolling_confidence_stays_between_the_extremes(scores: list[float]) -> None:
    """A weighted mean never leaves [min, max] of its inputs."""
    value = rolling_confidence(scores)
    assert min(scores) - 1e-12 <= value <= max(scores) + 1e-12


def test_typed_task_specs_and_patches_are_accepted(plans: PlanService) -> None:
    """TaskSpec and TaskPatch work as well as their JSON forms."""
    status = plans.create(
        "p", "g", [TaskSpec(id="a", title="A", acceptance={"type": "length", "min_words": 1})]
    )
    plan_id = status.plan.id
    result = plans.replan(
        plan_id, "loosen", update=[TaskPatch(id="a", title="A2", clear_acceptance=True)]
    )
    (task,) = result.tasks
    assert (task.title, task.acceptance) == ("A2", None)


def test_recording_reads_what_scoring_needs_once_and_agrees_with_a_fresh_read(
    plans: PlanService, store: Store, clock: FixedClock
) -> None:
    """The rolling confidence and the plan's ``done`` come from facts read with the task
    (before it is written); after every record they equal what a fresh read computes,
    also when the clock steps back and tasks are recorded again, out of order."""
    rng = random.Random(7)
    plan_id = plans.create("p", "g", flat(6)).plan.id
    for _ in range(60):
        clock.advance(rng.choice((-2.0, 0.0, 0.5, 3.0)))
        task_id = f"t{rng.randrange(6)}"
        if rng.random() < 0.2:
            plans.update_task(plan_id, task_id, status="skipped")
            continue
        res = plans.record(plan_id, task_id, output_score=round(rng.random(), 3))
        with store.read() as tx:
            fresh = rolling_confidence(tx.recent_confidences(plan_id, WINDOW)[::-1])
            shown = finished_plan(tx.get_plan(plan_id), tx.count_tasks(plan_id))  # type: ignore[arg-type]
        assert res.confidence == fresh == res.plan.confidence
        assert res.plan.status == shown.status


def test_recording_a_score_reads_the_plan_and_the_task_in_one_statement(tmp_path: Path) -> None:
    """BEGIN IMMEDIATE, the one read, the task, the plan, the journal entries, COMMIT."""
    clock = FixedClock()
    store, _ = open_store(tmp_path / "trace.db", clock)
    assert isinstance(store, SqliteStore)
    plans = PlanService(store, clock)
    plan_id = plans.create("p", "g", flat(3)).plan.id
    seen: list[str] = []
    with store.glance() as tx:  # this thread's connection, outside any transaction
        tx._conn.set_trace_callback(seen.append)
    plans.record(plan_id, "t1", output_score=0.9)
    store.close()
    words = [" ".join(s.split()[:3]) for s in seen]
    assert words == [
        "BEGIN IMMEDIATE",
        "SELECT p.*, t.plan_id",
        "UPDATE tasks SET",
        "UPDATE plans SET",
        "INSERT INTO journal",
        "COMMIT",
    ]
