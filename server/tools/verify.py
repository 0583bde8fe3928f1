"""verify_output: score an output against an evaluator spec, optionally on a plan task.

A call with no task and a spec that only computes (``in_memory``: no command, no
model) has nobody to ask: it takes the resolver-free twin (``Deps.fast_path``), and
its evaluation is tried on the event loop before any hop to the evaluation pool
(``EvaluationPool.try_inline``). Every other call resolves its approval and
evaluates in the pool, as before.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Annotated, Any

from mcp.server.mcpserver import Context, ElicitationResult, MCPServer, Resolve
from pydantic import BaseModel, Field

from loopcore.errors import InvalidInput
from loopcore.evaluators.base import EvalContext, Evaluation
from loopcore.evaluators.factory import in_memory, validate_spec
from loopcore.evaluators.options import JudgeModel
from loopcore.plans.acceptance import runs_command
from server.mcp.approval import ask_to_run_spec, run_allowed
from server.mcp.sampling import sampling_judge
from server.pool import INLINE_MAX_CHARS
from server.schemas import OutputText, PlanId, Spec, TaskId, VerifyOut, eval_fields
from server.schemas.evaluators import EVALUATORS_URI
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
    judge: JudgeModel | None = None,
    commands_approved: bool = False,
) -> Evaluation:
    """Build the evaluator (the task's acceptance spec when none is given) and run it.

    The task's own spec runs with the task's earlier test verdicts, so a newly
    failing test is flagged as in plan_record. Nothing is recorded.
    """
    context = EvalContext(goal=goal, project_root=deps.runtime.options.project_root)
    if ids is not None:
        acc = deps.services().plans.acceptance_for(*ids)
        context = EvalContext(goal=goal or acc.goal, project_root=context.project_root)
        if spec is None:
            if acc.spec is None:
                raise InvalidInput(
                    f"task {ids[1]!r} has no acceptance spec; pass an evaluator "
                    f"(types and fields: {EVALUATORS_URI})",
                    field="evaluator",
                )
            spec = dict(acc.spec)
            context = acc.context if goal is None else replace(acc.context, goal=goal)
    if spec is None:
        raise InvalidInput(
            "required unless plan_id and task_id name a task with an acceptance spec "
            f"(types and fields: {EVALUATORS_URI})",
            field="evaluator",
        )
    evaluator = deps.runtime.evaluator(spec, judge, commands_approved=commands_approved)
    if not output.strip() and not runs_command(validate_spec(spec)):
        raise InvalidInput(
            "must not be empty: only an evaluator that runs a command needs no output",
            field="output",
        )
    return evaluator.evaluate(output, context)


def _asks_nobody(arguments: Mapping[str, Any], context: object = None) -> bool:
    """No task and a spec that runs nothing: the approval resolver would ask nobody."""
    no_task = arguments.get("plan_id") is None and arguments.get("task_id") is None
    return no_task and in_memory(arguments.get("evaluator"))


async def _verify(
    deps: Deps,
    output: str,
    evaluator: dict[str, Any] | None,
    goal: str | None,
    ids: tuple[str, str] | None,
    judge: JudgeModel | None,
    approved: bool,
) -> VerifyOut:
    args = (deps, output, evaluator, goal, ids, judge, approved)
    if ids is None and len(output) <= INLINE_MAX_CHARS and in_memory(evaluator):
        ev = await deps.runtime.pool.try_inline(_evaluate, *args)
    else:
        ev = await deps.run_eval(_evaluate, *args)
    return VerifyOut(**eval_fields(ev))


def register(mcp: MCPServer[Any], deps: Deps) -> None:
    """Register verify_output (and its resolver-free twin)."""

    @deps.tool(mcp, read_only=True, idempotent=True)
    async def verify_output(
        output: OutputText = "",
        evaluator: Spec | None = None,
        goal: Annotated[str, Field(max_length=4000)] | None = None,
        plan_id: PlanId | None = None,
        task_id: TaskId | None = None,
        ctx: Context[Any, Any] | None = None,
        *,
        run_ok: Annotated[ElicitationResult[BaseModel], Resolve(ask_to_run_spec)],
    ) -> VerifyOut:
        """Check a draft (code, text, JSON, test log): score, passed, deficiencies; records
        nothing. Specs: loopcore://evaluators. plan_id+task_id: the task's acceptance by
        default.
        """
        _check_ids(plan_id, task_id)
        ids = (plan_id, task_id) if plan_id is not None and task_id is not None else None
        judge = sampling_judge(ctx) if ctx is not None else None
        return await _verify(deps, output, evaluator, goal, ids, judge, run_allowed(run_ok))

    @deps.fast_path("verify_output", when=_asks_nobody)
    async def verify_plain(
        output: OutputText = "",
        evaluator: Spec | None = None,
        goal: Annotated[str, Field(max_length=4000)] | None = None,
        plan_id: PlanId | None = None,
        task_id: TaskId | None = None,
        ctx: Context[Any, Any] | None = None,
    ) -> VerifyOut:
        """verify_output when it asks nobody: the same arguments and answer, no resolver runs."""
        _check_ids(plan_id, task_id)
        return await _verify(deps, output, evaluator, goal, None, None, False)
