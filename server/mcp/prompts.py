"""MCP prompts: short workflows a user can pick in the host."""

from __future__ import annotations

from typing import Any

from mcp.server.mcpserver import MCPServer

from server.errors import fit_advice

__all__ = ["register"]

SCORED_PLAN = """\
Work on this goal as a scored plan with loopcore: {goal}

1. Split the goal into tasks (ids, titles, depends_on) and give each task an acceptance spec \
that a correct result passes (for code: {{"type": "evidence", "preset": "tests"}} or a \
"command" spec if the server allows one; for text: "completeness" or "length"). Call \
plan_create.
2. Repeat: plan_next_task; do the task; check the draft with verify_output (plan_id, task_id: \
the task's acceptance spec scores it) and fix what it reports, as often as needed: checking \
records nothing. Then plan_record the final output: only that moves the plan's confidence.
3. When a result says needs_replan, call plan_explain, then plan_replan with the reason.
4. Stop when plan_next_task answers "complete" (the plan's status is then "done"); report the \
final plan_status."""

INTERCEPT_FIRST = """\
Before acting on the request below, check that it says enough to act on.

1. Call intercept with the request. If the route is "clarify", ask the user its questions \
(or pass ask_user=true) and score the improved request again; if it is "decompose", split it \
and treat each part separately.
2. Do the work. Before reporting it done, call verify_output with an evaluator spec that \
encodes what the request asked for, and fix every deficiency it lists.

Request: {request}"""


def register(mcp: MCPServer[Any], toolset: str = "all") -> None:
    """Register the two workflow prompts (their advice fit to ``toolset``)."""

    @mcp.prompt(
        name="scored_plan",
        title="Scored plan workflow",
        description="Work through a goal as a plan of tasks, each verified and scored.",
    )
    def scored_plan(goal: str) -> str:
        return fit_advice(SCORED_PLAN, toolset).format(goal=goal.strip()[:4000])

    @mcp.prompt(
        name="intercept_first",
        title="Intercept-first workflow",
        description="Score a request before acting on it, then verify the result.",
    )
    def intercept_first(request: str) -> str:
        return INTERCEPT_FIRST.format(request=request.strip()[:20000])
