"""intercept, prompt_stats, prompt_feedback: is a request clear enough to act on?"""

from __future__ import annotations

from collections.abc import Mapping
from types import ModuleType
from typing import TYPE_CHECKING, Annotated, Any, Literal

import structlog
from mcp.server.elicitation import AcceptedElicitation
from mcp.server.mcpserver import Context, ElicitationResult, MCPServer, Resolve
from mcp.types import CreateMessageResult
from pydantic import BaseModel, Field

from loopcore.errors import StoreError
from loopcore.ids import task_ref
from loopcore.limits import LIMITS
from server.mcp.elicitation import Asked, NotAsked, ask_questions, read_outcome
from server.mcp.judge import JudgeSource, judge_prompt, sample_rubric
from server.mcp.notify import plan_uris
from server.schemas import (
    DimensionScore,
    FeedbackOut,
    HistoryId,
    ImprovedOut,
    InterceptOut,
    PlanId,
    PromptStatsOut,
    PromptText,
    QuestionOut,
    TaskId,
)
from server.tools.deps import Deps

if TYPE_CHECKING:
    from loopcore.intercept import PromptScore

__all__ = ["register"]

log = structlog.get_logger(__name__)

FEEDBACK_NOTE = (
    "Stored with the intercept it rates; ratings are kept apart from the loop priors and "
    "never change suggest_config or when loops stop."
)


def _questions(score: PromptScore) -> list[QuestionOut]:
    return [QuestionOut(text=q.text, blank=q.blank, value=q.value) for q in score.questions]


def _out(
    score: PromptScore,
    history_id: str | None,
    source: JudgeSource,
    asked: Asked,
    improved: tuple[str, ImprovedOut] | None,
    on_task: bool,
    stored: bool,
) -> InterceptOut:
    """The tool result: the score, how it was judged, what asking the user gave."""
    task_score = (improved[1].score if improved else score.score) if on_task else None
    return InterceptOut(
        history_id=history_id,
        score=score.score,
        grade=score.grade,
        dimensions=dict(score.dimensions),
        issues=list(score.issues),
        questions=_questions(score),
        route=score.route,
        suggested_config={
            "max_iterations": score.suggested_config.max_iterations,
            "quality_threshold": score.suggested_config.quality_threshold,
        },
        judge=score.judge,
        judge_source=source,
        judge_note=score.judge_note,
        elicitation=asked.status,
        elicitation_note=asked.note,
        improved_prompt=improved[0] if improved else None,
        improved=improved[1] if improved else None,
        task_prompt_score=task_score,
        prompt_stored=stored and history_id is not None,
    )


Context_ = Annotated[str, Field(max_length=LIMITS.context_chars)] | None
# What the elicitation resolver injects when ask_user is false.
_NOT_ASKED: ElicitationResult[BaseModel] = AcceptedElicitation(
    data=NotAsked(status="not_requested")
)


def _asks_nothing(arguments: Mapping[str, Any], context: object = None) -> bool:
    """A call that neither asks the user nor samples a model: its resolvers would do nothing."""
    return arguments.get("ask_user") in (None, False) and arguments.get("judge") in (
        None,
        "heuristic",
    )


def register(mcp: MCPServer[Any], deps: Deps) -> None:
    """Register intercept, prompt_stats and prompt_feedback."""
    _register_intercept(mcp, deps)
    _register_history(mcp, deps)


def _keep(deps: Deps, text: str, score: PromptScore, ids: tuple[str, str] | None) -> str | None:
    """Record one scored prompt in history (and on the plan task); returns its id.

    Without a task the row is written behind the answer (``HistoryService``): the
    database is off the response path, and every history read waits for it. Scoring
    is pure: when the store cannot be written, the score is still answered, without
    an id (None), and the failure logged.
    """
    try:
        return deps.services().history.record_intercept(
            deps.project,
            _scorer().prompt_hash(text),
            score.score,
            score.grade,
            score.dimensions,
            score.route,
            text if deps.settings.store_prompts else None,
            plan_id=ids[0] if ids else None,
            task_id=ids[1] if ids else None,
            wait=ids is not None,
        )
    except StoreError as exc:
        log.warning("intercept_not_kept", error=str(exc))
        return None


def _register_intercept(mcp: MCPServer[Any], deps: Deps) -> None:

    async def _record(text: str, score: PromptScore, ids: tuple[str, str] | None) -> str | None:
        """``_keep``: written now on a task (``run_store``), else queued behind the answer."""
        if ids is None:
            return _keep(deps, text, score, None)
        return await deps.run_store(_keep, deps, text, score, ids)

    async def _improve(
        prompt: str, context: str | None, asked: Asked, ids: tuple[str, str] | None
    ) -> tuple[str, ImprovedOut]:
        """Fold the answers in, score the result again and record it (on the task too)."""
        improved = _scorer().fold_answers(prompt, asked.answers)
        again = _scorer().score_prompt(improved, context)
        hid = await _record(improved, again, ids)
        out = ImprovedOut(
            history_id=hid,
            score=again.score,
            grade=again.grade,
            dimensions=dict(again.dimensions),
            issues=list(again.issues),
            questions=_questions(again),
            route=again.route,
        )
        return improved, out

    async def _intercept(
        prompt: str,
        ctx: Context[Any, Any],
        answers: ElicitationResult[BaseModel],
        sampled: CreateMessageResult | None,
        context: str | None,
        ids: tuple[str, str] | None,
        judge: str,
    ) -> InterceptOut:
        """Score the request, ask or judge where the call wanted it, and keep it in history."""
        score = _scorer().score_prompt(prompt, context)
        source: JudgeSource = "heuristic"
        if judge == "model":
            judged = await judge_prompt(
                score,
                prompt=prompt,
                context=context,
                ctx=ctx,
                settings=deps.settings,
                sampled=sampled,
            )
            score, source = judged.score, judged.source
        asked = read_outcome(answers)
        improved: tuple[str, ImprovedOut] | None = None
        if asked.status == "accepted":
            improved = await _improve(prompt, context, asked, ids)
        history_id = await _record(prompt, score, None if improved else ids)
        if ids is not None:
            await deps.notifier.changed(*plan_uris(ids[0]))
        stored = deps.settings.store_prompts
        return _out(score, history_id, source, asked, improved, ids is not None, stored)

    @deps.tool(mcp, read_only=False)
    async def intercept(
        prompt: PromptText,
        ctx: Context[Any, Any],
        answers: Annotated[ElicitationResult[BaseModel], Resolve(ask_questions)],
        sampled: Annotated[CreateMessageResult | None, Resolve(sample_rubric)],
        context: Context_ = None,
        plan_id: PlanId | None = None,
        task_id: TaskId | None = None,
        ask_user: bool = False,
        judge: Literal["heuristic", "model"] = "heuristic",
    ) -> InterceptOut:
        """Score a request before acting: score, grade, dimensions, issues, questions, route
        proceed|clarify|decompose. ask_user=true asks the user; judge="model" adds a
        model's reading. Kept in history.
        """
        ids = task_ref(plan_id, task_id)
        return await _intercept(prompt, ctx, answers, sampled, context, ids, judge)

    @deps.fast_path("intercept", when=_asks_nothing)
    async def intercept_plain(
        prompt: PromptText,
        ctx: Context[Any, Any],
        context: Context_ = None,
        plan_id: PlanId | None = None,
        task_id: TaskId | None = None,
        ask_user: bool = False,
        judge: Literal["heuristic", "model"] = "heuristic",
    ) -> InterceptOut:
        """intercept when it asks nobody: the same arguments and answer, no resolvers run."""
        ids = task_ref(plan_id, task_id)
        return await _intercept(prompt, ctx, _NOT_ASKED, None, context, ids, judge)


def _register_history(mcp: MCPServer[Any], deps: Deps) -> None:
    @deps.tool(mcp, read_only=True, idempotent=True)
    def prompt_stats(
        window: Annotated[int, Field(ge=1, le=LIMITS.stats_window)] = 50,
    ) -> PromptStatsOut:
        """How this project's recent requests scored: mean, trend (newer half minus older
        half), grade counts, mean per dimension and the weakest dimensions to work on.
        """
        st = deps.services().history.prompt_stats(deps.project, window)
        return PromptStatsOut(
            project=st.project,
            window=st.window,
            count=st.count,
            mean=st.mean,
            trend=st.trend,
            grades=dict(st.grades),
            dimensions=dict(st.dimensions),
            weakest=[DimensionScore(dimension=d, score=s) for d, s in st.weakest],
        )

    @deps.tool(mcp, read_only=False)
    def prompt_feedback(
        history_id: HistoryId,
        rating: Annotated[int, Field(ge=1, le=5, description="1 = score was wrong, 5 = right.")],
        comment: Annotated[str, Field(max_length=LIMITS.reason_chars)] = "",
    ) -> FeedbackOut:
        """Rate how well a past intercept score matched the request (1..5), with an optional
        comment. Kept with the prompt history, apart from the loop priors.
        """
        fb = deps.services().history.record_feedback(history_id, rating, comment)
        return FeedbackOut(
            feedback_id=fb.id,
            history_id=fb.history_id,
            rating=fb.rating,
            comment=fb.comment,
            note=FEEDBACK_NOTE,
        )


def _scorer() -> ModuleType:
    """The prompt scorer, imported on first use (not at start-up: a server may never score)."""
    import loopcore.intercept

    return loopcore.intercept
