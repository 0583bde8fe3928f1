"""intercept, prompt_stats, prompt_feedback: is a request clear enough to act on?"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import structlog
from mcp.server.mcpserver import Context, ElicitationResult, MCPServer, Resolve
from mcp.types import CreateMessageResult
from pydantic import BaseModel, Field

from loopcore.errors import InvalidInput, StoreError
from loopcore.intercept import PromptScore, fold_answers, prompt_hash, score_prompt
from server.mcp.elicitation import Asked, ask_questions, read_outcome
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


def _ids(plan_id: str | None, task_id: str | None) -> tuple[str, str] | None:
    if (plan_id is None) != (task_id is None):
        missing = "task_id" if task_id is None else "plan_id"
        raise InvalidInput("plan_id and task_id go together; pass both or neither", field=missing)
    return (plan_id, task_id) if plan_id is not None and task_id is not None else None


def register(mcp: MCPServer[Any], deps: Deps) -> None:
    """Register intercept, prompt_stats and prompt_feedback."""

    def _store(text: str, score: PromptScore, ids: tuple[str, str] | None) -> str | None:
        """Record one scored prompt in history (and on the plan task); returns its id.

        Scoring is pure: when the store cannot be written, the score is still answered,
        without an id (None), and the failure logged.
        """
        try:
            return _record(text, score, ids)
        except StoreError as exc:
            log.warning("intercept_not_kept", error=str(exc))
            return None

    def _record(text: str, score: PromptScore, ids: tuple[str, str] | None) -> str:
        return deps.services().history.record_intercept(
            deps.project,
            prompt_hash(text),
            score.score,
            score.grade,
            score.dimensions,
            score.route,
            text if deps.settings.store_prompts else None,
            plan_id=ids[0] if ids else None,
            task_id=ids[1] if ids else None,
        )

    async def _improve(
        prompt: str, context: str | None, asked: Asked, ids: tuple[str, str] | None
    ) -> tuple[str, ImprovedOut]:
        """Fold the answers in, score the result again and record it (on the task too)."""
        improved = fold_answers(prompt, asked.answers)
        again = score_prompt(improved, context)
        hid = await deps.run_sync(_store, improved, again, ids)
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

    @deps.tool(mcp, read_only=False)
    async def intercept(
        prompt: PromptText,
        ctx: Context[Any, Any],
        answers: Annotated[ElicitationResult[BaseModel], Resolve(ask_questions)],
        sampled: Annotated[CreateMessageResult | None, Resolve(sample_rubric)],
        context: Annotated[str, Field(max_length=20_000)] | None = None,
        plan_id: PlanId | None = None,
        task_id: TaskId | None = None,
        ask_user: bool = False,
        judge: Literal["heuristic", "model"] = "heuristic",
    ) -> InterceptOut:
        """Before acting on a request, score whether it says enough to act on: score 0..1,
        grade, dimensions, issues, questions (best first, each tied to a blank) and route
        proceed|clarify|decompose. ask_user=true asks the user through the host and returns
        improved_prompt; judge="model" adds a model's reading of a rubric (judge_note says
        if not). Kept in history; with plan_id+task_id, scored on the task.
        """
        ids = _ids(plan_id, task_id)
        score = score_prompt(prompt, context)
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
        history_id = await deps.run_sync(_store, prompt, score, None if improved else ids)
        if ids is not None:
            await deps.notifier.changed(*plan_uris(ids[0]))
        stored = deps.settings.store_prompts
        return _out(score, history_id, source, asked, improved, ids is not None, stored)

    @deps.tool(mcp, read_only=True, idempotent=True)
    def prompt_stats(window: Annotated[int, Field(ge=1, le=1000)] = 50) -> PromptStatsOut:
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
        comment: Annotated[str, Field(max_length=2000)] = "",
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
