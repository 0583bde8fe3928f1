"""A person's approval through the host, before a task that needs it is done.

The resolver form (``Resolve`` + ``Elicit``), like plan_delete's confirmation, works in
both protocol eras: on the handshake era the SDK sends ``elicitation/create`` mid-call,
on 2026-07-28 it answers an input-required round and the client retries with the
answer. A ``command`` spec with ``approval: true`` is asked about before it runs, by
``verify_output``, ``plan_record`` and ``loop_step``. ``plan_record`` asks only for a
task created with ``approval="before_done"``
when it would mark the task done; a host without form elicitation is never sent a
request: the record then answers ``awaiting_approval`` with a token a person answers
with ``loopcore approve TOKEN``.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, cast

from mcp.server.mcpserver import (
    AcceptedElicitation,
    CancelledElicitation,
    Context,
    Elicit,
    ElicitationResult,
    Resolve,
)
from pydantic import BaseModel, Field

from loopcore.errors import Conflict
from loopcore.evaluators.factory import held_commands
from loopcore.plans.service import Answer, Task
from server.errors import map_errors
from server.mcp.elicitation import can_elicit
from server.runtime import Runtime, Services
from server.team import request_project

__all__ = [
    "ApprovalForm",
    "NoApprovalAsked",
    "RunForm",
    "answer_of",
    "ask_approval",
    "ask_to_run_loop",
    "ask_to_run_spec",
    "ask_to_run_task",
    "record_target",
    "run_allowed",
]


class ApprovalForm(BaseModel):
    """What the person is asked."""

    approve: bool = Field(description="Mark this task done (if its acceptance passes)?")
    reason: str = Field(default="", max_length=500, description="Why (optional)")


class NoApprovalAsked(BaseModel):
    """The resolver's answer when nobody was asked, and why."""

    status: Literal["not_needed", "unsupported"]


@map_errors
def record_target(plan_id: str, task_id: str, ctx: Context) -> Task | None:
    """Resolver of plan_record's two questions: the task, read once for both (None when
    the plan or the task is not found: the record itself says so)."""
    return _services(ctx).plans.peek_task(plan_id, task_id)


async def ask_approval(
    task_id: str,
    plan_id: str,
    mark_done: bool,
    ctx: Context,
    task: Annotated[Task | None, Resolve(record_target)],
) -> Elicit[ApprovalForm] | NoApprovalAsked:
    """Resolver of plan_record: ask the person when the task needs it and the host can.

    Deterministic in its arguments (the SDK may run it again on a later round). It
    reads nothing itself (``record_target`` did), so it runs on the event loop, with
    no hop to a worker thread.
    """
    if task is None or task.approval != "before_done" or not mark_done:
        return NoApprovalAsked(status="not_needed")
    if not can_elicit(ctx):
        return NoApprovalAsked(status="unsupported")
    title = task.title if len(task.title) <= 120 else task.title[:117] + "..."
    return Elicit(
        f"Task {task_id} ({title!r}) of plan {plan_id} needs your approval before it is "
        "done. Approve marking it done if its acceptance passes?",
        ApprovalForm,
    )


def answer_of(outcome: ElicitationResult[BaseModel]) -> Answer | None:
    """The domain's answer: None when nobody was asked (a token is then issued)."""
    if isinstance(outcome, AcceptedElicitation):
        data = outcome.data
        if isinstance(data, ApprovalForm):
            return Answer(approved=data.approve, reason=data.reason, by="user")
        return None
    if isinstance(outcome, CancelledElicitation):
        return Answer(approved=False, reason="the question was cancelled", final=False)
    return Answer(approved=False, reason="declined through the host")


class RunForm(BaseModel):
    """What the person is asked before a command that asks for approval runs."""

    run: bool = Field(description="Let it run?")


def _ask_run(
    commands: tuple[str, ...], root: str, ctx: Context
) -> Elicit[RunForm] | NoApprovalAsked:
    if not commands:
        return NoApprovalAsked(status="not_needed")
    if not can_elicit(ctx):
        return NoApprovalAsked(status="unsupported")
    shown = ", ".join(f"`{c}`" for c in commands)
    return Elicit(f"The agent's check wants to run {shown} in {root}. Let it run?", RunForm)


def _runtime(ctx: Context) -> Runtime:
    return cast(Runtime, ctx.request_context.lifespan_context)


def _services(ctx: Context) -> Services:
    """This call's project's services: another project's ids are not found here either."""
    runtime = _runtime(ctx)
    return runtime.services.for_project(request_project(runtime.project))


async def ask_to_run_task(
    output_score: float | None,
    ctx: Context,
    task: Annotated[Task | None, Resolve(record_target)],
) -> Elicit[RunForm] | NoApprovalAsked:
    """Resolver of plan_record: ask before the task's acceptance command runs (on the event
    loop, like ``ask_approval``)."""
    if output_score is not None or task is None:  # a given score runs nothing
        return NoApprovalAsked(status="not_needed")
    return _ask_run(held_commands(task.acceptance), str(_runtime(ctx).options.project_root), ctx)


@map_errors
def ask_to_run_spec(
    evaluator: dict[str, Any] | None, plan_id: str | None, task_id: str | None, ctx: Context
) -> Elicit[RunForm] | NoApprovalAsked:
    """Resolver of verify_output: ask before a command of the spec (or task spec) runs."""
    runtime = _runtime(ctx)
    spec = evaluator
    if spec is None and plan_id is not None and task_id is not None:
        task = _services(ctx).plans.peek_task(plan_id, task_id)  # None: verify_output says so
        spec = None if task is None else dict(task.acceptance or {})
    return _ask_run(held_commands(spec), str(runtime.options.project_root), ctx)


@map_errors
def ask_to_run_loop(loop_id: str, ctx: Context) -> Elicit[RunForm] | NoApprovalAsked:
    """Resolver of loop_step: ask before the loop's command runs."""
    loop = _services(ctx).loops.peek(loop_id)
    if loop is None:  # loop_step itself says so
        return NoApprovalAsked(status="not_needed")
    return _ask_run(
        held_commands(loop.evaluator_spec), str(_runtime(ctx).options.project_root), ctx
    )


def run_allowed(outcome: ElicitationResult[BaseModel]) -> bool:
    """True when the person let the commands run; False when nobody could be asked.

    Raises:
        Conflict: the person said no, declined or cancelled (nothing runs, nothing is kept).
    """
    if isinstance(outcome, AcceptedElicitation):
        data = outcome.data
        if isinstance(data, RunForm):
            if data.run:
                return True
            raise Conflict("the user did not let the command run; nothing was recorded")
        return False
    said = "cancelled the question" if isinstance(outcome, CancelledElicitation) else "declined"
    raise Conflict(f"the user {said} about running the command; nothing was recorded")
