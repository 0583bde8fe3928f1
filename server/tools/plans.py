"""Scored plan tools: create, claim the next task, record scores, replan, edit, status."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any, Literal

from mcp.server.apps import client_supports_apps
from mcp.server.mcpserver import Context, ElicitationResult, MCPServer, Resolve
from pydantic import BaseModel, Field

from loopcore.limits import LIMITS
from loopcore.plans.importer import import_markdown
from loopcore.plans.service import Answer
from server.errors import fit_advice
from server.mcp.approval import answer_of, ask_approval, ask_to_run_task, run_allowed
from server.mcp.elicitation import nobody_to_ask
from server.mcp.notify import plan_uris
from server.schemas import (
    Agent,
    Goal,
    NextTaskOut,
    OptText,
    OutputText,
    PlanId,
    PlanOut,
    RecordOut,
    ReplanOut,
    TaskId,
    TaskIn,
    TaskOut,
    TaskUpdateIn,
    Unit,
    next_task_out,
    plan_out,
    record_out,
    replan_out,
    task_out,
)
from server.tools.deps import Deps

__all__ = ["register"]

Tasks = Annotated[list[TaskIn], Field(min_length=1, max_length=LIMITS.tasks_per_plan)]
AddTasks = Annotated[Sequence[TaskIn], Field(max_length=LIMITS.tasks_per_plan)]
UpdateTasks = Annotated[Sequence[TaskUpdateIn], Field(max_length=LIMITS.tasks_per_plan)]


def _patch(update: TaskUpdateIn) -> dict[str, Any]:
    """A replan update in the service's mapping form (``acceptance: None`` clears it)."""
    data = update.model_dump(exclude_none=True, exclude={"clear_acceptance"})
    if update.clear_acceptance:
        data["acceptance"] = None
    return data


def register(mcp: MCPServer[Any], deps: Deps) -> None:
    """Register the plan tools that drive work; see ``plan_admin`` for the rest."""

    @deps.tool(mcp, read_only=False)
    async def plan_create(
        goal: Goal,
        tasks: Tasks,
        confidence_threshold: Unit = 0.72,
        replan_policy: Literal["advise", "block"] = "advise",
    ) -> PlanOut:
        """Start multi-step work: tasks with id, title, depends_on, acceptance
        (loopcore://evaluators). Then loop: plan_next_task, work, verify_output,
        plan_record.
        """
        plans = deps.services().plans
        status = await deps.run_sync(
            plans.create,
            deps.project,
            goal,
            [t.model_dump() for t in tasks],
            threshold=confidence_threshold,
            replan_policy=replan_policy,
        )
        await deps.notifier.changed(*plan_uris(status.plan.id))
        return plan_out(status)

    @deps.tool(mcp, read_only=False)
    async def plan_import(
        markdown: Annotated[str, Field(min_length=1, max_length=200_000)],
    ) -> PlanOut:
        """Create a plan from a Markdown checklist: '# goal', then '- [ ] id: title' items
        (indented text: description; 'depends on: ids'; a ```json acceptance fenced spec;
        nested items: the parent depends on them; [x]: done). Reads plan exports back.
        """
        plans = deps.services().plans
        status = await deps.run_sync(import_markdown, plans, deps.project, markdown)
        await deps.notifier.changed(*plan_uris(status.plan.id))
        return plan_out(status)

    @deps.tool(mcp, read_only=False)
    async def plan_next_task(
        plan_id: PlanId,
        agent: Agent = "agent",
        lease_s: Annotated[float, Field(gt=0, le=LIMITS.lease_s, allow_inf_nan=False)] = 900,
    ) -> NextTaskOut:
        """Claim the next ready task (leased). kind: task (do it, then plan_record), complete,
        blocked or needs_replan (see reason).
        """
        plans = deps.services().plans
        nxt = await deps.run_store(plans.next_task, plan_id, agent=agent, lease_s=lease_s)
        await deps.notifier.changed(*plan_uris(plan_id))
        out = next_task_out(nxt)
        out.reason = fit_advice(out.reason, deps.settings.tools)
        return out

    async def record(
        plan_id: str,
        task_id: str,
        prompt_score: float | None,
        output_score: float | None,
        output: str | None,
        mark_done: bool,
        agent: str,
        approval: Answer | None,
        commands_approved: bool,
    ) -> RecordOut:
        plans = deps.services().plans
        # With an output, or with no score given (a command acceptance runs), it evaluates.
        evaluates = output is not None or (prompt_score is None and output_score is None)
        res = await (deps.run_eval if evaluates else deps.run_store)(
            plans.record,
            plan_id,
            task_id,
            prompt_score=prompt_score,
            output_score=output_score,
            output=output,
            mark_done=mark_done,
            agent=agent,
            approval=approval,
            commands_approved=commands_approved,
        )
        await deps.notifier.changed(*plan_uris(plan_id))
        return record_out(res)

    @deps.tool(mcp, read_only=False)
    async def plan_record(
        plan_id: PlanId,
        task_id: TaskId,
        prompt_score: Unit | None = None,
        output_score: Unit | None = None,
        output: OutputText | None = None,
        mark_done: bool = True,
        agent: Agent = "agent",
        *,
        approval: Annotated[ElicitationResult[BaseModel], Resolve(ask_approval)],
        run_ok: Annotated[ElicitationResult[BaseModel], Resolve(ask_to_run_task)],
    ) -> RecordOut:
        """Record a task's final result: output (scored by its acceptance) or output_score; none
        runs a command acceptance. mark_done: done or failed by threshold. Your claimed
        or ready tasks only.
        """
        return await record(
            plan_id, task_id, prompt_score, output_score, output, mark_done, agent,
            answer_of(approval), run_allowed(run_ok),
        )  # fmt: skip

    @deps.fast_path("plan_record", when=nobody_to_ask)
    async def plan_record_plain(
        plan_id: PlanId,
        task_id: TaskId,
        prompt_score: Unit | None = None,
        output_score: Unit | None = None,
        output: OutputText | None = None,
        mark_done: bool = True,
        agent: Agent = "agent",
    ) -> RecordOut:
        """plan_record for a host that cannot be asked: the same arguments and answer, no
        resolver runs (they would read the task only to find nobody to ask)."""
        return await record(
            plan_id, task_id, prompt_score, output_score, output, mark_done, agent, None, False
        )

    @deps.tool(mcp, read_only=False)
    async def plan_replan(
        plan_id: PlanId,
        reason: Annotated[str, Field(min_length=1, max_length=LIMITS.reason_chars)],
        add: AddTasks = (),
        remove: Annotated[Sequence[TaskId], Field(max_length=LIMITS.tasks_per_plan)] = (),
        update: UpdateTasks = (),
    ) -> ReplanOut:
        """Revise a plan's pending tasks (add, remove, update) when needs_replan is set or the
        approach changed. Keeps history; clears needs_replan.
        """
        plans = deps.services().plans
        res = await deps.run_sync(
            plans.replan,
            plan_id,
            reason,
            add=[t.model_dump() for t in add],
            remove=list(remove),
            update=[_patch(u) for u in update],
        )
        await deps.notifier.changed(*plan_uris(plan_id))
        return replan_out(res)

    @deps.tool(mcp, read_only=False, idempotent=True)
    async def plan_update_task(
        plan_id: PlanId,
        task_id: TaskId,
        status: Literal["pending", "done", "failed", "skipped"] | None = None,
        title: Annotated[str, Field(min_length=1, max_length=LIMITS.title_chars)] | None = None,
        description: OptText | None = None,
        notes: OptText | None = None,
    ) -> TaskOut:
        """Edit one task: status (pending retries a failed task; skipped), title,
        description, notes. A status change releases its claim.
        """
        plans = deps.services().plans
        task = await deps.run_sync(
            plans.update_task,
            plan_id,
            task_id,
            status=status,
            title=title,
            description=description,
            notes=notes,
        )
        await deps.notifier.changed(*plan_uris(plan_id))
        return task_out(task, full=True)

    @deps.tool(mcp, read_only=True, idempotent=True)
    def plan_status(plan_id: PlanId, ctx: Context, verbose: bool = False) -> PlanOut:
        """Plan summary: counts by status, confidence vs threshold, needs_replan, ready ids;
        verbose=true adds tasks.
        """
        # A host that renders the plan view (server.apps) draws the graph from the tasks.
        full = verbose or client_supports_apps(ctx)
        return plan_out(deps.services().plans.status(plan_id, verbose=full))

    if deps.settings.agent_approvals:

        @deps.tool(mcp, read_only=False)
        async def approval_decide(
            token: Annotated[str, Field(min_length=1, max_length=200)],
            approve: bool,
            reason: OptText = "",
        ) -> TaskOut:
            """Answer an approval token from plan_record's awaiting_approval: approve (the
            task is done) or not (it stays). Only on servers that let agents approve.
            """
            plans = deps.services().plans
            outcome = await deps.run_sync(
                plans.decide_approval,
                token,
                approve=approve,
                reason=reason,
                by="agent",
                via="agent",
            )
            await deps.notifier.changed(*plan_uris(outcome.plan_id))
            return task_out(outcome.task, full=True)
