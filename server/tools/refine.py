"""refine: the server runs a refinement loop itself, on the host's model or a configured one."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import anyio.to_thread
import structlog
from mcp.server.mcpserver import Context, MCPServer
from pydantic import Field

from loopcore.errors import StoreError
from loopcore.evaluators.base import EvalContext, Evaluator
from loopcore.loops.engine import IterationRecord, RefineConfig, RefineResult
from loopcore.loops.engine import refine as run_refine
from loopcore.loops.priors import Priors
from loopcore.loops.stopping import StopConfig
from loopcore.store.observations import LoopObservation
from server.mcp.sampling import ChosenProvider, ProviderChoice, open_provider
from server.priors_cache import PriorsCache, priors_for
from server.schemas import IterationOut, PromptText, RefineOut, Spec, TaskType, Unit
from server.tools.deps import Deps

__all__ = ["MAX_REFINE_ITERATIONS", "MAX_TIMEOUT_S", "register"]

log = structlog.get_logger(__name__)

MAX_TIMEOUT_S = 600.0
MAX_REFINE_ITERATIONS = 20
# A cancelled loop or one cut by a provider failure did not end on its own: what it
# would have done next is unknown, so it teaches the priors nothing.
_UNLEARNED = frozenset({"cancelled", "error"})


def _stop_config(
    priors: Priors,
    task_type: str,
    model: str | None,
    limits: tuple[int | None, float | None, float],
) -> tuple[StopConfig, str, str]:
    """The caller's limits over what the priors suggest; also the source and rationale."""
    max_iterations, threshold, timeout_s = limits
    suggested = priors.suggest_config(task_type, model, threshold=threshold)
    top = max_iterations if max_iterations is not None else suggested.max_iterations
    cfg = StopConfig(
        max_iterations=top,
        min_iterations=min(suggested.min_iterations, top),
        quality_threshold=suggested.quality_threshold,
        timeout_s=timeout_s,
    )
    return cfg, suggested.source, suggested.rationale


def _iteration_out(r: IterationRecord) -> IterationOut:
    return IterationOut(
        iteration=r.iteration,
        score=r.score,
        passed=r.passed,
        deficiencies=list(r.deficiencies[:5]),
        tokens=r.prompt_tokens + r.completion_tokens,
        latency_s=round(r.latency_s, 3),
    )


def _observation(
    res: RefineResult, task_type: str, model: str, threshold: float
) -> LoopObservation | None:
    """What this loop teaches the priors, or None when it ended early for outside reasons."""
    if not res.iterations or res.exit_reason in _UNLEARNED:
        return None
    return LoopObservation(
        task_type=task_type,
        model=model,
        scores=tuple(r.score for r in res.iterations),
        threshold=threshold,
        converged=res.converged,
        latency_s=res.elapsed_s,
        tokens=res.total_tokens,
    )


def _result_out(
    res: RefineResult, chosen: ChosenProvider, config: dict[str, Any], learned: bool
) -> RefineOut:
    return RefineOut(
        output=res.output,
        best_score=res.best_score,
        converged=res.converged,
        exit_reason=res.exit_reason,
        exit_detail=res.exit_detail,
        iterations=[_iteration_out(r) for r in res.iterations],
        total_tokens=res.total_tokens,
        tokens_reported=chosen.kind == "configured",
        elapsed_s=round(res.elapsed_s, 3),
        provider=chosen.kind,
        provider_name=res.provider,
        model=chosen.model,
        config=config,
        learned=learned,
    )


async def _learn(cache: PriorsCache, obs: LoopObservation) -> bool:
    """Record the loop for the priors; a store failure costs the lesson, not the result."""
    try:
        await anyio.to_thread.run_sync(cache.record, obs)
    except StoreError as exc:
        log.warning("refine.not_learned", error=str(exc))
        return False
    return True


def register(mcp: MCPServer[Any], deps: Deps) -> None:
    """Register refine."""

    async def _run(
        ctx: Context[Any, Any],
        chosen: ChosenProvider,
        prompt: str,
        evaluator: Evaluator,
        options: tuple[str, int | None, float | None, float, int | None],
    ) -> RefineOut:
        task_type, max_iterations, threshold, timeout_s, max_tokens = options
        cache = priors_for(deps.services().store)
        priors = await deps.run_sync(cache.get)
        # A host names its model only in its answers: its loops pool every model's priors.
        key_model = chosen.model if chosen.kind == "configured" else None
        stop, source, why = _stop_config(
            priors, task_type, key_model, (max_iterations, threshold, timeout_s)
        )

        async def progress(r: IterationRecord) -> None:
            await ctx.report_progress(
                r.iteration, stop.max_iterations, f"iteration {r.iteration}: score {r.score:.2f}"
            )

        res = await run_refine(
            prompt,
            evaluator,
            chosen.provider,
            RefineConfig(stop=stop, max_tokens_per_call=max_tokens),
            context=EvalContext(goal=prompt, project_root=deps.runtime.options.project_root),
            conditions=(priors.stop_condition(task_type, key_model),),
            on_iteration=progress,
            run_blocking=deps.run_eval,  # the evaluation pool, within the session's share
        )
        obs = _observation(res, task_type, chosen.model, stop.quality_threshold)
        learned = obs is not None and await _learn(cache, obs)
        config = {
            "max_iterations": stop.max_iterations,
            "min_iterations": stop.min_iterations,
            "quality_threshold": stop.quality_threshold,
            "timeout_s": timeout_s,
            "source": source,
            "rationale": why,
        }
        return _result_out(res, chosen, config, learned=learned)

    @deps.tool(mcp, read_only=False, open_world=True)
    async def refine(
        prompt: PromptText,
        evaluator: Spec,
        ctx: Context[Any, Any],
        max_iterations: Annotated[int, Field(ge=1, le=MAX_REFINE_ITERATIONS)] | None = None,
        quality_threshold: Unit | None = None,
        timeout_s: Annotated[float, Field(gt=0, le=MAX_TIMEOUT_S, allow_inf_nan=False)] = 120.0,
        provider: Literal["auto", "sampling", "configured"] = "auto",
        task_type: TaskType = "general",
        max_tokens_per_call: Annotated[int, Field(ge=1, le=32_000)] | None = None,
    ) -> RefineOut:
        """loopcore runs the whole refinement loop: it asks a model (the host's through
        sampling, else the configured provider; provider= picks), scores each answer with the
        evaluator spec (loopcore://evaluators), feeds the deficiencies back, and stops at the
        threshold, a plateau, when learned priors say success is out of reach, or at
        max_iterations / timeout_s. Progress per iteration. Returns the best output,
        iterations, exit_reason, tokens and the provider that ran. With no model available,
        use loop_start/loop_step instead.
        """
        options = (task_type, max_iterations, quality_threshold, timeout_s, max_tokens_per_call)
        want: ProviderChoice = provider
        # Built first: a bad spec is reported before any model is looked for.
        judge = deps.runtime.evaluator(evaluator)
        async with open_provider(ctx, deps.settings, want) as chosen:
            return await _run(ctx, chosen, prompt, judge, options)
