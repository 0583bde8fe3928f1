"""Agent-driven refinement loops: the agent produces, the server judges and decides.

A loop is a small state machine kept in the store::

    open --step (continue)--> open --step (stop)--> stopped --end--> closed
      \\_____________________________end______________________________/

- ``start`` validates and builds the evaluator at once, so an invalid spec is
  refused there and never at a later step.
- ``step`` scores the output outside any transaction (an evaluator may run a
  command), then checkpoints the step and the state change in one write
  transaction, where the stopping rule (``loopcore.loops.stopping.decide``) decides.
- ``end`` is idempotent: it closes the loop, records what was learned into
  the priors and, for a loop tied to a plan task, the best score as that
  task's output score, all in one transaction; a second call returns the
  same summary. A loop ended before any step teaches the priors nothing.
- a loop whose evaluator runs a command may be stepped with an empty output:
  the run is the evidence, compared test by test with the loop's first and
  latest runs (kept in the step rows, so they survive a restart); such a loop
  never stops for ``repeated_output``.
- ``list_open`` lists loops that are ``open`` or ``stopped`` (waiting for
  ``end``): both survive a restart and can be resumed.
- ``extend`` reopens a loop that stopped on a budget or for lack of progress,
  with more iterations (and tokens or time where those ran out); its scores,
  best output and baseline stay. A loop that passed, or was closed, cannot be
  extended: start a new one.
- ``explain`` tells a loop's journal in sentences.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, replace
from typing import Any

from loopcore.clock import Clock, system_clock
from loopcore.errors import Conflict, InvalidInput, LoopNotFound, NotFound
from loopcore.evaluators.base import EvalContext, Evaluation
from loopcore.evaluators.factory import FactoryOptions, build_evaluator, in_memory, validate_spec
from loopcore.ids import check_project, check_text, new_id, task_ref
from loopcore.limits import LIMITS
from loopcore.loops.model import (
    KEPT_TASK_OUTPUT_CHARS,
    MAX_GOAL_CHARS,
    MAX_OUTCOME_CHARS,
    MAX_OUTPUT_CHARS,
    LoopSummary,
    LoopView,
    StepResult,
    best_iteration,
    build_summary,
    config_from,
    loop_line,
    observation_of,
    reference_steps,
    require_open,
    step_record,
    summary_from,
)
from loopcore.loops.stopping import (
    EXTENDABLE,
    MAX_ITERATIONS_CAP,
    LoopState,
    StopCondition,
    StopConfig,
    decide,
)
from loopcore.plans.acceptance import runs_command, task_goal
from loopcore.plans.operations import apply_scores, load_active_plan, load_plan, load_task
from loopcore.store.protocol import Store, StoreTx, WouldWait
from loopcore.store.records import LoopRecord, StepRecord

__all__ = ["ConditionsFor", "LoopRecord", "LoopService", "LoopSummary", "LoopView", "StepResult"]

ConditionsFor = Callable[[LoopRecord], Sequence[StopCondition]]
"""The extra exit rules of a loop, given the loop as read (its task type and model)."""


def _judged(outputs: tuple[str, ...], loop: LoopRecord) -> tuple[str, ...]:
    """The outputs the repeated-output exit compares.

    A loop whose evaluator runs a command judges the project, not the text the
    agent submits (often empty, or the same note each time): its steps never
    count as repeats; plateau and no-progress still end a stuck loop.
    """
    if not runs_command(loop.evaluator_spec):
        return outputs
    return tuple(f"{i}\n{o}" for i, o in enumerate(outputs, start=1))


class LoopService:
    """Agent-driven loops kept in a store.

    Args:
        store: where loops, steps and priors live.
        clock: the only source of time (elapsed budgets, journal).
        factory_options: how evaluator specs are built.
    """

    def __init__(
        self,
        store: Store,
        clock: Clock = system_clock,
        factory_options: FactoryOptions | None = None,
    ) -> None:
        self._store = store
        self._clock = clock
        self._options = factory_options if factory_options is not None else FactoryOptions()

    def start(
        self,
        project: str,
        goal: str | None,
        evaluator_spec: Mapping[str, Any] | str | None,
        *,
        task_type: str = "general",
        model: str = "",
        config: StopConfig | None = None,
        plan_id: str | None = None,
        task_id: str | None = None,
    ) -> LoopRecord:
        """Open a loop; the evaluator is built now, so a bad spec fails here.

        With ``plan_id`` and ``task_id``, a missing spec or goal is the task's: its
        acceptance spec and the goal its output is scored against.

        Raises:
            InvalidInput: a bad field or evaluator spec (field ``evaluator...``);
                only one of plan_id/task_id.
            PlanNotFound, TaskNotFound. Conflict: the plan is archived.
        """
        check_project(project)
        check_text(task_type, "task_type", min_chars=1, max_chars=LIMITS.label_chars)
        check_text(model, "model", max_chars=LIMITS.model_chars)
        ref = task_ref(plan_id, task_id)
        if ref is not None and (goal is None or evaluator_spec is None):
            goal, evaluator_spec = self._task_defaults(*ref, goal, evaluator_spec)
        if evaluator_spec is None:
            raise InvalidInput(
                "required unless plan_id and task_id name a task with an acceptance spec",
                field="evaluator",
            )
        if goal is None:
            raise InvalidInput("required unless plan_id and task_id name a task", field="goal")
        check_text(goal, "goal", min_chars=1, max_chars=MAX_GOAL_CHARS)
        spec = self._checked_spec(evaluator_spec)
        cfg = config if config is not None else StopConfig()
        now = self._clock()
        loop = LoopRecord(
            id=new_id("lp_"), project=project, goal=goal, evaluator_spec=spec,
            task_type=task_type, model=model, config=asdict(cfg), plan_id=plan_id,
            task_id=task_id, created_at=now, updated_at=now,
        )  # fmt: skip
        with self._store.write() as tx:
            if ref is not None:
                load_active_plan(tx, ref[0])
                load_task(tx, *ref)
            tx.insert_loop(loop)
            detail = {"task_type": task_type, "model": model, "config": asdict(cfg),
                      "plan_id": plan_id, "task_id": task_id}  # fmt: skip
            tx.append_journal(
                "loop_started", at=now, project=project, loop_id=loop.id, detail=detail
            )
        return loop

    def _task_defaults(
        self,
        plan_id: str,
        task_id: str,
        goal: str | None,
        spec: Mapping[str, Any] | str | None,
    ) -> tuple[str, Mapping[str, Any] | str]:
        """The task's goal text and acceptance spec where the caller gave none."""
        with self._store.read() as tx:
            plan = load_plan(tx, plan_id)
            task = load_task(tx, plan_id, task_id)
        if spec is None and task.acceptance is None:
            raise InvalidInput(
                f"task {task_id!r} has no acceptance spec; pass an evaluator", field="evaluator"
            )
        goal = goal if goal is not None else task_goal(plan, task)[:MAX_GOAL_CHARS]
        return goal, spec if spec is not None else dict(task.acceptance or {})

    def _checked_spec(self, evaluator_spec: Mapping[str, Any] | str) -> dict[str, Any]:
        """The validated spec, built once so an invalid one fails now (field ``evaluator...``)."""
        try:
            spec = validate_spec(evaluator_spec)
            build_evaluator(spec, self._options)
        except InvalidInput as exc:
            field = "evaluator" + (f".{exc.field}" if exc.field else "")
            raise InvalidInput(str(exc), field=field) from exc
        return spec

    def _load(self, tx: StoreTx, loop_id: str, *, lock: bool = False) -> LoopRecord:
        loop = tx.get_loop(loop_id, lock=lock)
        if loop is None:
            raise LoopNotFound(loop_id)
        return loop

    def step(
        self,
        loop_id: str,
        output: str = "",
        tokens_used: int = 0,
        conditions: Sequence[StopCondition] | ConditionsFor = (),
        commands_approved: bool = False,
        *,
        inline: bool = False,
    ) -> StepResult:
        """Score one output, checkpoint it, and decide whether to go on.

        ``conditions`` are extra exit rules, or a function that gives them for the
        loop once it is read (the caller learns its task type and model without
        reading the loop again).

        The output may be empty only when the loop's evaluator runs a command
        (the command's run is the evidence). Test runs are compared with the
        loop's first and latest runs that reached a verdict
        (``reference_steps``), read back from the store, so a restart keeps them.

        ``inline``: the step is being tried where nothing may block (an event loop):
        a loop whose evaluator runs a program or asks a model raises ``WouldWait``
        once the loop is read, before anything is evaluated or written.

        Raises:
            InvalidInput: output too long, or empty for an evaluator that runs no
                command; negative tokens. LoopNotFound.
            Conflict: the loop is stopped or closed, or another step landed first.
            WouldWait: ``inline`` and the evaluator does not only compute.
        """
        check_text(output, "output", max_chars=MAX_OUTPUT_CHARS)
        if isinstance(tokens_used, bool) or not isinstance(tokens_used, int) or tokens_used < 0:
            raise InvalidInput(f"must be an integer >= 0, got {tokens_used!r}", field="tokens_used")
        with self._store.read() as tx:
            loop = self._load(tx, loop_id)
            steps = tx.list_steps(loop_id)
        require_open(loop)
        if inline and not in_memory(loop.evaluator_spec):
            raise WouldWait("the loop's evaluator runs a program or asks a model")
        if not output.strip() and not runs_command(loop.evaluator_spec):
            raise InvalidInput(
                "must not be empty: the loop's evaluator scores the output (only an "
                "evaluator that runs a command may be stepped without one)",
                field="output",
            )
        options = self._options
        if commands_approved:  # a person approved this step's commands that ask for it
            options = replace(options, commands_approved=True)
        evaluator = build_evaluator(loop.evaluator_spec, options)
        baseline, previous = reference_steps(steps)
        context = EvalContext(
            goal=loop.goal,
            previous=previous,
            baseline=baseline,
            project_root=self._options.project_root,
        )
        evaluation = evaluator.evaluate(output, context)
        rules = conditions(loop) if callable(conditions) else conditions
        with self._store.write() as tx:
            return self._checkpoint(tx, loop, steps, output, evaluation, tokens_used, rules)

    def _checkpoint(
        self,
        tx: StoreTx,
        seen: LoopRecord,
        steps: list[StepRecord],
        output: str,
        evaluation: Evaluation,
        tokens: int,
        conditions: Sequence[StopCondition],
    ) -> StepResult:
        now = self._clock()
        loop = self._load(tx, seen.id, lock=True)
        require_open(loop)
        if loop.iterations != seen.iterations:
            raise Conflict(
                f"loop {loop.id!r} took another step meanwhile; read its state and retry",
                kind="loop_raced",
            )
        scores = (*(s.score for s in steps), evaluation.score)
        outputs = (*(s.output for s in steps), output)
        total = loop.tokens_used + tokens
        elapsed = max(0.0, now - loop.created_at)
        state = LoopState(
            scores=scores, outputs=_judged(outputs, loop), tokens_used=total, elapsed_s=elapsed
        )
        decision = decide(state, config_from(loop.config), conditions)
        iteration = len(scores)
        best = best_iteration(scores)
        tx.insert_step(step_record(loop.id, iteration, output, evaluation, tokens, now))
        stepped = replace(
            loop, iterations=iteration, best_score=scores[best - 1], best_iteration=best,
            tokens_used=total, status="stopped" if decision.stop else "open",
            exit_reason=decision.reason, exit_detail=decision.detail, updated_at=now,
        )  # fmt: skip
        tx.save_loop(stepped)
        detail = {"iteration": iteration, "score": evaluation.score, "stop": decision.stop,
                  "reason": decision.reason, "detail": decision.detail}  # fmt: skip
        tx.append_journal("loop_step", at=now, project=loop.project, loop_id=loop.id, detail=detail)
        return StepResult(
            loop_id=loop.id, iteration=iteration, evaluation=evaluation,
            decision="stop" if decision.stop else "continue", feedback=evaluation.feedback,
            exit_reason=decision.reason, exit_detail=decision.detail,
            best_output=outputs[best - 1], best_score=scores[best - 1], best_iteration=best,
            tokens_used=total,
        )  # fmt: skip

    def end(self, loop_id: str, outcome: str | None = None) -> LoopSummary:
        """Close the loop (idempotent) and record what it taught.

        Raises:
            InvalidInput: outcome too long. LoopNotFound.
        """
        if outcome is not None:
            check_text(outcome, "outcome", max_chars=MAX_OUTCOME_CHARS)
        with self._store.write() as tx:
            loop = self._load(tx, loop_id, lock=True)
            steps = tx.list_steps(loop_id)
            if loop.status == "closed" and loop.summary is not None:
                return summary_from(loop.summary, steps)
            return self._close(tx, loop, steps, outcome)

    def _close(
        self, tx: StoreTx, loop: LoopRecord, steps: list[StepRecord], outcome: str | None
    ) -> LoopSummary:
        now = self._clock()
        threshold = config_from(loop.config).quality_threshold
        best = best_iteration([s.score for s in steps]) if steps else None
        note = self._record_on_task(loop, steps[best - 1] if best else None, now)
        summary = build_summary(
            loop, steps, threshold=threshold, outcome=outcome, now=now, note=note
        )
        if steps:
            tx.record_observation(observation_of(loop, summary, threshold))
        stored = {k: v for k, v in asdict(summary).items() if k != "best_output"}
        closed = replace(
            loop,
            status="closed",
            outcome=outcome,
            summary=stored,
            ended_at=now,
            updated_at=now,
            exit_reason=summary.exit_reason,
            exit_detail=summary.exit_detail,
        )
        tx.save_loop(closed)
        detail = {
            "iterations": summary.iterations,
            "best_score": summary.best_score,
            "converged": summary.converged,
            "exit_reason": summary.exit_reason,
            "outcome": outcome,
            "task_note": note,
        }
        tx.append_journal(
            "loop_closed", at=now, project=loop.project, loop_id=loop.id, detail=detail
        )
        return summary

    def _record_on_task(self, loop: LoopRecord, best: StepRecord | None, now: float) -> str:
        if loop.plan_id is None or loop.task_id is None:
            return ""
        if best is None:
            return "no step was taken; nothing recorded on the task"
        try:
            with self._store.write() as inner:  # a savepoint: a refusal leaves nothing behind
                result = apply_scores(
                    inner,
                    loop.plan_id,
                    loop.task_id,
                    now=now,
                    output_score=best.score,
                    mark_done=True,
                    output_text=best.output[:KEPT_TASK_OUTPUT_CHARS],
                    deficiencies=best.deficiencies,
                    source=f"loop {loop.id}",
                )
        except (NotFound, Conflict) as exc:
            return f"not recorded on the task: {exc}"
        return (
            f"recorded output score {best.score:.3f} on task {loop.task_id!r}: "
            f"{result.task.status}, plan confidence {result.confidence:.3f}"
        )

    def extend(
        self,
        loop_id: str,
        *,
        more_iterations: int,
        more_tokens: int | None = None,
        more_seconds: float | None = None,
    ) -> LoopRecord:
        """Reopen a stopped loop with more budget, keeping its steps.

        ``more_iterations`` raises ``max_iterations`` past the iterations taken;
        ``more_tokens`` and ``more_seconds`` raise the token and time budgets and
        are required when that budget is what stopped the loop.

        Raises:
            InvalidInput: a bad amount, or the budget that stopped it not raised.
            LoopNotFound. Conflict: the loop is open, passed, closed, or at the
                iteration cap.
        """
        _check_more(more_iterations, more_tokens, more_seconds)
        with self._store.write() as tx:
            loop = self._load(tx, loop_id, lock=True)
            cfg = _extended_config(loop, more_iterations, more_tokens, more_seconds)
            now = self._clock()
            reopened = replace(
                loop, status="open", exit_reason=None, exit_detail="", config=asdict(cfg),
                updated_at=now,
            )  # fmt: skip
            tx.save_loop(reopened)
            detail = {"after": loop.exit_reason, "iterations": loop.iterations,
                      "max_iterations": cfg.max_iterations, "max_tokens": cfg.max_tokens,
                      "timeout_s": cfg.timeout_s}  # fmt: skip
            tx.append_journal(
                "loop_extended", at=now, project=loop.project, loop_id=loop.id, detail=detail
            )
        return reopened

    def explain(self, loop_id: str, *, limit: int = 200) -> tuple[LoopRecord, tuple[str, ...]]:
        """The loop and its journal as sentences, oldest first. Raises ``LoopNotFound``."""
        with self._store.read() as tx:
            loop = self._load(tx, loop_id)
            entries = tx.read_journal(loop_id=loop_id, limit=limit)
        return loop, tuple(loop_line(e) for e in entries)

    def peek(self, loop_id: str) -> LoopRecord | None:
        """The loop's row as it is now, in one statement, without its steps; None when not
        found (for deciding what to ask before a call that reports that itself)."""
        with self._store.glance() as tx:
            return tx.get_loop(loop_id)

    def status(self, loop_id: str) -> LoopView:
        """A loop's state, for resuming it. Raises ``LoopNotFound``."""
        with self._store.read() as tx:
            loop = self._load(tx, loop_id)
            steps = tx.list_steps(loop_id)
        best = loop.best_iteration
        return LoopView(
            loop=loop,
            config=config_from(loop.config),
            scores=tuple(s.score for s in steps),
            last_feedback=steps[-1].feedback if steps else "",
            best_output=steps[best - 1].output if best and best <= len(steps) else None,
        )

    def list_open(self, project: str, *, limit: int = 100) -> tuple[LoopRecord, ...]:
        """Loops of a project still open or stopped (waiting for ``end``), newest first."""
        check_project(project)
        with self._store.read() as tx:
            return tuple(tx.list_loops(project, statuses=("open", "stopped"), limit=limit))


def _check_more(iterations: object, tokens: object, seconds: object) -> None:
    if (
        isinstance(iterations, bool)
        or not isinstance(iterations, int)
        or not (1 <= iterations <= MAX_ITERATIONS_CAP)
    ):
        raise InvalidInput(
            f"must be an integer in [1, {MAX_ITERATIONS_CAP}], got {iterations!r}",
            field="more_iterations",
        )
    if tokens is not None and (
        isinstance(tokens, bool) or not isinstance(tokens, int) or tokens < 1
    ):
        raise InvalidInput(f"must be an integer >= 1, got {tokens!r}", field="more_tokens")
    if seconds is not None and (
        isinstance(seconds, bool)
        or not isinstance(seconds, int | float)
        or not 0 < seconds <= 86400
    ):
        raise InvalidInput(
            f"must be a number of seconds in (0, 86400], got {seconds!r}", field="more_seconds"
        )


def _extended_config(
    loop: LoopRecord, more: int, tokens: int | None, seconds: float | None
) -> StopConfig:
    """The loop's config with more budget, or a Conflict/InvalidInput saying why not."""
    if loop.status == "closed":
        raise Conflict(f"loop {loop.id!r} is closed; start a new loop to go on")
    if loop.status == "open":
        raise Conflict(f"loop {loop.id!r} is still open: step it; extend it once it stops")
    if loop.exit_reason not in EXTENDABLE:
        raise Conflict(
            f"loop {loop.id!r} stopped with {loop.exit_reason!r} (it passed, or was cut short): "
            "there is nothing to extend; end it"
        )
    cfg = config_from(loop.config)
    if loop.exit_reason == "token_budget" and tokens is None:
        raise InvalidInput(
            "the loop stopped on its token budget: give more_tokens", field="more_tokens"
        )
    if loop.exit_reason == "timeout" and seconds is None:
        raise InvalidInput(
            "the loop stopped on its time budget: give more_seconds", field="more_seconds"
        )
    top = max(cfg.max_iterations, loop.iterations) + more
    if top > MAX_ITERATIONS_CAP:
        raise Conflict(
            f"loop {loop.id!r} would reach {top} iterations; the cap is {MAX_ITERATIONS_CAP}"
        )
    max_tokens = cfg.max_tokens
    if tokens is not None:
        max_tokens = max(max_tokens or 0, loop.tokens_used) + tokens
    timeout = cfg.timeout_s
    if seconds is not None and timeout is not None:
        timeout = timeout + seconds
    return replace(
        cfg, max_iterations=top, max_tokens=max_tokens, timeout_s=timeout,
        resumed_at=loop.iterations,
    )  # fmt: skip
