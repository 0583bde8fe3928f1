"""Scored task plans: a dependency graph of tasks, scores, a rolling confidence, replanning.

``PlanService`` is the public face; every mutation is one store transaction
that reads, checks and writes (``loopcore.plans.operations``, ``loopcore.plans.replan``),
and every change is journalled in that same transaction. The confidence maths
lives in ``loopcore.plans.confidence``; see DESIGN.md, "Plans and confidence".

Decisions the design left open:

- ``next_task`` answers ``complete`` only when every task is done or skipped.
  A failed task keeps the plan from completing: when nothing else is ready the
  answer is ``blocked``, naming the failed tasks and what they block (retry
  with ``update_task(status="pending")``, skip, or replan).
- A prompt score alone never changes a task's status; ``mark_done`` applies
  when an output score is recorded (given, or scored from ``output``).
- ``needs_replan`` is recomputed from the confidence at every score and
  cleared by a replan; if the confidence is still below threshold at the next
  score it is raised again.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

from loopcore.clock import Clock, system_clock
from loopcore.errors import Conflict, InvalidInput
from loopcore.evaluators.base import Evaluation
from loopcore.evaluators.factory import FactoryOptions, build_evaluator, held_commands
from loopcore.ids import check_project, check_text, new_id
from loopcore.limits import LIMITS
from loopcore.plans import approvals
from loopcore.plans.acceptance import (
    check_record,
    runs_command,
    task_context,
    task_goal,
    tracked_details,
)
from loopcore.plans.approvals import DEFAULT_APPROVAL_TTL_S
from loopcore.plans.confidence import DEFAULT_THRESHOLD, check_score
from loopcore.plans.export import (
    build_status,
    compact_status,
    decode_cursor,
    encode_cursor,
    explain_summary,
    export_dict,
    export_markdown,
    finished_plan,
    journal_line,
)
from loopcore.plans.graph import check_graph
from loopcore.plans.model import (
    NextTask,
    PlanExplanation,
    PlanLimits,
    PlanPage,
    PlanStatus,
    RecordResult,
    ReplanResult,
    TaskAcceptance,
    TaskPatch,
    TaskSpec,
    check_lease,
    parse_patch,
    parse_task,
)
from loopcore.plans.operations import (
    bump,
    check_order,
    claim_next,
    create_plan,
    load_for_scoring,
    load_plan,
    load_task,
    peek_next,
    score_loaded,
    shown_after,
)
from loopcore.plans.replan import edit_task, replan
from loopcore.store.protocol import Store, StoreTx
from loopcore.store.records import (
    JournalEntry,
    Plan,
    PlanState,
    Revision,
    Task,
    TaskContext,
    TaskStatus,
)

__all__ = [
    "Answer",
    "NextTask",
    "Plan",
    "PlanExplanation",
    "PlanLimits",
    "PlanPage",
    "PlanService",
    "PlanStatus",
    "RecordResult",
    "ReplanResult",
    "Task",
    "TaskAcceptance",
    "TaskPatch",
    "TaskSpec",
]

MAX_AGENT_CHARS = 200


def _scoring_spec(task: Task, output: str | None) -> Mapping[str, Any]:
    """The task's acceptance spec, which scores ``output`` (None: its command runs alone).

    Raises:
        InvalidInput: nothing to record and no command to run, or no spec at all.
    """
    if output is None and not runs_command(task.acceptance):
        raise InvalidInput(
            "nothing to record: pass prompt_score, output_score or output (only a task "
            "whose acceptance spec runs a command can be recorded with none: the server "
            "runs it)",
            field="output_score",
        )
    if task.acceptance is None:
        raise InvalidInput(
            f"task {task.id!r} has no acceptance spec to score the output with; pass "
            "output_score, or give the task an acceptance spec",
            field="output",
            kind="no_acceptance",
        )
    return task.acceptance


@dataclass(frozen=True, kw_only=True, slots=True)
class Answer:
    """A person's answer given with a record (through the host): approve or not, and why.

    ``via`` is how it came: ``elicitation`` (the person answered), or ``none`` (nobody
    could be asked: the record then issues a token). ``final`` marks a decline the
    person meant (no token is issued); a cancelled question is not final.
    """

    approved: bool
    reason: str = ""
    by: str = "user"
    via: Literal["elicitation", "none"] = "elicitation"
    final: bool = True


def _is_list(value: object) -> bool:
    return isinstance(value, Sequence) and not isinstance(value, str | bytes)


def _parse_tasks(tasks: object, limits: PlanLimits) -> list[TaskSpec]:
    """A plan's tasks, validated one by one and then as a graph."""
    if not isinstance(tasks, Sequence) or isinstance(tasks, str | bytes) or not tasks:
        raise InvalidInput("must be a non-empty list of tasks", field="tasks")
    if len(tasks) > limits.max_tasks:
        raise InvalidInput(
            f"{len(tasks)} tasks; at most {limits.max_tasks} per plan", field="tasks"
        )
    specs = [parse_task(t, limits, f"tasks[{i}]") for i, t in enumerate(tasks)]
    seen: set[str] = set()
    for spec in specs:
        if spec.id in seen:
            raise InvalidInput(f"task id {spec.id!r} appears twice", field="tasks")
        seen.add(spec.id)
    check_graph({spec.id: spec.depends_on for spec in specs})
    return specs


def _read_plans(
    tx: StoreTx,
    project: str,
    status: PlanState | None,
    after: tuple[float, str] | None,
    want: int,
) -> list[Plan]:
    """Up to ``want`` plans in list order, as read (``done`` is derived, so filtered here)."""
    stored: PlanState | None = "active" if status in ("active", "done") else status
    found: list[Plan] = []
    while len(found) < want:
        batch = tx.list_plans(project, status=stored, after=after, limit=want)
        for plan in batch:
            shown = finished_plan(plan, tx.count_tasks(plan.id))
            if status is None or shown.status == status:
                found.append(shown)
        if len(batch) < want:
            break
        after = (batch[-1].created_at, batch[-1].id)
    return found[:want]


class PlanService:
    """Plans of every project kept in one store: create, claim, score, replan, edit, read.

    Args:
        store: where plans live.
        clock: the only source of time (lease expiry, scoring order, journal).
        factory_options: how acceptance specs are built into evaluators.
        limits: size limits; a violation is an ``InvalidInput`` and nothing is written.
    """

    def __init__(
        self,
        store: Store,
        clock: Clock = system_clock,
        *,
        factory_options: FactoryOptions | None = None,
        limits: PlanLimits | None = None,
        approval_ttl_s: float = DEFAULT_APPROVAL_TTL_S,
    ) -> None:
        self._store = store
        self._clock = clock
        self._options = factory_options if factory_options is not None else FactoryOptions()
        self._limits = limits if limits is not None else PlanLimits()
        self._approval_ttl_s = approval_ttl_s

    @property
    def limits(self) -> PlanLimits:
        """The size limits in force."""
        return self._limits

    def get(self, plan_id: str) -> Plan:
        """The plan's summary row (``done`` when every task is). Raises ``PlanNotFound``."""
        with self._store.read() as tx:
            return finished_plan(load_plan(tx, plan_id), tx.count_tasks(plan_id))

    def acceptance_for(self, plan_id: str, task_id: str) -> TaskAcceptance:
        """What scores a task's output: its acceptance spec (or None), goal text and context.

        The one place that says which spec scores a task and against which goal
        (``record`` and the server's checks both use it).

        Raises:
            PlanNotFound, TaskNotFound.
        """
        with self._store.read() as tx:
            plan = load_plan(tx, plan_id)
            task = load_task(tx, plan_id, task_id)
        goal = task_goal(plan, task)
        return TaskAcceptance(
            plan=plan,
            task=task,
            spec=task.acceptance,
            goal=goal,
            context=task_context(task, goal, self._options.project_root),
        )

    def task(self, plan_id: str, task_id: str) -> Task:
        """One task. Raises ``PlanNotFound`` or ``TaskNotFound``."""
        with self._store.read() as tx:
            load_plan(tx, plan_id)
            return load_task(tx, plan_id, task_id)

    def peek_task(self, plan_id: str, task_id: str) -> Task | None:
        """The task as it is now, in one statement; None when the plan or the task is not
        found (for deciding what to ask before a call that reports that itself)."""
        with self._store.glance() as tx:
            found = tx.task_context(plan_id, task_id)
        return None if found is None else found.task

    def status(self, plan_id: str, *, verbose: bool = False) -> PlanStatus:
        """Counts by status, confidence, ready tasks; ``verbose`` adds every task."""
        with self._store.read() as tx:
            plan = load_plan(tx, plan_id)
            if verbose:
                return build_status(plan, tx.list_tasks(plan_id), verbose=True)
            # Compact: counted and selected by the database, without loading the tasks.
            return compact_status(
                plan,
                counts=tx.count_tasks(plan_id),
                ready=tx.ready_task_ids(plan_id, max(plan.task_count, 1)),
                in_progress=tx.task_ids(plan_id, "in_progress"),
                failed=tx.task_ids(plan_id, "failed"),
            )

    def list_plans(
        self,
        project: str,
        *,
        status: PlanState | None = None,
        cursor: str | None = None,
        limit: int = 20,
    ) -> PlanPage:
        """Plans of a project, newest first, a page at a time.

        Raises:
            InvalidInput: a bad status, cursor or limit (1..100).
        """
        check_project(project)
        if status not in (None, "active", "done", "archived"):
            raise InvalidInput(
                f"must be 'active', 'done' or 'archived', got {status!r}", field="status"
            )
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 100:
            raise InvalidInput(f"must be an integer in 1..100, got {limit!r}", field="limit")
        after = decode_cursor(cursor) if cursor else None
        with self._store.read() as tx:
            plans = _read_plans(tx, project, status, after, limit + 1)
        more = len(plans) > limit
        page = tuple(plans[:limit])
        nxt = encode_cursor(page[-1].created_at, page[-1].id) if more and page else None
        return PlanPage(plans=page, next_cursor=nxt)

    def projects(self) -> dict[str, int]:
        """How many plans each project in the store has, by project key."""
        with self._store.read() as tx:
            return tx.plan_projects()

    def journal(
        self, plan_id: str, *, after_seq: int = 0, limit: int = 100
    ) -> tuple[JournalEntry, ...]:
        """The plan's journal, oldest first, after ``after_seq``."""
        with self._store.read() as tx:
            load_plan(tx, plan_id)
            return tuple(tx.read_journal(plan_id=plan_id, after_seq=after_seq, limit=limit))

    def explain(self, plan_id: str, *, limit: int = 100) -> PlanExplanation:
        """Why the confidence moved and why a replan was asked for: the newest ``limit`` entries."""
        with self._store.read() as tx:
            plan = load_plan(tx, plan_id)
            entries = tx.read_journal(plan_id=plan_id, limit=limit, newest_first=True)[::-1]
            counts = tx.count_tasks(plan_id)
        return PlanExplanation(
            plan=plan,
            summary=explain_summary(plan, counts),
            lines=tuple(journal_line(e) for e in entries),
            entries=tuple(entries),
        )

    def _everything(
        self, plan_id: str
    ) -> tuple[Plan, list[Task], list[Revision], list[JournalEntry]]:
        with self._store.read() as tx:
            plan = finished_plan(load_plan(tx, plan_id), tx.count_tasks(plan_id))
            journal: list[JournalEntry] = []
            while batch := tx.read_journal(
                plan_id=plan_id, after_seq=journal[-1].seq if journal else 0, limit=1000
            ):
                journal.extend(batch)
            return plan, tx.list_tasks(plan_id), tx.list_revisions(plan_id), journal

    def export_json(self, plan_id: str) -> dict[str, Any]:
        """The whole plan (tasks, revisions, journal) as JSON-ready data."""
        return export_dict(*self._everything(plan_id))

    def export_markdown(self, plan_id: str) -> str:
        """The whole plan as a Markdown document."""
        return export_markdown(*self._everything(plan_id))

    def create(
        self,
        project: str,
        goal: str,
        tasks: Sequence[TaskSpec | Mapping[str, Any]],
        *,
        threshold: float = DEFAULT_THRESHOLD,
        replan_policy: Literal["advise", "block"] = "advise",
    ) -> PlanStatus:
        """Create a plan; returns its verbose status.

        Raises:
            InvalidInput: a bad field, too many tasks, a duplicate id, an unknown
                dependency or a cycle (named); nothing is written.
        """
        lim = self._limits
        check_project(project)
        check_text(goal, "goal", min_chars=1, max_chars=lim.max_goal_chars)
        threshold = check_score(threshold, "confidence_threshold")
        if replan_policy not in ("advise", "block"):
            raise InvalidInput(
                f"must be 'advise' or 'block', got {replan_policy!r}", field="replan_policy"
            )
        specs = _parse_tasks(tasks, lim)
        now = self._clock()
        plan = Plan(
            id=new_id("pl_"),
            project=project,
            goal=goal,
            threshold=threshold,
            replan_policy=replan_policy,
            task_count=len(specs),
            created_at=now,
            updated_at=now,
        )
        with self._store.write() as tx:
            created = create_plan(tx, plan=plan, specs=specs)
        return build_status(plan, created, verbose=True)

    def next_task(self, plan_id: str, *, agent: str = "agent", lease_s: float = 900.0) -> NextTask:
        """Claim the first ready task in plan order for ``agent`` until the lease ends.

        Expired leases in the plan go back to pending first. Two callers never
        get the same task: the claim is one write transaction.

        Raises:
            PlanNotFound: unknown id. Conflict: the plan is archived.
        """
        check_text(agent, "agent", min_chars=1, max_chars=MAX_AGENT_CHARS)
        lease = check_lease(lease_s, self._limits)
        with self._store.read() as tx:
            answer = peek_next(tx, plan_id, now=self._clock())
        if answer is None:
            with self._store.write() as tx:
                answer = claim_next(tx, plan_id, agent=agent, lease_s=lease, now=self._clock())
        if answer.kind == "complete" and answer.plan.status == "active":
            return replace(answer, plan=replace(answer.plan, status="done"))
        return answer

    def record(
        self,
        plan_id: str,
        task_id: str,
        prompt_score: float | None = None,
        output_score: float | None = None,
        output: str | None = None,
        mark_done: bool = True,
        evaluation: Evaluation | None = None,
        agent: str = "agent",
        approval: Answer | None = None,
        commands_approved: bool = False,
    ) -> RecordResult:
        """Record scores on a task; an ``output`` without a score is scored by its acceptance spec.

        Order is kept: a task another agent holds under a live lease, or whose
        dependencies are not all done or skipped, is refused (``Conflict``); the
        task ``agent`` holds, an unclaimed ready task, or a failed or done one
        recorded again, is scored.

        A task that needs a person's approval (``approval="before_done"``) is done
        only with ``approval.approved``; a decline leaves it where it was (journaled),
        and with no answer the result carries a token a person answers with
        ``decide_approval`` (``loopcore.plans.approvals``). An acceptance ``command``
        that asks for approval runs with ``commands_approved`` (a person said yes
        through the host) or a granted token; otherwise nothing is recorded and the
        result carries a token to approve running it, then record again.

        An explicit ``output_score`` wins over ``evaluation``, which wins over
        scoring ``output``. With nothing at all to record, a task whose
        acceptance spec runs a command is scored by running it (its other parts
        see an empty output). Test verdicts are kept on the task, so a later
        run is compared with them (``loopcore.plans.acceptance``). The evaluator runs
        outside the write transaction (it may be slow); the spec it used is
        re-checked inside.

        Raises:
            InvalidInput: nothing to record and no command to run, a score out of
                [0, 1], an output too long, or an output to score on a task without
                an acceptance spec.
            PlanNotFound, TaskNotFound. Conflict: archived plan, or the
                acceptance spec changed while the output was being scored.
        """
        prompt_score, output_score = check_record(
            prompt_score, output_score, output, self._limits.max_output_chars
        )
        check_text(agent, "agent", min_chars=1, max_chars=MAX_AGENT_CHARS)
        nothing = prompt_score is None and output_score is None and evaluation is None
        if output_score is None and evaluation is None and (output is not None or nothing):
            return self._score_and_record(
                plan_id, task_id, prompt_score, output, mark_done, agent,
                approval=approval, commands_approved=commands_approved,
            )  # fmt: skip
        if evaluation is not None and output_score is None:
            output_score = evaluation.score
        approved = approval is not None and approval.approved
        with self._store.write() as tx:
            plan, task, context = load_for_scoring(tx, plan_id, task_id)
            check_order(tx, task, agent=agent, now=self._clock())
            result = score_loaded(
                tx,
                plan,
                task,
                context=context,
                now=self._clock(),
                prompt_score=prompt_score,
                output_score=output_score,
                mark_done=mark_done,
                output_text=self._kept(output),
                deficiencies=evaluation.deficiencies if evaluation else (),
                tracked=tracked_details(evaluation),
                approved=approved,
            )
            result = self._approval_step(tx, result, approval)
        return replace(
            result, plan=shown_after(result.plan, context, result.task), evaluation=evaluation
        )

    def _kept(self, output: str | None) -> str | None:
        return None if output is None else output[: self._limits.kept_output_chars]

    def _score_and_record(
        self,
        plan_id: str,
        task_id: str,
        prompt_score: float | None,
        output: str | None,
        mark_done: bool,
        agent: str,
        *,
        approval: Answer | None,
        commands_approved: bool,
    ) -> RecordResult:
        """Score ``output`` (None: run the acceptance command) by the task's spec, and record it.

        Plan and task are read once, in the write transaction, and a spec that
        runs no command (bounded in time, milliseconds) is evaluated there. A
        command may run for minutes, so it runs outside the write lock and its
        spec is checked again before the result is written. A command that asks
        for a person's approval runs only with ``commands_approved`` or a granted
        token (used once); otherwise a token is issued and nothing is recorded.
        """
        with self._store.write() as tx:
            plan, task, context = load_for_scoring(tx, plan_id, task_id)
            check_order(tx, task, agent=agent, now=self._clock())  # before anything runs
            spec = _scoring_spec(task, output)
            grant = None
            if not commands_approved and held_commands(spec):
                grant = approvals.find_grant(tx, plan_id, task)
                if grant is None:
                    return self._ask_to_run(tx, plan, task)
            run_ok = commands_approved or grant is not None
            if not runs_command(spec):
                evaluation = self._evaluate(plan, task, spec, output, run_ok)
                return self._write_score(
                    tx, (plan, task, context), prompt_score, output, mark_done, evaluation, approval
                )
        evaluation = self._evaluate(plan, task, spec, output, run_ok)
        with self._store.write() as tx:
            plan, task, context = load_for_scoring(tx, plan_id, task_id)
            if task.acceptance != spec:
                raise Conflict("the task's acceptance spec changed while scoring; record again")
            check_order(tx, task, agent=agent, now=self._clock())
            if grant is not None:
                approvals.consume(tx, plan, task, grant, now=self._clock())
            return self._write_score(
                tx, (plan, task, context), prompt_score, output, mark_done, evaluation, approval
            )

    def _approval_step(
        self, tx: StoreTx, result: RecordResult, answer: Answer | None
    ) -> RecordResult:
        """Journal the answer given with the record, or ask for one with a token."""
        needed = result.awaiting_approval or (
            answer is not None and answer.approved and result.task.status == "done"
            and result.task.approval == "before_done"
        )  # fmt: skip
        if not needed:
            return result
        now = self._clock()
        if answer is not None and (answer.approved or answer.via != "none"):
            approvals.journal_answer(
                tx, result.plan, result.task, now=now, approved=answer.approved,
                reason=answer.reason, by=answer.by, via="elicitation",
            )  # fmt: skip
            if answer.approved or answer.final:
                return result
        ticket = approvals.request(
            tx, result.plan, result.task, now=now, ttl_s=self._approval_ttl_s
        )
        return replace(result, approval=ticket)

    def decide_approval(
        self, token: str, *, approve: bool, reason: str = "", by: str = "person", via: str = "token"
    ) -> approvals.ApprovalOutcome:
        """Answer an approval token: approve (the task is done) or decline (it stays).

        Raises:
            InvalidInput: not a token, or a reason too long. NotFound: no such request.
            Conflict: already answered, expired, or void (the task changed since).
        """
        check_text(reason, "reason", max_chars=self._limits.max_notes_chars)
        check_text(by, "by", min_chars=1, max_chars=200)
        how: approvals.Via = "agent" if via == "agent" else "token"
        with self._store.write() as tx:
            outcome = approvals.decide(
                tx, token, approve=approve, reason=reason, by=by, via=how, now=self._clock()
            )
        if isinstance(outcome, Conflict):
            raise outcome
        return outcome

    def _ask_to_run(self, tx: StoreTx, plan: Plan, task: Task) -> RecordResult:
        """Record nothing; issue a token for a person to approve running the command."""
        ticket = approvals.request(
            tx, plan, task, now=self._clock(), ttl_s=self._approval_ttl_s, kind="command"
        )
        return RecordResult(
            task=task, plan=plan, confidence=plan.confidence, needs_replan=plan.needs_replan,
            changes=(), awaiting_approval=True, approval=ticket,
        )  # fmt: skip

    def _evaluate(
        self, plan: Plan, task: Task, spec: Mapping[str, Any], output: str | None, run_ok: bool
    ) -> Evaluation:
        goal = task_goal(plan, task)
        options = replace(self._options, commands_approved=True) if run_ok else self._options
        evaluator = build_evaluator(spec, options)
        context = task_context(task, goal, self._options.project_root)
        return evaluator.evaluate(output or "", context)

    def _write_score(
        self,
        tx: StoreTx,
        loaded: tuple[Plan, Task, TaskContext],
        prompt_score: float | None,
        output: str | None,
        mark_done: bool,
        evaluation: Evaluation,
        approval: Answer | None,
    ) -> RecordResult:
        plan, task, context = loaded
        result = score_loaded(
            tx,
            plan,
            task,
            context=context,
            now=self._clock(),
            prompt_score=prompt_score,
            output_score=evaluation.score,
            mark_done=mark_done,
            output_text=self._kept(output),
            deficiencies=evaluation.deficiencies,
            source="command" if output is None else "record",
            tracked=tracked_details(evaluation),
            approved=approval is not None and approval.approved,
        )
        result = self._approval_step(tx, result, approval)
        done = shown_after(result.plan, context, result.task)
        return replace(result, plan=done, evaluation=evaluation)

    def replan(
        self,
        plan_id: str,
        reason: str,
        *,
        add: Sequence[TaskSpec | Mapping[str, Any]] = (),
        remove: Sequence[str] = (),
        update: Sequence[TaskPatch | Mapping[str, Any]] = (),
        expected_version: int | None = None,
    ) -> ReplanResult:
        """A new revision of the plan's pending part; clears ``needs_replan``.

        Raises:
            InvalidInput: see ``loopcore.plans.replan.replan``; nothing is written.
            PlanNotFound. Conflict: archived, stale version, or a live lease on a removed task.
        """
        lim = self._limits
        check_text(reason, "reason", min_chars=1, max_chars=lim.max_reason_chars)
        for name, seq in (("add", add), ("remove", remove), ("update", update)):
            if not _is_list(seq):
                raise InvalidInput("must be a list", field=name)
        specs = [parse_task(t, lim, f"add[{i}]") for i, t in enumerate(add)]
        patches = [parse_patch(p, lim, f"update[{i}]") for i, p in enumerate(update)]
        removals = [check_text(r, "remove", min_chars=1, max_chars=LIMITS.id_chars) for r in remove]
        with self._store.write() as tx:
            res = replan(
                tx,
                plan_id,
                reason=reason,
                add=specs,
                remove=removals,
                update=patches,
                now=self._clock(),
                limits=lim,
                expected_version=expected_version,
            )
            return replace(res, plan=finished_plan(res.plan, tx.count_tasks(plan_id)))

    def update_task(
        self,
        plan_id: str,
        task_id: str,
        *,
        status: TaskStatus | None = None,
        title: str | None = None,
        description: str | None = None,
        notes: str | None = None,
        expected_version: int | None = None,
    ) -> Task:
        """Manual edit of one task (a status change releases its claim).

        Raises:
            InvalidInput, PlanNotFound, TaskNotFound, Conflict (archived, stale version).
        """
        lim = self._limits
        if title is not None:
            check_text(title, "title", min_chars=1, max_chars=lim.max_title_chars)
        if description is not None:
            check_text(description, "description", max_chars=lim.max_description_chars)
        if notes is not None:
            check_text(notes, "notes", max_chars=lim.max_notes_chars)
        with self._store.write() as tx:
            return edit_task(
                tx,
                plan_id,
                task_id,
                now=self._clock(),
                status=status,
                title=title,
                description=description,
                notes=notes,
                expected_version=expected_version,
            )

    def archive(self, plan_id: str) -> Plan:
        """Archive a plan (kept, read-only); archiving twice is a no-op."""
        now = self._clock()
        with self._store.write() as tx:
            plan = load_plan(tx, plan_id, lock=True)
            if plan.status == "archived":
                return plan
            plan = bump(plan, now, status="archived")
            tx.save_plan(plan)
            tx.append_journal("archived", at=now, project=plan.project, plan_id=plan_id)
        return plan

    def delete(self, plan_id: str) -> None:
        """Delete a plan with its tasks, revisions and journal (a project-level entry remains).

        Raises:
            PlanNotFound: unknown id.
        """
        now = self._clock()
        with self._store.write() as tx:
            plan = load_plan(tx, plan_id, lock=True)
            tx.delete_plan(plan_id)
            tx.append_journal(
                "plan_deleted",
                at=now,
                project=plan.project,
                detail={"plan_id": plan_id, "goal": plan.goal[:200], "tasks": plan.task_count},
            )
