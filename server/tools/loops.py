"""Agent-driven loops: the agent produces, the server judges and decides when to stop."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any

from mcp.server.mcpserver import ElicitationResult, MCPServer, Resolve
from pydantic import BaseModel, Field, WithJsonSchema

from loopcore.limits import LIMITS
from loopcore.loops.sessions import LoopRecord, LoopSummary, LoopView, StepResult
from loopcore.loops.stopping import StopCondition, StopConfig
from loopcore.plans.acceptance import run_outcome
from server.mcp.approval import ask_to_run_loop, run_allowed
from server.mcp.elicitation import nobody_to_ask
from server.mcp.notify import loop_uri, plan_uris
from server.pool import INLINE_MAX_CHARS
from server.runtime import Services
from server.schemas import (
    Goal,
    LoopExplainOut,
    LoopId,
    LoopOut,
    LoopStartOut,
    LoopStepOut,
    Model,
    OutputText,
    PlanId,
    Spec,
    TaskId,
    Unit,
)
from server.tools.deps import Deps

__all__ = ["register", "view_out"]

Label = Annotated[
    str,
    Field(pattern=r"^[A-Za-z0-9_.:/@+-]{1,64}$"),
    WithJsonSchema({"type": "string", "pattern": r"^[\w.:/@+-]{1,64}$"}),
]
Outcome = Annotated[str, Field(max_length=LIMITS.reason_chars)]


class StopTuning(Model):
    """How a loop decides it is stuck; unset fields keep the defaults."""

    min_iterations: Annotated[int, Field(ge=1, le=LIMITS.loop_iterations)] | None = None
    no_progress_window: Annotated[int, Field(ge=1, le=LIMITS.loop_iterations)] | None = None
    convergence_delta: Annotated[float, Field(ge=0.0, le=1.0, allow_inf_nan=False)] | None = None


# Published in one line: the fields say it, and core's tools/list budget counts every byte.
_Stop = Annotated[
    StopTuning,
    WithJsonSchema(
        {"type": "object", "description": "min_iterations, no_progress_window, convergence_delta"}
    ),
]

GUIDANCE = (
    "Produce an output for the goal, then call loop_step with it. On decision 'continue', fix "
    "what feedback lists and step again; on 'stop', call loop_end (it returns the best output)."
)


def _config(
    services: Services,
    task_type: str,
    model: str,
    threshold: float | None,
    max_iterations: int | None,
    budget: tuple[int | None, float | None],
    tuning: dict[str, Any],
) -> tuple[StopConfig, str]:
    """The stopping config (the caller's values over the priors) and its rationale."""
    cfg, suggested = services.priors.get().stop_config(
        task_type,
        model or None,
        threshold=threshold,
        max_iterations=max_iterations,
        max_tokens=budget[0],
        timeout_s=budget[1],
        tuning=tuning,
    )
    return cfg, suggested.rationale


def _step_out(res: StepResult) -> LoopStepOut:
    stop = res.decision == "stop"
    failing, regression = run_outcome(res.evaluation.details)
    return LoopStepOut(
        iteration=res.iteration,
        score=res.evaluation.score,
        passed=res.evaluation.passed,
        decision=res.decision,
        exit_reason=res.exit_reason if stop else None,
        feedback=f"{res.feedback} Stopped: {res.exit_detail}" if stop else res.feedback,
        best_score=res.best_score,
        failing=list(failing),
        regression=regression,
    )


def _summary_out(s: LoopSummary) -> LoopOut:
    return LoopOut(
        loop_id=s.loop_id,
        status="closed",
        scores=list(s.scores),
        best_score=s.best_score,
        best_output=s.best_output,
        converged=s.converged,
        exit_reason=s.exit_reason,
        note=s.task_note,
    )


def view_out(v: LoopView) -> LoopOut:
    """A loop's state as loop_status and the loop resource return it."""
    loop = v.loop
    best = loop.best_score
    return LoopOut(
        loop_id=loop.id,
        status=loop.status,
        scores=list(v.scores),
        best_score=best,
        best_output=v.best_output,
        converged=best is not None and best >= v.config.quality_threshold,
        exit_reason=loop.exit_reason,
        note=v.last_feedback,
    )


def register(mcp: MCPServer[Any], deps: Deps) -> None:
    """Register loop_start, loop_step, loop_end, loop_extend, loop_explain and loop_status."""

    @deps.tool(mcp, read_only=False)
    async def loop_start(
        goal: Goal | None = None,
        evaluator: Spec | None = None,
        task_type: Label = "general",
        model: Annotated[str, Field(max_length=LIMITS.model_chars)] = "",
        quality_threshold: Unit | None = None,
        max_iterations: Annotated[int, Field(ge=1, le=LIMITS.loop_iterations)] | None = None,
        max_tokens: Annotated[int, Field(ge=1)] | None = None,
        timeout_s: Annotated[float, Field(gt=0, le=86400, allow_inf_nan=False)] | None = None,
        plan_id: PlanId | None = None,
        task_id: TaskId | None = None,
        stop: _Stop | None = None,
    ) -> LoopStartOut:
        """Open a loop you drive: loop_step scores each output and says when to stop. Limits not
        given are learned per task_type. plan_id+task_id: goal and evaluator default to
        the task's (specs: loopcore://evaluators).
        """
        services = deps.services()
        cfg, why = await deps.run_sync(
            _config,
            services,
            task_type,
            model,
            quality_threshold,
            max_iterations,
            (max_tokens, timeout_s),
            {} if stop is None else stop.model_dump(),
        )
        loop = await deps.run_sync(
            services.loops.start,
            deps.project,
            goal,
            evaluator,
            task_type=task_type,
            model=model,
            config=cfg,
            plan_id=plan_id,
            task_id=task_id,
        )
        await deps.notifier.changed(loop_uri(loop.id))
        config = {k: v for k, v in asdict(cfg).items() if v is not None}
        return LoopStartOut(loop_id=loop.id, config=config, guidance=f"{GUIDANCE} ({why})")

    _register_step(mcp, deps)  # here: tools/list keeps loop_step after loop_start

    @deps.tool(mcp, read_only=False, idempotent=True)
    async def loop_end(
        loop_id: LoopId,
        outcome: Annotated[str, Field(max_length=LIMITS.reason_chars)] | None = None,
    ) -> LoopOut:
        """Close a loop (safe to repeat): scores, best_output, converged; teaches future
        loops.
        """
        services = deps.services()
        summary = await deps.run_sync(services.loops.end, loop_id, outcome)
        # loop_end recorded an observation in the store: let the next loop see it.
        services.priors.invalidate()
        uris = [loop_uri(loop_id)]
        if summary.plan_id is not None:
            uris.extend(plan_uris(summary.plan_id))
        await deps.notifier.changed(*uris)
        return _summary_out(summary)

    @deps.tool(mcp, read_only=False)
    async def loop_extend(
        loop_id: LoopId,
        more_iterations: Annotated[int, Field(ge=1, le=100)],
        more_tokens: Annotated[int, Field(ge=1)] | None = None,
        more_seconds: Annotated[float, Field(gt=0, le=86400, allow_inf_nan=False)] | None = None,
    ) -> LoopOut:
        """Give a stopped loop more budget instead of starting over: it reopens with its
        scores and best output kept. For loops stopped by max_iterations, a plateau, no
        progress or a token/time budget (then pass more_tokens/more_seconds); not for one
        that passed or was closed. Then loop_step again.
        """
        services = deps.services()
        await deps.run_sync(
            services.loops.extend,
            loop_id,
            more_iterations=more_iterations,
            more_tokens=more_tokens,
            more_seconds=more_seconds,
        )
        await deps.notifier.changed(loop_uri(loop_id))
        return view_out(await deps.run_sync(services.loops.status, loop_id))

    @deps.tool(mcp, read_only=True, idempotent=True)
    def loop_explain(loop_id: LoopId) -> LoopExplainOut:
        """A loop's journal in sentences: how it started, each step's score and decision,
        why it stopped, extensions, and what its close recorded.
        """
        loop, lines = deps.services().loops.explain(loop_id)
        return LoopExplainOut(
            loop_id=loop.id, status=loop.status, exit_reason=loop.exit_reason, lines=list(lines)
        )

    @deps.tool(mcp, read_only=True, idempotent=True)
    def loop_status(loop_id: LoopId) -> LoopOut:
        """A loop's state (open, stopped, closed), scores and best output. Use it to
        resume a loop after a restart.
        """
        return view_out(deps.services().loops.status(loop_id))


def _register_step(mcp: MCPServer[Any], deps: Deps) -> None:
    """Register loop_step and its resolver-free twin."""

    def _step(
        loop_id: str, output: str, tokens_used: int, approved: bool, inline: bool = False
    ) -> StepResult:
        services = deps.services()

        def bayes(loop: LoopRecord) -> tuple[StopCondition, ...]:
            return (services.priors.get().stop_condition(loop.task_type, loop.model or None),)

        return services.loops.step(
            loop_id,
            output,
            tokens_used,
            conditions=bayes,
            commands_approved=approved,
            inline=inline,
        )

    async def step(loop_id: str, output: str, tokens_used: int, approved: bool) -> LoopStepOut:
        """One step: tried here and now when its evaluator only computes, no lock is in its
        way and it fits the inline deadline (``Deps.attempt_at_once``), else on the pool."""
        res = None
        if not approved and len(output) <= INLINE_MAX_CHARS:
            res = deps.attempt_at_once(_step, loop_id, output, tokens_used, False, inline=True)
        if res is None:
            res = await deps.run_eval(_step, loop_id, output, tokens_used, approved)
        await deps.notifier.changed(loop_uri(loop_id))
        return _step_out(res)

    @deps.tool(mcp, read_only=False)
    async def loop_step(
        loop_id: LoopId,
        output: OutputText = "",
        tokens_used: Annotated[int, Field(ge=0)] = 0,
        *,
        run_ok: Annotated[ElicitationResult[BaseModel], Resolve(ask_to_run_loop)],
    ) -> LoopStepOut:
        """Submit your next attempt. continue: fix what feedback lists; stop: call loop_end. A
        command evaluator needs no output.
        """
        return await step(loop_id, output, tokens_used, run_allowed(run_ok))

    @deps.fast_path("loop_step", when=nobody_to_ask)
    async def loop_step_plain(
        loop_id: LoopId,
        output: OutputText = "",
        tokens_used: Annotated[int, Field(ge=0)] = 0,
    ) -> LoopStepOut:
        """loop_step for a host that cannot be asked: the same arguments and answer, no
        resolver runs (it would read the loop only to find nobody to ask)."""
        return await step(loop_id, output, tokens_used, False)
