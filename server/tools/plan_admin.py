"""Plan housekeeping tools: list, explain, archive, delete (confirmed by the user)."""

from __future__ import annotations

from typing import Annotated, Any, Literal, cast

from mcp.server.mcpserver import (
    AcceptedElicitation,
    Context,
    Elicit,
    ElicitationResult,
    MCPServer,
    Resolve,
)
from pydantic import BaseModel, Field

from loopcore.errors import InvalidInput
from server.errors import map_errors
from server.mcp.notify import plan_uris
from server.runtime import Runtime
from server.schemas import DeleteOut, ExplainOut, PlanBrief, PlanId, PlanListOut, plan_brief
from server.team import request_project
from server.tools.deps import Deps

__all__ = ["DeleteConfirm", "register"]


class DeleteConfirm(BaseModel):
    """What the user is asked before a plan is deleted."""

    delete: bool = Field(description="Delete this plan and its history for good?")


_ANSWERS = {"accept": "said no", "decline": "declined", "cancel": "cancelled"}


def _can_elicit(ctx: Context) -> bool:
    """Whether the client declared form elicitation (a bare ``elicitation: {}`` counts)."""
    caps = ctx.client_capabilities
    elicitation = caps.elicitation if caps is not None else None
    return elicitation is not None and (elicitation.form is not None or elicitation.url is None)


@map_errors
def ask_to_delete(
    plan_id: str, confirm: bool, ctx: Context
) -> Elicit[DeleteConfirm] | DeleteConfirm:
    """Resolver of plan_delete: ask the user through the host when it can, else use ``confirm``.

    Module-level because the SDK resolves its annotations from the module; the
    store comes from the lifespan context (the shared ``Runtime``).
    """
    runtime = cast(Runtime, ctx.request_context.lifespan_context)
    project = request_project(runtime.project)  # a member's, else the session's
    plan = runtime.services.for_project(project).plans.get(plan_id)
    if _can_elicit(ctx):
        goal = plan.goal if len(plan.goal) <= 120 else plan.goal[:117] + "..."
        return Elicit(
            f"Delete plan {plan_id} ({goal!r}, {plan.task_count} tasks) and its history?",
            DeleteConfirm,
        )
    if not confirm:
        raise InvalidInput(
            "this host cannot ask the user; ask them, then call again with confirm=true",
            field="confirm",
        )
    return DeleteConfirm(delete=True)


def register(mcp: MCPServer[Any], deps: Deps) -> None:
    """Register plan_list, plan_explain, plan_archive and plan_delete."""

    @deps.tool(mcp, read_only=True, idempotent=True)
    def plan_list(
        status: Literal["active", "done", "archived"] | None = None,
        cursor: Annotated[str, Field(max_length=200)] | None = None,
        limit: Annotated[int, Field(ge=1, le=100)] = 20,
    ) -> PlanListOut:
        """This project's plans, newest first; pass next_cursor back for more. Use it to
        find a plan to resume.
        """
        page = deps.services().plans.list_plans(
            deps.project, status=status, cursor=cursor, limit=limit
        )
        return PlanListOut(plans=[plan_brief(p) for p in page.plans], next_cursor=page.next_cursor)

    @deps.tool(mcp, read_only=True, idempotent=True)
    def plan_explain(plan_id: PlanId) -> ExplainOut:
        """A plan's journal as sentences: score changes, deficiencies, why a replan was
        asked for. Read it before plan_replan.
        """
        ex = deps.services().plans.explain(plan_id)
        return ExplainOut(summary=ex.summary, lines=list(ex.lines))

    @deps.tool(mcp, read_only=False, idempotent=True)
    async def plan_archive(plan_id: PlanId) -> PlanBrief:
        """Archive a finished or abandoned plan: kept, read-only."""
        plan = await deps.run_sync(deps.services().plans.archive, plan_id)
        await deps.notifier.changed(*plan_uris(plan_id))
        return plan_brief(plan)

    @deps.tool(mcp, read_only=False, destructive=True, idempotent=True)
    async def plan_delete(
        plan_id: PlanId,
        answer: Annotated[ElicitationResult[DeleteConfirm], Resolve(ask_to_delete)],
        confirm: bool = False,
    ) -> DeleteOut:
        """Delete a plan and its journal for good. Asks the user when the host can;
        otherwise pass confirm=true only after the user agreed.
        """
        if not (isinstance(answer, AcceptedElicitation) and answer.data.delete):
            said = _ANSWERS.get(answer.action, answer.action)
            return DeleteOut(deleted=False, message=f"kept: the user {said}")
        await deps.run_sync(deps.services().plans.delete, plan_id)
        await deps.notifier.changed(*plan_uris(plan_id))
        return DeleteOut(deleted=True, message=f"deleted plan {plan_id}")
