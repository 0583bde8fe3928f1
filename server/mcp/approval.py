"""A person's approval through the host, before a task that needs it is done.

The resolver form (``Resolve`` + ``Elicit``), like plan_delete's confirmation, works in
both protocol eras: on the handshake era the SDK sends ``elicitation/create`` mid-call,
on 2026-07-28 it answers an input-required round and the client retries with the
answer. ``plan_record`` asks only for a task created with ``approval="before_done"``
when it would mark the task done; a host without form elicitation is never sent a
request: the record then answers ``awaiting_approval`` with a token a person answers
with ``loopcore approve TOKEN``.
"""

from __future__ import annotations

from typing import Literal, cast

from mcp.server.mcpserver import (
    AcceptedElicitation,
    CancelledElicitation,
    Context,
    Elicit,
    ElicitationResult,
)
from pydantic import BaseModel, Field

from loopcore.plans.service import Answer
from server.errors import map_errors
from server.mcp.elicitation import can_elicit
from server.runtime import Runtime

__all__ = ["ApprovalForm", "NoApprovalAsked", "answer_of", "ask_approval"]


class ApprovalForm(BaseModel):
    """What the person is asked."""

    approve: bool = Field(description="Mark this task done (if its acceptance passes)?")
    reason: str = Field(default="", max_length=500, description="Why (optional)")


class NoApprovalAsked(BaseModel):
    """The resolver's answer when nobody was asked, and why."""

    status: Literal["not_needed", "unsupported"]


@map_errors
def ask_approval(
    plan_id: str, task_id: str, mark_done: bool, ctx: Context
) -> Elicit[ApprovalForm] | NoApprovalAsked:
    """Resolver of plan_record: ask the person when the task needs it and the host can.

    Deterministic in its arguments (the SDK may run it again on a later round).
    """
    runtime = cast(Runtime, ctx.request_context.lifespan_context)
    task = runtime.services.plans.task(plan_id, task_id)
    if task.approval != "before_done" or not mark_done:
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
