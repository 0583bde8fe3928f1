"""refine: the server runs a refinement loop itself, on the host's model or a configured one."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, Literal

import anyio.to_thread
import structlog
from mcp.server.mcpserver import Context, MCPServer
from pydantic import Field

from loopcore.errors import InvalidInput, StoreError
from loopcore.evaluators.base import EvalContext, Evaluator
from loopcore.limits import LIMITS
from loopcore.loops.priors import PriorsCache
from loopcore.store.observations import LoopObservation
from server.mcp.sampling import ChosenProvider, ProviderChoice, open_provider
from server.schemas import IterationOut, PromptText, RefineOut, Spec, TaskType, Unit
from server.settings import Settings
from server.tools.deps import Deps

if TYPE_CHECKING:
    from loopcore.loops.engine import IterationRecord, Prices, RefineResult

__all__ = ["MAX_REFINE_ITERATIONS", "MAX_TIMEOUT_S", "register"]

log = structlog.get_logger(__name__)

MAX_TIMEOUT_S = 600.0
MAX_REFINE_ITERATIONS = LIMITS.refine_iterations
# A cancelled loop or one cut by a provider failure did not end on its own: what it
# would have done next is unknown, so it teaches the priors nothing.
_UNLEARNED = frozenset({"cancelled", "error"})


@dataclass(frozen=True, kw_only=True, slots=True)
class _Limits:
    """What the caller of refine set (None: the priors' suggestion, or no limit)."""

    task_type: str
    max_iterations: int | None
    threshold: float | None
    timeout_s: float
    max_tokens_per_call: int | None
    token_budget: int | None
    max_cost: float | None


def _prices(settings: Settings, max_cost: float | None) -> Prices | None:
    """The configured token prices; a cost budget without them is refused."""
    if settings.price_input_per_1k is None or settings.price_output_per_1k is None:
        if max_cost is not None:
            raise InvalidInput(
                "a cost budget needs token prices: set LOOPCORE_PRICE_INPUT_PER_1K and "
                "LOOPCORE_PRICE_OUTPUT_PER_1K (or use token_budget)",
                field="max_cost",
            )
        return None
    from loopcore.loops.engine import Prices  # loaded on the first refine, like the engine

    return Prices(
        input_per_1k=settings.price_input_per_1k, output_per_1k=settings.price_output_per_1k
    )


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
        cost=None if res.cost is None else round(res.cost, 6),
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
        limits: _Limits,
    ) -> RefineOut:
        task_type, timeout_s = limits.task_type, limits.timeout_s
        prices = _prices(deps.settings, limits.max_cost)
        cache = deps.services().priors
        priors = await deps.run_sync(cache.get)
        # A host names its model only in its answers: its loops pool every model's priors.
        key_model = chosen.model if chosen.kind == "configured" else None
        stop, suggested = priors.stop_config(
            task_type,
            key_model,
            threshold=limits.threshold,
            max_iterations=limits.max_iterations,
            timeout_s=timeout_s,
            max_tokens=limits.token_budget,
            max_cost=limits.max_cost,
        )

        async def progress(r: IterationRecord) -> None:
            await ctx.report_progress(
                r.iteration, stop.max_iterations, f"iteration {r.iteration}: score {r.score:.2f}"
            )

        from loopcore.loops.engine import RefineConfig, refine  # loaded on the first refine

        res = await refine(
            prompt,
            evaluator,
            chosen.provider,
            RefineConfig(stop=stop, max_tokens_per_call=limits.max_tokens_per_call, prices=prices),
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
            **{
                k: v
                for k, v in (("token_budget", stop.max_tokens), ("max_cost", stop.max_cost))
                if v
            },
            "source": suggested.source,
            "rationale": suggested.rationale,
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
        token_budget: Annotated[int, Field(ge=1)] | None = None,
        max_cost: Annotated[float, Field(gt=0, allow_inf_nan=False)] | None = None,
    ) -> RefineOut:
        """loopcore runs the whole refinement loop: it asks a model (the host's through
        sampling, else the configured provider; provider= picks), scores each answer with the
        evaluator spec (loopcore://evaluators), feeds the deficiencies back, and stops at the
        threshold, a plateau, when learned priors say success is out of reach, or at
        max_iterations / timeout_s. Progress per iteration. token_budget caps tokens over the
        whole loop (counted where the provider reports them); max_cost caps the cost when
        token prices are configured. Returns the best output, iterations, exit_reason, tokens,
        cost and the provider that ran. With no model available, use loop_start/loop_step.
        """
        limits = _Limits(
            task_type=task_type,
            max_iterations=max_iterations,
            threshold=quality_threshold,
            timeout_s=timeout_s,
            max_tokens_per_call=max_tokens_per_call,
            token_budget=token_budget,
            max_cost=max_cost,
        )
        _prices(deps.settings, max_cost)  # a cost budget without prices fails before any call
        want: ProviderChoice = provider
        # Built first: a bad spec is reported before any model is looked for.
        judge = deps.runtime.evaluator(evaluator)
        async with open_provider(ctx, deps.settings, want) as chosen:
            return await _run(ctx, chosen, prompt, judge, limits)
