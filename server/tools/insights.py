"""suggest_config and stats: what the priors learned from finished loops, and usage figures."""

from __future__ import annotations

from typing import Annotated, Any

from mcp.server.mcpserver import MCPServer
from pydantic import Field

from server.schemas import LoopBrief, PriorRow, StatsOut, SuggestOut, TaskType, Unit
from server.tools.deps import Deps

__all__ = ["register"]


def register(mcp: MCPServer[Any], deps: Deps) -> None:
    """Register suggest_config and stats."""

    @deps.tool(mcp, read_only=True, idempotent=True)
    def suggest_config(
        task_type: TaskType,
        model: Annotated[str, Field(min_length=1, max_length=200)] | None = None,
        quality_threshold: Unit | None = None,
    ) -> SuggestOut:
        """What past loops of this task_type (and model) suggest: max/min iterations,
        expected iterations, convergence rate and the loops it rests on (the defaults until 5
        are known), plus the priors per model. The threshold is yours, never learned.
        """
        # Fresh: loops closed by loop_end a moment ago must count.
        priors = deps.services().priors.get(fresh=True)
        s = priors.suggest_config(task_type, model, threshold=quality_threshold)
        rows = [
            PriorRow(
                model=p.model,
                loops=p.loops,
                converged=p.converged,
                convergence_rate=p.convergence_rate,
                rate_low=p.rate_low,
                rate_high=p.rate_high,
                mean_iterations=p.mean_iterations,
            )
            for p in priors.summary()
            if p.task_type == task_type
        ]
        return SuggestOut(
            task_type=task_type,
            model=model,
            max_iterations=s.max_iterations,
            min_iterations=s.min_iterations,
            quality_threshold=s.quality_threshold,
            expected_iterations=s.expected_iterations,
            convergence_rate=s.convergence_rate,
            based_on_loops=s.based_on_loops,
            source=s.source,
            rationale=s.rationale,
            priors=rows,
        )

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
