"""Agent-driven loops: start, step, end, kept in the store across restarts."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from loopcore.clock import FixedClock
from loopcore.errors import Conflict, InvalidInput, LoopNotFound, PlanNotFound
from loopcore.evaluators.options import FactoryOptions
from loopcore.loops.sessions import LoopService
from loopcore.loops.stopping import StopConfig
from loopcore.plans.service import PlanService
from loopcore.store import SqliteStore, open_store
from loopcore.store.protocol import WouldWait

SPEC = {"type": "regex", "required": ["alpha", "beta", "gamma", "delta"]}
CONFIG = StopConfig(
    max_iterations=5, quality_threshold=1.0, convergence_delta=0.0, no_progress_window=5
)


def test_an_invalid_spec_is_refused_at_start(loops: LoopService, store: SqliteStore) -> None:
    """A bad evaluator fails loop_start with a field under 'evaluator'; no loop is stored."""
    with pytest.raises(InvalidInput) as caught:
        loops.start("p", "goal", {"type": "regex", "required": ["("]})
    assert caught.value.field is not None
    assert caught.value.field.startswith("evaluator")
    with store.read() as tx:
        assert tx.usage_counts("p").loops == {}


def test_a_step_below_threshold_continues_with_feedback(loops: LoopService) -> None:
    """Half the required words: score 0.5, decision continue, feedback names what is missing."""
    loop = loops.start("p", "goal", SPEC, config=CONFIG)
    result = loops.step(loop.id, "alpha beta")
    assert (result.iteration, result.decision, result.exit_reason) == (1, "continue", None)
    assert result.evaluation.score == pytest.approx(0.5)
    assert result.feedback == result.evaluation.feedback
    assert "gamma" in result.feedback


def test_reaching_the_threshold_stops(loops: LoopService) -> None:
    """A perfect output stops the loop with quality_threshold and that output as best."""
    loop = loops.start("p", "goal", SPEC, config=CONFIG)
    loops.step(loop.id, "alpha")
    result = loops.step(loop.id, "alpha beta gamma delta")
    assert (result.decision, result.exit_reason, result.best_iteration) == (
        "stop",
        "quality_threshold",
        2,
    )
    assert result.best_output == "alpha beta gamma delta"


def test_max_iterations_stops_with_the_best_output(loops: LoopService) -> None:
    """After max_iterations the loop stops and hands back the best output, not the last."""
    loop = loops.start(
        "p",
        "goal",
        SPEC,
        config=StopConfig(max_iterations=3, convergence_delta=0.0, no_progress_window=5),
    )
    loops.step(loop.id, "alpha")
    loops.step(loop.id, "alpha beta gamma")
    result = loops.step(loop.id, "alpha beta")
    assert (result.decision, result.exit_reason) == ("stop", "max_iterations")
    assert (result.best_iteration, result.best_output) == (2, "alpha beta gamma")


def test_stepping_a_stopped_loop_is_a_conflict(loops: LoopService) -> None:
    """Once stopped, another step is refused as a stopped loop (the server adds: call loop_end)."""
    loop = loops.start("p", "goal", SPEC, config=CONFIG)
    loops.step(loop.id, "alpha beta gamma delta")
    with pytest.raises(Conflict, match="already stopped") as err:
        loops.step(loop.id, "more")
    assert err.value.kind == "loop_stopped"


def test_stepping_a_closed_loop_is_a_conflict(loops: LoopService) -> None:
    """A closed loop takes no steps."""
    loop = loops.start("p", "goal", SPEC, config=CONFIG)
    loops.end(loop.id)
    with pytest.raises(Conflict, match="closed"):
        loops.step(loop.id, "alpha")


def test_end_is_idempotent(loops: LoopService) -> None:
    """A second end returns the same summary and records nothing twice."""
    loop = loops.start("p", "goal", SPEC, config=CONFIG)
    loops.step(loop.id, "alpha beta")
    first = loops.end(loop.id, outcome="accepted")
    second = loops.end(loop.id, outcome="something else")
    assert first == second
    assert (first.iterations, first.best_score, first.outcome, first.converged) == (
        1,
        0.5,
        "accepted",
        False,
    )


def test_end_teaches_the_priors_once(loops: LoopService, store: SqliteStore) -> None:
    """Closing a loop folds one observation into the (task type, model) rows."""
    loop = loops.start("p", "goal", SPEC, task_type="docs", model="m1", config=CONFIG)
    loops.step(loop.id, "alpha")
    loops.step(loop.id, "alpha beta gamma delta")
    loops.end(loop.id)
    loops.end(loop.id)
    iterations, outcomes = store.load_prior_stats()
    assert [(s.task_type, s.model, s.iteration, s.score.n) for s in iterations] == [
        ("docs", "m1", 1, 1),
        ("docs", "m1", 2, 1),
    ]
    assert [(o.loops, o.converged) for o in outcomes] == [(1, 1)]


def test_a_loop_without_steps_teaches_nothing(loops: LoopService, store: SqliteStore) -> None:
    """Ending a loop that never stepped records no observation."""
    loop = loops.start("p", "goal", SPEC)
    summary = loops.end(loop.id)
    assert (summary.iterations, summary.best_score, summary.exit_reason) == (0, None, "ended")
    assert store.load_prior_stats() == ([], [])


def test_a_loop_tied_to_a_task_records_its_best_score(
    store: SqliteStore, clock: FixedClock
) -> None:
    """end() writes the best score as the task's output score and marks it done or failed."""
    plans = PlanService(store, clock)
    plan_id = plans.create("p", "g", [{"id": "a", "title": "A"}]).plan.id
    loops = LoopService(store, clock)
    loop = loops.start("p", "goal", SPEC, config=CONFIG, plan_id=plan_id, task_id="a")
    loops.step(loop.id, "alpha beta gamma")
    summary = loops.end(loop.id)
    task = plans.task(plan_id, "a")
    assert (task.output_score, task.status) == (0.75, "done")
    assert "recorded output score 0.750" in summary.task_note
    scored = [e for e in plans.journal(plan_id) if e.kind == "scored"]
    assert scored[0].detail["source"] == f"loop {loop.id}"


def test_a_deleted_plan_does_not_stop_the_loop_from_closing(
    store: SqliteStore, clock: FixedClock
) -> None:
    """If the plan vanished, end still closes the loop and says why nothing was recorded."""
    plans = PlanService(store, clock)
    plan_id = plans.create("p", "g", [{"id": "a", "title": "A"}]).plan.id
    loops = LoopService(store, clock)
    loop = loops.start("p", "goal", SPEC, plan_id=plan_id, task_id="a")
    loops.step(loop.id, "alpha")
    plans.delete(plan_id)
    summary = loops.end(loop.id)
    assert summary.task_note.startswith("not recorded on the task: no plan with id")
    assert loops.status(loop.id).loop.status == "closed"


def test_a_loop_survives_a_restart_and_resumes(tmp_path: Path, clock: FixedClock) -> None:
    """Steps are checkpointed: a new store on the same file continues the same loop."""
    store, _ = open_store(tmp_path / "r.db", clock)
    loop = LoopService(store, clock).start("p", "goal", SPEC, config=CONFIG)
    LoopService(store, clock).step(loop.id, "alpha")
    store.close()
    store, report = open_store(tmp_path / "r.db", clock)
    loops = LoopService(store, clock)
    view = loops.status(loop.id)
    assert (report.open_loops, view.scores, view.config) == (1, (0.25,), CONFIG)
    assert "beta" in view.last_feedback
    assert [lp.id for lp in loops.list_open("p")] == [loop.id]
    result = loops.step(loop.id, "alpha beta gamma delta")
    store.close()
    assert (result.iteration, result.decision) == (2, "stop")


def test_list_open_includes_stopped_but_not_closed(loops: LoopService) -> None:
    """Open and stopped loops are listed (stopped ones still need end); closed are not."""
    open_loop = loops.start("p", "g", SPEC, config=CONFIG)
    stopped = loops.start("p", "g", SPEC, config=CONFIG)
    loops.step(stopped.id, "alpha beta gamma delta")
    closed = loops.start("p", "g", SPEC, config=CONFIG)
    loops.end(closed.id)
    loops.start("other", "g", SPEC)
    assert {lp.id for lp in loops.list_open("p")} == {open_loop.id, stopped.id}


def test_time_budget_uses_the_injected_clock(loops: LoopService, clock: FixedClock) -> None:
    """Elapsed time comes from the clock: past timeout_s the loop stops with timeout."""
    loop = loops.start(
        "p", "g", SPEC, config=StopConfig(timeout_s=60, max_iterations=10, convergence_delta=0.0)
    )
    clock.advance(61)
    result = loops.step(loop.id, "alpha")
    assert (result.decision, result.exit_reason) == ("stop", "timeout")


def test_tokens_accumulate_across_steps(loops: LoopService) -> None:
    """tokens_used adds up and a token budget stops the loop."""
    loop = loops.start(
        "p", "g", SPEC, config=StopConfig(max_tokens=100, max_iterations=10, convergence_delta=0.0)
    )
    assert loops.step(loop.id, "alpha", tokens_used=60).tokens_used == 60
    result = loops.step(loop.id, "alpha beta", tokens_used=60)
    assert (result.tokens_used, result.exit_reason) == (120, "token_budget")


def test_unknown_loop_ids_are_not_found(loops: LoopService) -> None:
    """step, end and status on an unknown id raise LoopNotFound."""
    for call in (
        lambda: loops.step("lp_nope", "x"),
        lambda: loops.end("lp_nope"),
        lambda: loops.status("lp_nope"),
    ):
        with pytest.raises(LoopNotFound):
            call()


def test_start_checks_plan_and_task_ids(loops: LoopService) -> None:
    """Only one of plan_id/task_id is InvalidInput; an unknown plan is not found."""
    with pytest.raises(InvalidInput, match="both"):
        loops.start("p", "g", SPEC, plan_id="pl_x")
    with pytest.raises(PlanNotFound):
        loops.start("p", "g", SPEC, plan_id="pl_x", task_id="a")


def test_every_step_is_journalled(loops: LoopService, store: SqliteStore) -> None:
    """loop_started, one loop_step per step, loop_closed."""
    loop = loops.start("p", "g", SPEC, config=CONFIG)
    loops.step(loop.id, "alpha")
    loops.step(loop.id, "alpha beta gamma delta")
    loops.end(loop.id)
    with store.read() as tx:
        entries = tx.read_journal(loop_id=loop.id)
    assert [e.kind for e in entries] == ["loop_started", "loop_step", "loop_step", "loop_closed"]
    assert entries[2].detail["stop"] is True


# --- extending a stopped loop ----------------------------------------------------------------

PLATEAU = StopConfig(max_iterations=10, quality_threshold=1.0, convergence_delta=0.05)


def _plateaued(loops: LoopService) -> str:
    loop = loops.start("p", "goal", SPEC, config=PLATEAU)
    loops.step(loop.id, "alpha")
    loops.step(loop.id, "alpha beta x")
    loops.step(loop.id, "alpha beta y")
    result = loops.step(loop.id, "alpha beta w")
    assert (result.iteration, result.exit_reason) == (4, "plateau")
    return loop.id


def test_a_plateaued_loop_extended_keeps_its_trajectory(loops: LoopService) -> None:
    """After extend the loop is open with its scores, best and baseline; the next steps count on."""
    loop_id = _plateaued(loops)
    before = loops.status(loop_id)
    reopened = loops.extend(loop_id, more_iterations=3)
    assert (reopened.status, reopened.exit_reason, reopened.iterations) == ("open", None, 4)
    assert reopened.config["max_iterations"] == 13
    step = loops.step(loop_id, "alpha beta z")
    assert (step.iteration, step.decision) == (5, "continue")
    done = loops.step(loop_id, "alpha beta gamma delta")
    assert (done.iteration, done.exit_reason, done.best_iteration) == (6, "quality_threshold", 6)
    after = loops.status(loop_id)
    assert after.scores[:4] == before.scores
    summary = loops.end(loop_id)
    assert summary.iterations == 6
    assert summary.converged is True


def test_a_passed_or_closed_loop_cannot_be_extended(loops: LoopService) -> None:
    """A loop that reached its threshold, and any closed loop, refuse extend with what to do."""
    loop = loops.start("p", "goal", SPEC, config=CONFIG)
    loops.step(loop.id, "alpha beta gamma delta")
    with pytest.raises(Conflict, match="nothing to extend"):
        loops.extend(loop.id, more_iterations=2)
    loops.end(loop.id)
    with pytest.raises(Conflict, match="closed"):
        loops.extend(loop.id, more_iterations=2)
    opened = loops.start("p", "goal", SPEC, config=CONFIG)
    with pytest.raises(Conflict, match="still open"):
        loops.extend(opened.id, more_iterations=2)


def test_a_budget_stop_needs_more_of_that_budget(loops: LoopService) -> None:
    """Stopped on tokens: extend without more_tokens is refused; with them it reopens."""
    loop = loops.start(
        "p",
        "goal",
        SPEC,
        config=StopConfig(max_iterations=10, quality_threshold=1.0, max_tokens=100),
    )
    assert loops.step(loop.id, "alpha", tokens_used=120).exit_reason == "token_budget"
    with pytest.raises(InvalidInput) as caught:
        loops.extend(loop.id, more_iterations=2)
    assert caught.value.field == "more_tokens"
    reopened = loops.extend(loop.id, more_iterations=2, more_tokens=500)
    assert reopened.config["max_tokens"] == 620
    assert loops.step(loop.id, "alpha beta", tokens_used=10).decision == "continue"


def test_extend_checks_its_amounts(loops: LoopService) -> None:
    """Bad amounts are refused naming the field; the iteration cap is kept."""
    loop_id = _plateaued(loops)
    for kwargs, field in (
        ({"more_iterations": 0}, "more_iterations"),
        ({"more_iterations": True}, "more_iterations"),
        ({"more_iterations": 1, "more_tokens": 0}, "more_tokens"),
        ({"more_iterations": 1, "more_seconds": -1.0}, "more_seconds"),
    ):
        with pytest.raises(InvalidInput) as caught:
            loops.extend(loop_id, **kwargs)
        assert caught.value.field == field
    with pytest.raises(Conflict, match="cap is 100"):
        loops.extend(loop_id, more_iterations=95)
    with pytest.raises(LoopNotFound):
        loops.extend("lp_missing", more_iterations=1)


def test_explain_tells_the_loop_in_sentences(loops: LoopService) -> None:
    """Start, steps, the stop, the extension and the close each read as one sentence."""
    loop_id = _plateaued(loops)
    loops.extend(loop_id, more_iterations=2)
    loops.end(loop_id, "good enough")
    _, lines = loops.explain(loop_id)
    text = "\n".join(lines)
    assert "started (task type general): aims at 1.000 within 10 iterations" in text
    assert "iteration 1 scored 0.250; going on" in text
    assert "iteration 4 scored 0.500 and stopped (plateau)" in text
    assert "extended after plateau at iteration 4: now up to 12 iterations" in text
    assert "closed after 4 iterations (ended): best 0.500, did not converge" in text
    assert len(lines) == 7


def test_an_inline_step_of_a_loop_that_runs_a_program_gives_up_before_anything(
    store: SqliteStore, clock: FixedClock, tmp_path: Path
) -> None:
    """Tried where nothing may block, a step whose evaluator runs a command (or asks a model)
    raises WouldWait once the loop is read: nothing is evaluated or written; a loop whose
    evaluator only computes steps inline as it would anywhere."""
    options = FactoryOptions(allow_commands=frozenset({sys.executable}), project_root=tmp_path)
    loops = LoopService(store, clock, factory_options=options)
    run = {"type": "command", "run": [sys.executable, "-c", "print('1 passed')"]}
    command = loops.start("p", "goal", run, config=CONFIG)
    with pytest.raises(WouldWait):
        loops.step(command.id, "ran", inline=True)
    assert loops.status(command.id).scores == ()
    computed = loops.start("p", "goal", SPEC, config=CONFIG)
    result = loops.step(computed.id, "alpha beta", inline=True)
    assert result.iteration == 1 and result.evaluation.score == pytest.approx(0.5)
