"""Prompt history: intercepts, their statistics, feedback, usage counts."""

from __future__ import annotations

import pytest

from loopcore.clock import FixedClock
from loopcore.errors import InvalidInput, NotFound, PlanNotFound, StoreError
from loopcore.history import HistoryService, InterceptRecord, _WriteBehind
from loopcore.limits import LIMITS
from loopcore.plans.service import PlanService
from loopcore.store import SqliteStore


def record(
    history: HistoryService, score: float, grade: str = "B", project: str = "p", **dims: float
) -> str:
    return history.record_intercept(
        project, f"hash{score}", score, grade, dims or {"specificity": score}, "proceed", None
    )


def test_an_intercept_is_stored_without_its_text_by_default(history: HistoryService) -> None:
    """With prompt_text None only the hash and scores are kept."""
    history_id = history.record_intercept("p", "abc", 0.7, "B", {"context": 0.5}, "clarify", None)
    stored = history.get(history_id)
    assert history_id.startswith("ih_")
    assert (stored.prompt_hash, stored.score, stored.route, stored.prompt_text) == (
        "abc",
        0.7,
        "clarify",
        None,
    )
    assert dict(stored.dimensions) == {"context": 0.5}


def test_the_prompt_text_is_kept_when_given(history: HistoryService) -> None:
    """A caller that opted in stores the text."""
    history_id = history.record_intercept("p", "abc", 0.7, "B", {}, "proceed", "fix the bug")
    assert history.get(history_id).prompt_text == "fix the bug"


def test_an_intercept_on_a_task_sets_its_prompt_score(
    store: SqliteStore, history: HistoryService, clock: FixedClock
) -> None:
    """With plan and task ids the score lands on the task in the same transaction."""
    plans = PlanService(store, clock)
    plan_id = plans.create("p", "g", [{"id": "a", "title": "A"}]).plan.id
    history.record_intercept("p", "h", 0.6, "C", {}, "clarify", None, plan_id=plan_id, task_id="a")
    task = plans.task(plan_id, "a")
    assert (task.prompt_score, task.confidence, task.status) == (0.6, 0.6, "pending")


def test_an_intercept_on_an_unknown_plan_stores_nothing(history: HistoryService) -> None:
    """PlanNotFound, and the history row is rolled back with it."""
    with pytest.raises(PlanNotFound):
        history.record_intercept(
            "p", "h", 0.6, "C", {}, "clarify", None, plan_id="pl_zz", task_id="a"
        )
    assert history.recent_intercepts("p") == ()


def test_recent_intercepts_are_newest_first_and_per_project(history: HistoryService) -> None:
    """The window holds the newest rows of the asked project only."""
    ids = [record(history, s / 10) for s in range(5)]
    record(history, 0.9, project="other")
    assert [r.id for r in history.recent_intercepts("p", window=3)] == ids[::-1][:3]


def test_prompt_stats_mean_trend_grades_and_weakest(history: HistoryService) -> None:
    """Trend is the newer half's mean minus the older half's; weakest dimensions come first."""
    for score, grade in ((0.2, "D"), (0.4, "C"), (0.6, "B"), (0.8, "B")):
        history.record_intercept(
            "p",
            "h",
            score,
            grade,
            {"context": score, "acceptance": 0.1, "scope": 0.9},
            "proceed",
            None,
        )
    stats = history.prompt_stats("p", window=50)
    assert stats.count == 4
    assert stats.mean == pytest.approx(0.5)
    assert stats.trend == pytest.approx(0.4)
    assert dict(stats.grades) == {"B": 2, "C": 1, "D": 1}
    assert [name for name, _ in stats.weakest] == ["acceptance", "context", "scope"]


def test_prompt_stats_read_a_stored_ambiguity_as_clarity(history: HistoryService) -> None:
    """Rows stored before the rename count under clarity, with the rows stored after."""
    history.record_intercept("p", "h1", 0.5, "C", {"ambiguity": 0.2}, "clarify", None)
    history.record_intercept("p", "h2", 0.7, "B", {"clarity": 0.6}, "proceed", None)
    stats = history.prompt_stats("p")
    assert dict(stats.dimensions) == {"clarity": pytest.approx(0.4)}
    assert [name for name, _ in stats.weakest] == ["clarity"]


def test_prompt_stats_of_an_empty_project(history: HistoryService) -> None:
    """No intercepts: count 0, no mean, zero trend."""
    stats = history.prompt_stats("nobody")
    assert (stats.count, stats.mean, stats.trend, stats.weakest) == (0, None, 0.0, ())


def test_prompt_stats_respects_the_window(history: HistoryService) -> None:
    """Only the newest `window` intercepts count."""
    for score in (0.0, 0.0, 1.0, 1.0):
        record(history, score)
    stats = history.prompt_stats("p", window=2)
    assert (stats.count, stats.mean, stats.trend) == (2, 1.0, 0.0)


def test_feedback_is_stored_apart_from_the_priors(
    history: HistoryService, store: SqliteStore
) -> None:
    """A rating is kept in its own table and the priors stay empty."""
    history_id = record(history, 0.5)
    fb = history.record_feedback(history_id, 4, "fair score")
    assert (fb.history_id, fb.rating, fb.comment) == (history_id, 4, "fair score")
    assert store.load_prior_stats() == ([], [])
    assert history.stats("p").feedback == 1


def test_feedback_on_an_unknown_id_is_not_found(history: HistoryService) -> None:
    """An unknown history id raises NotFound."""
    with pytest.raises(NotFound, match="ih_missing"):
        history.record_feedback("ih_missing", 3)


@pytest.mark.parametrize("rating", [0, 6, 2.5, True])
def test_feedback_rating_must_be_one_to_five(history: HistoryService, rating: object) -> None:
    """Ratings outside 1..5 (or not integers) are InvalidInput."""
    history_id = record(history, 0.5)
    with pytest.raises(InvalidInput, match="rating"):
        history.record_feedback(history_id, rating)  # type: ignore[arg-type]


def test_a_long_comment_is_refused(history: HistoryService) -> None:
    """Comments are capped at 2,000 characters."""
    history_id = record(history, 0.5)
    with pytest.raises(InvalidInput, match="comment"):
        history.record_feedback(history_id, 3, "x" * 2001)


def test_intercept_fields_are_checked(history: HistoryService) -> None:
    """A score outside [0, 1] or a non-numeric dimension is InvalidInput naming it."""
    with pytest.raises(InvalidInput, match="score"):
        history.record_intercept("p", "h", 1.5, "A", {}, "proceed", None)
    with pytest.raises(InvalidInput, match=r"dimensions\.context"):
        history.record_intercept("p", "h", 0.5, "A", {"context": float("nan")}, "proceed", None)


def test_usage_stats_count_per_project(
    store: SqliteStore, history: HistoryService, clock: FixedClock
) -> None:
    """Plans, tasks by status, intercepts and feedback are counted for one project only."""
    plans = PlanService(store, clock)
    plan_id = plans.create("p", "g", [{"id": "a", "title": "A"}, {"id": "b", "title": "B"}]).plan.id
    plans.record(plan_id, "a", output_score=0.9)
    plans.create("other", "g", [{"id": "a", "title": "A"}])
    record(history, 0.5)
    stats = history.stats("p")
    assert (dict(stats.plans), dict(stats.tasks)) == ({"active": 1}, {"done": 1, "pending": 1})
    assert (stats.intercepts, stats.feedback, dict(stats.loops)) == (1, 0, {})


def test_history_keeps_prompts_up_to_the_intercept_bound(history: HistoryService) -> None:
    """History takes what intercept takes (LIMITS.prompt_chars) and refuses one more."""
    at_bound = "x" * LIMITS.prompt_chars
    history_id = history.record_intercept("p", "abc", 0.7, "B", {}, "proceed", at_bound)
    assert history.get(history_id).prompt_text == at_bound
    with pytest.raises(InvalidInput) as err:
        history.record_intercept("p", "abc", 0.7, "B", {}, "proceed", at_bound + "x")
    assert err.value.field == "prompt_text" and str(LIMITS.prompt_chars) in str(err.value)


def test_intercepts_written_behind_are_read_back_at_once(history: HistoryService) -> None:
    """wait=False returns before the insert; every read waits for the queued rows."""
    ids = [
        history.record_intercept("p", f"h{i}", 0.5, "C", {}, "clarify", None, wait=False)
        for i in range(40)
    ]
    feedback = history.record_feedback(ids[-1], 4)
    stats = history.prompt_stats("p", window=100)
    history.close()
    assert feedback.history_id == ids[-1]
    assert stats.count == 40 and history.stats("p").intercepts == 40


def test_close_writes_what_is_queued(store: SqliteStore, clock: FixedClock) -> None:
    """Closing the service lands every queued intercept; a new service finds them."""
    writer = HistoryService(store, clock)
    ids = [
        writer.record_intercept("p", f"h{i}", 0.5, "C", {}, "clarify", None, wait=False)
        for i in range(25)
    ]
    writer.close()
    reader = HistoryService(store, clock)
    assert [r.id for r in reader.recent_intercepts("p", 100)] == ids[::-1]


def test_an_intercept_on_a_task_is_never_written_behind(history: HistoryService) -> None:
    """With plan and task ids the write is immediate, so a bad id is refused to the caller."""
    with pytest.raises(PlanNotFound):
        history.record_intercept(
            "p", "h", 0.5, "C", {}, "clarify", None, plan_id="pl_x", task_id="a", wait=False
        )
    assert history.stats("p").intercepts == 0


def test_rows_queued_together_land_in_one_transaction(
    store: SqliteStore, clock: FixedClock
) -> None:
    """The writer gathers what is queued within its linger into one commit, in order."""
    commits: list[int] = []
    history = HistoryService(store, clock)
    write = history._insert_batch

    def counted(records: list[InterceptRecord]) -> None:
        write(records)
        commits.append(len(records))

    history._behind._write = counted
    ids = [
        history.record_intercept("p", f"h{i}", 0.5, "C", {}, "clarify", None, wait=False)
        for i in range(60)
    ]
    history.flush()
    assert [r.id for r in history.recent_intercepts("p", 100)] == ids[::-1]
    assert sum(commits) == 60 and len(commits) <= 2, commits
    history.close()


def test_a_row_that_fails_loses_only_itself() -> None:
    """A failed batch is written again row by row: the others land, in order."""
    landed: list[int] = []

    def write(rows: list[int]) -> None:
        if 3 in rows:
            raise StoreError("disk says no")
        landed.extend(rows)

    behind = _WriteBehind[int](write, linger=60.0)
    for row in range(1, 6):
        behind.submit(row)
    behind.flush()  # with a 60 s linger: returns at once, or the test times out
    behind.submit(6)
    behind.close()
    assert landed == [1, 2, 4, 5, 6]
