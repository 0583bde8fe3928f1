"""verify_output: score an output against an evaluator spec, optionally on a plan task."""

from __future__ import annotations

from typing import Annotated, Any

from mcp.server.mcpserver import MCPServer
from pydantic import Field

from loopcore.errors import InvalidInput
from loopcore.evaluators.base import EvalContext, Evaluation
from loopcore.evaluators.factory import validate_spec
from loopcore.plans.acceptance import runs_command, task_context
from server.mcp.notify import plan_uris
from server.schemas import OutputText, PlanId, Spec, TaskId, VerifyOut, eval_fields, task_out
from server.tools.deps import Deps

__all__ = ["register"]


def _check_ids(plan_id: str | None, task_id: str | None) -> None:
    if (plan_id is None) != (task_id is None):
        missing = "task_id" if task_id is None else "plan_id"
        raise InvalidInput("plan_id and task_id go together; pass both or neither", field=missing)


def _evaluate(
    deps: Deps,
    output: str,
    spec: dict[str, Any] | None,
    goal: str | None,
    ids: tuple[str, str] | None,
) -> Evaluation:
    """Build the evaluator (the task's acceptance spec when none is given) and run it.

    The task's own spec runs with the task's earlier test verdicts, so a newly
    failing test is flagged as in plan_record.
    """
    root = deps.runtime.options.project_root
    context = EvalContext(goal=goal, project_root=root)
    if ids is not None:
        plans = deps.services().plans
        plan, task = plans.get(ids[0]), plans.task(*ids)
        goal = goal or f"{plan.goal}\n\n{task.title}\n{task.description}".strip()
        context = EvalContext(goal=goal, project_root=root)
        if spec is None:
            if task.acceptance is None:
                raise InvalidInput(
                    f"task {task.id!r} has no acceptance spec; pass an evaluator", field="evaluator"
                )
            spec = dict(task.acceptance)
            context = task_context(task, goal, root)
    if spec is None:
        raise InvalidInput(
            "required unless plan_id and task_id name a task with an acceptance spec",
            field="evaluator",
        )
    evaluator = deps.runtime.evaluator(spec)
    if not output.strip() and not runs_command(validate_spec(spec)):
        raise InvalidInput(
            "must not be empty: only an evaluator that runs a command needs no output",
            field="output",
        )
    return evaluator.evaluate(output, context)


def register(mcp: MCPServer[Any], deps: Deps) -> None:
    """Register verify_output."""

    @deps.tool(mcp, read_only=False, idempotent=True)
    async def verify_output(
        output: OutputText = "",
        evaluator: Spec | None = None,
        goal: Annotated[str, Field(max_length=4000)] | None = None,
        plan_id: PlanId | None = None,
        task_id: TaskId | None = None,
    ) -> VerifyOut:
        """Score an output (code, text, test log) with an evaluator spec before calling it
        done. A command spec runs tests, output optional. With plan_id+task_id: records the
        score on the task; evaluator defaults to its acceptance spec.
        """
        _check_ids(plan_id, task_id)
        ids = (plan_id, task_id) if plan_id is not None and task_id is not None else None
        ev = await deps.run_eval(_evaluate, deps, output, evaluator, goal, ids)
        if ids is None:
            return VerifyOut(**eval_fields(ev))
        plans = deps.services().plans
        res = await deps.run_sync(
            plans.record, *ids, output=output or None, evaluation=ev, mark_done=False
        )
        await deps.notifier.changed(*plan_uris(ids[0]))
        return VerifyOut(
            **eval_fields(ev),
            task=task_out(res.task),
            plan_confidence=res.confidence,
            needs_replan=res.needs_replan,
        )
