"""What the pages show, read through the Store protocol from a seeded database."""

from __future__ import annotations

from loopcore.store import SqliteStore
from server.web import views
from tests.server.web.seed import OTHER_PROJECT, PROJECT, Seeded


def test_projects_are_listed_from_every_kind_of_record(store: SqliteStore, seeded: Seeded) -> None:
    """Both seeded projects appear."""
    assert views.projects(store) == [PROJECT, OTHER_PROJECT]


def test_project_view_counts_tasks_per_plan(store: SqliteStore, seeded: Seeded) -> None:
    """The plan row counts finished tasks; both loops are listed."""
    view = views.project_view(store, PROJECT)
    (row,) = view.plans
    assert (row.plan.id, row.finished, row.total) == (seeded.plan_id, 2, 6)
    assert {lp.id for lp in view.loops} == {seeded.loop_id, seeded.bayes_loop_id}


def test_plan_view_has_the_confidence_path_with_the_replan(
    store: SqliteStore, seeded: Seeded
) -> None:
    """1.0 at creation, one value per scoring, the replan after the second scoring."""
    view = views.plan_view(store, seeded.plan_id)
    assert len(view.confidence) == 4 and view.confidence[0] == 1.0
    assert view.confidence[2] < view.plan.threshold < view.confidence[3]
    assert view.replans == ((2, 2),)
    assert view.ready == {"api", "ui"}


def test_plan_view_journal_reads_as_plan_explain(store: SqliteStore, seeded: Seeded) -> None:
    """The journal lines are plan_explain's sentences, oldest first."""
    from loopcore.plans import PlanService

    view = views.plan_view(store, seeded.plan_id)
    assert view.lines == PlanService(store).explain(seeded.plan_id).lines
    assert "replanned (revision 2): docs scored low" in " ".join(view.lines)


def test_loop_view_has_steps_and_threshold(store: SqliteStore, seeded: Seeded) -> None:
    """Three steps, the default threshold, no forecast without a Bayesian exit."""
    view = views.loop_view(store, seeded.loop_id)
    assert view is not None
    assert [s.iteration for s in view.steps] == [1, 2, 3]
    assert (view.threshold, view.loop.exit_reason, view.forecast) == (
        0.85,
        "quality_threshold",
        None,
    )
    assert views.loop_view(store, "lp_nope") is None


def test_intercepts_view_oldest_first_with_ratings_and_priors(
    store: SqliteStore, seeded: Seeded
) -> None:
    """Four prompts oldest first, two ratings, priors for 'code' and 'general'."""
    view = views.intercepts_view(store, PROJECT)
    assert [r.score for r in view.intercepts] == [0.42, 0.55, 0.61, 0.78]
    assert [f.rating for f in view.feedback] == [4, 3]
    assert {p.task_type for p in view.priors} == {"code", "docs", "general"}


def test_the_marker_moves_when_a_plan_changes(store: SqliteStore, seeded: Seeded) -> None:
    """A recorded score changes the change marker."""
    from loopcore.plans import PlanService

    before = views.change_marker(store)
    PlanService(store).record(seeded.plan_id, "api", output_score=0.9)
    assert views.change_marker(store) != before


def test_a_bayesian_exit_shows_its_forecast(store: SqliteStore, seeded: Seeded) -> None:
    """The loop the Bayesian exit stopped has a forecast below the step cost (0.05)."""
    view = views.loop_view(store, seeded.bayes_loop_id)
    assert view is not None and view.loop.exit_reason == "bayesian"
    assert view.forecast is not None and 0.0 <= view.forecast < 0.05


def test_a_task_shows_the_deficiencies_of_its_latest_scoring(
    store: SqliteStore, seeded: Seeded
) -> None:
    """An output its acceptance spec rejects leaves that spec's deficiencies on the task."""
    from loopcore.plans import PlanService

    PlanService(store).record(seeded.plan_id, "api", output="no function here")
    view = views.plan_view(store, seeded.plan_id)
    assert view.deficiencies["api"] and "def" in " ".join(view.deficiencies["api"])
