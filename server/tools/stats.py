"""stats: usage figures of this project, and the loops still open."""

from __future__ import annotations

from typing import Any

from mcp.server.mcpserver import MCPServer

from server.deps import Deps
from server.schemas import LoopBrief, StatsOut

__all__ = ["register"]


def register(mcp: MCPServer[Any], deps: Deps) -> None:
    """Register stats."""

    @deps.tool(mcp, read_only=True, idempotent=True)
    def stats() -> StatsOut:
        """Usage in this project: plans, tasks and loops by status, intercept and feedback
        counts, and the loops still open.
        """
        services = deps.services()
        counts = services.history.stats(deps.project)
        open_loops = services.loops.list_open(deps.project, limit=20)
        return StatsOut(
            project=counts.project,
            plans=dict(counts.plans),
            tasks=dict(counts.tasks),
            loops=dict(counts.loops),
            intercepts=counts.intercepts,
            feedback=counts.feedback,
            open_loops=[
                LoopBrief(
                    loop_id=lp.id,
                    goal=lp.goal[:200],
                    status=lp.status,
                    iterations=lp.iterations,
                    best_score=lp.best_score,
                )
                for lp in open_loops
            ],
        )
