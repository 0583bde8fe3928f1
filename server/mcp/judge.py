"""intercept's optional model judge: the fixed rubric asked of a model, never an error.

Where the answer comes from, first that applies:

1. **2026-07-28 session, host offers sampling**: the resolver ``sample_rubric``
   returns a ``Sample`` marker; the SDK asks the host in an input-required round
   before the tool body runs and injects the answer (the only way to sample there).
2. **Legacy session, host offers sampling**: the body pushes one
   ``sampling/createMessage`` (``server.mcp.sampling.SamplingProvider``).
3. **A configured OpenAI-compatible provider.**

Anything else, a refusal, a timeout or an answer that does not follow the rubric
keeps the heuristic score, with ``judge_note`` saying why.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from types import ModuleType
from typing import TYPE_CHECKING, Any, Literal

import anyio
import structlog
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.resolve import Sample
from mcp.types import CreateMessageResult

from loopcore.errors import InvalidInput, ProviderError
from loopcore.providers.base import Provider
from server.mcp.sampling import (
    SamplingProvider,
    completion_of,
    configured_provider,
    sampling_status,
    to_sampling,
)
from server.settings import Settings

if TYPE_CHECKING:
    from loopcore.intercept import PromptScore

__all__ = [
    "JUDGE_MAX_TOKENS",
    "JUDGE_TIMEOUT_S",
    "JudgeSource",
    "Judged",
    "judge_prompt",
    "sample_rubric",
]

log = structlog.get_logger(__name__)

JUDGE_MAX_TOKENS = 400
JUDGE_TIMEOUT_S = 60.0
JudgeSource = Literal["heuristic", "sampling", "configured"]


@dataclass(frozen=True, kw_only=True)
class Judged:
    """The score after the judge (or the heuristic one), and which judgement produced it."""

    score: PromptScore
    source: JudgeSource


async def sample_rubric(
    prompt: str, context: str | None, judge: str, ctx: Context[Any, Any]
) -> Sample | None:
    """Resolver of intercept: the rubric as a sampling round, on 2026-07-28 sessions only.

    Returns None (nothing to ask) unless the model judge was asked for, the host
    declared sampling, and the session cannot push requests itself; the same
    prompt renders the same request every round, as the SDK requires.
    """
    caps = ctx.client_capabilities
    if judge != "model" or caps is None or caps.sampling is None or ctx.session.can_send_request:
        return None
    system, turns = to_sampling(_scorer().rubric_messages(prompt, context))
    return Sample(turns, max_tokens=JUDGE_MAX_TOKENS, system_prompt=system, temperature=0.0)


def _kept(heuristic: PromptScore, why: str) -> Judged:
    note = f"model judge not used: {why}; the heuristic score stands"
    return Judged(score=replace(heuristic, judge_note=note), source="heuristic")


async def _ask(provider: Provider, prompt: str, context: str | None) -> str:
    with anyio.fail_after(JUDGE_TIMEOUT_S):
        completion = await provider.complete(
            _scorer().rubric_messages(prompt, context), max_tokens=JUDGE_MAX_TOKENS, temperature=0.0
        )
    return completion.text


async def _answer(
    ctx: Context[Any, Any],
    settings: Settings,
    sampled: CreateMessageResult | None,
    prompt: str,
    context: str | None,
) -> tuple[str, JudgeSource]:
    """The model's rubric answer and where it came from.

    Raises:
        ProviderError: no judge is reachable, or it failed.
        TimeoutError: it did not answer within ``JUDGE_TIMEOUT_S``.
    """
    if sampled is not None:
        return completion_of(sampled).text, "sampling"
    status = sampling_status(ctx)
    if status.available:
        return await _ask(SamplingProvider(ctx), prompt, context), "sampling"
    http = configured_provider(settings)
    if http is None:
        raise ProviderError(f"{status.reason} and no OpenAI-compatible provider is configured")
    async with http:
        return await _ask(http, prompt, context), "configured"


async def judge_prompt(
    heuristic: PromptScore,
    *,
    prompt: str,
    context: str | None,
    ctx: Context[Any, Any],
    settings: Settings,
    sampled: CreateMessageResult | None,
) -> Judged:
    """Combine ``heuristic`` with a model's reading of the rubric, or keep it and say why."""
    try:
        text, source = await _answer(ctx, settings, sampled, prompt, context)
    except ProviderError as exc:
        return _kept(heuristic, str(exc))
    except TimeoutError:
        return _kept(heuristic, f"no answer within {JUDGE_TIMEOUT_S:g}s")
    try:
        verdict = _scorer().parse_rubric(text)
    except InvalidInput as exc:
        log.info("judge.unparsed", source=source, error=str(exc))
        return _kept(heuristic, f"the {source} model's answer did not follow the rubric ({exc})")
    return Judged(score=_scorer().combine_with_judge(heuristic, verdict), source=source)


def _scorer() -> ModuleType:
    """The prompt scorer, imported on first use (not at start-up: a server may never score)."""
    import loopcore.intercept

    return loopcore.intercept
