"""The host's own model as a ``Provider``: MCP sampling from inside a tool, and the choice
between it and the configured OpenAI-compatible provider.

What works where (mcp 2.3.0, observed in ``tests/server/test_sampling.py``):

- **Legacy handshake** (protocol <= 2025-11-25): a tool sends ``sampling/createMessage``
  mid-call over the session's back-channel (``ctx.session.create_message``), as often as
  it likes, so ``refine``'s whole loop can run on the host's model.
- **2026-07-28**: the session has no back-channel (``can_send_request`` is False) and a
  pushed request raises ``NoBackChannelError``, even when the client declared sampling.
  Sampling is reachable only as a resolver's ``Sample`` marker, which the SDK turns into
  an ``InputRequiredResult`` round: one request per round, decided before the tool body
  runs, and clients stop after 10 rounds. That carries one model call (intercept's judge,
  ``server.mcp.judge``) but not a loop whose next prompt depends on the last answer, so on
  such a session ``refine`` treats sampling as unavailable and uses the configured provider.

The sampling capability itself is deprecated as of 2026-07-28 (SEP-2577): the SDK warns
(``MCPDeprecationWarning``) on every ``create_message``; we use it on purpose for the hosts
of today's handshake era.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import structlog
from mcp.server.mcpserver import Context
from mcp.shared.exceptions import MCPError, NoBackChannelError
from mcp.types import CreateMessageResult, SamplingMessage, TextContent
from pydantic import ValidationError

from loopcore.errors import ProviderError
from loopcore.providers.base import Completion, Message, Provider
from server.providers import ProviderJudge, configured_provider
from server.settings import Settings

if TYPE_CHECKING:
    pass

__all__ = [
    "DEFAULT_MAX_TOKENS",
    "NO_PROVIDER",
    "ChosenProvider",
    "ProviderChoice",
    "SamplingProvider",
    "SamplingStatus",
    "completion_of",
    "configured_provider",
    "open_provider",
    "sampling_available",
    "sampling_judge",
    "sampling_status",
    "to_sampling",
]

log = structlog.get_logger(__name__)

ProviderChoice = Literal["auto", "sampling", "configured"]
DEFAULT_MAX_TOKENS = 4096
"""Sampling requires a completion cap; used when the caller gives none."""

NO_PROVIDER = (
    "no model to run the loop with: {why} Either configure an OpenAI-compatible provider "
    "(LOOPCORE_PROVIDER_BASE_URL and LOOPCORE_PROVIDER_MODEL, plus LOOPCORE_PROVIDER_API_KEY "
    "when it needs one), or drive the loop yourself: loop_start, then loop_step with each "
    "attempt until decision is 'stop', then loop_end."
)


@dataclass(frozen=True, kw_only=True, slots=True)
class SamplingStatus:
    """Whether a tool can push sampling requests to this client, and why not."""

    available: bool
    reason: str


def sampling_status(ctx: Context[Any, Any]) -> SamplingStatus:
    """Check the client's declared ``sampling`` capability and the session's back-channel."""
    caps = ctx.client_capabilities
    if caps is None or caps.sampling is None:
        return SamplingStatus(available=False, reason="the host did not offer sampling")
    if not ctx.session.can_send_request:
        return SamplingStatus(
            available=False,
            reason=(
                f"the host offers sampling, but this session (protocol "
                f"{ctx.protocol_version or '?'}) has no back-channel for requests from a tool; "
                "mid-call sampling needs the legacy handshake (protocol 2025-11-25 or older)"
            ),
        )
    return SamplingStatus(available=True, reason="the host offers sampling")


def sampling_available(ctx: Context[Any, Any]) -> bool:
    """True when a tool can send ``sampling/createMessage`` to this client now."""
    return sampling_status(ctx).available


def to_sampling(messages: Sequence[Message]) -> tuple[str | None, list[SamplingMessage]]:
    """Chat messages as sampling's system prompt and user/assistant messages."""
    system = "\n\n".join(m.content for m in messages if m.role == "system") or None
    turns = [
        SamplingMessage(role=m.role, content=TextContent(type="text", text=m.content))
        for m in messages
        if m.role != "system"
    ]
    return system, turns


def completion_of(result: CreateMessageResult) -> Completion:
    """The text of a sampling answer (hosts report no token usage: counts stay 0).

    Raises:
        ProviderError: the answer is not text (an image or audio).
    """
    content = result.content
    if not isinstance(content, TextContent):
        kind = getattr(content, "type", type(content).__name__)
        raise ProviderError(f"the host's model answered with {kind} content, not text")
    return Completion(text=content.text, model=result.model or "")


class SamplingProvider:
    """A ``Provider`` that asks the host's model through MCP sampling (legacy handshake).

    Args:
        ctx: the tool call's context; requests are tied to this call.
        default_max_tokens: the completion cap when the caller gives none.
    """

    def __init__(self, ctx: Context[Any, Any], *, default_max_tokens: int = DEFAULT_MAX_TOKENS):
        self._ctx = ctx
        self._default_max_tokens = default_max_tokens
        self.last_model = ""

    @property
    def name(self) -> str:
        """``sampling`` plus the model the host last reported, when it did."""
        return f"sampling:{self.last_model}" if self.last_model else "sampling"

    async def complete(
        self,
        messages: Sequence[Message],
        *,
        max_tokens: int | None = None,
        temperature: float | None = None,
    ) -> Completion:
        """Send one ``sampling/createMessage`` and return the host's answer.

        Raises:
            ProviderError: the host refused or failed, the session cannot send
                requests, or the answer is not text.
        """
        system, turns = to_sampling(messages)
        try:
            result = await self._ctx.session.create_message(
                turns,
                max_tokens=max_tokens or self._default_max_tokens,
                system_prompt=system,
                temperature=temperature,
                related_request_id=self._ctx.request_id,
            )
        except NoBackChannelError as exc:
            raise ProviderError(f"host sampling is not possible on this session: {exc}") from exc
        except MCPError as exc:
            raise ProviderError(f"the host refused or failed the sampling request: {exc}") from exc
        except ValidationError as exc:
            raise ProviderError("the host answered the sampling request malformed") from exc
        completion = completion_of(result)
        self.last_model = completion.model
        return completion


@dataclass(frozen=True, kw_only=True)
class ChosenProvider:
    """The provider a tool runs on, and which kind it is."""

    provider: Provider
    kind: Literal["sampling", "configured"]
    reason: str

    @property
    def model(self) -> str:
        """The model name, as far as it is known (a host names it only in its answers)."""
        if isinstance(self.provider, SamplingProvider):
            return self.provider.last_model
        # Already imported when such a provider exists (configured_provider built it).
        from loopcore.providers.openai_compat import OpenAICompatProvider

        if isinstance(self.provider, OpenAICompatProvider):
            return self.provider.model
        return ""


def _unavailable(want: ProviderChoice, status: SamplingStatus) -> str:
    """Why the wanted provider cannot run: the first sentence of ``NO_PROVIDER``."""
    if want == "sampling":
        return f"provider='sampling' was asked for, but {status.reason}."
    if want == "configured":
        return "provider='configured' was asked for, but no OpenAI-compatible provider is set."
    return f"{status.reason}, and no OpenAI-compatible provider is configured."


@asynccontextmanager
async def open_provider(
    ctx: Context[Any, Any], settings: Settings, want: ProviderChoice = "auto"
) -> AsyncIterator[ChosenProvider]:
    """Pick the provider: host sampling when available (``auto``), else the configured one.

    The configured provider's connection pool is closed when the block ends.

    Raises:
        ProviderError: neither the wanted provider nor a fallback can run; the
            message points to the agent-driven loop tools.
    """
    status = sampling_status(ctx)
    if want in ("auto", "sampling") and status.available:
        log.info("provider.chosen", kind="sampling")
        yield ChosenProvider(provider=SamplingProvider(ctx), kind="sampling", reason=status.reason)
        return
    http = configured_provider(settings) if want != "sampling" else None
    if http is None:
        raise ProviderError(NO_PROVIDER.format(why=_unavailable(want, status)))
    reason = "configured provider" + ("" if want == "configured" else f" ({status.reason})")
    log.info("provider.chosen", kind="configured", model=http.model)
    async with http:
        yield ChosenProvider(provider=http, kind="configured", reason=reason)


def sampling_judge(ctx: Context[Any, Any]) -> ProviderJudge | None:
    """The host's model as the judge of this call, where the session offers sampling."""
    if not sampling_available(ctx):
        return None
    sampler = SamplingProvider(ctx)
    return ProviderJudge(lambda: sampler, "host model (sampling)")
