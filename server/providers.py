"""The configured OpenAI-compatible provider, and models a ``judge`` evaluator asks.

Kept apart from ``server.mcp`` so the quick CLI verbs (``loopcore verify``, the hooks)
build evaluators without importing the MCP stack; the host's model through sampling is
``server.mcp.sampling.sampling_judge``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from typing import TYPE_CHECKING

import anyio
import anyio.from_thread

from loopcore.errors import InvalidInput, ProviderError
from loopcore.providers.base import Message, Provider
from server.settings import Settings

if TYPE_CHECKING:
    from loopcore.providers.openai_compat import OpenAICompatProvider

__all__ = ["ProviderJudge", "configured_judge", "configured_provider"]


def configured_provider(settings: Settings) -> OpenAICompatProvider | None:
    """The OpenAI-compatible provider the settings name, or None when they name none.

    Raises:
        ProviderError: the settings name one that cannot be built (e.g. a base URL
            that is not http(s)).
    """
    if not settings.provider_base_url or not settings.provider_model:
        return None
    # Imported here: httpx costs ~50 ms at start-up and only a configured provider needs it.
    from loopcore.providers.openai_compat import from_settings

    key = settings.provider_api_key.get_secret_value() if settings.provider_api_key else None
    try:
        return from_settings(settings.provider_base_url, settings.provider_model, key)
    except InvalidInput as exc:
        raise ProviderError(
            f"the configured provider is unusable ({exc}); check LOOPCORE_PROVIDER_BASE_URL "
            "and LOOPCORE_PROVIDER_MODEL"
        ) from exc


class ProviderJudge:
    """A ``JudgeModel`` over an async provider, for evaluators that run in worker threads.

    ``ask`` blocks its thread: from an anyio worker thread it runs the call on the
    server's event loop; elsewhere (the CLI, a plain thread) on an event loop of its own.

    Args:
        open_: makes the provider for one call (a configured provider's HTTP pool
            lives only as long as that call); ``label`` names the model before it answers.
    """

    def __init__(self, open_: Callable[[], Provider], label: str) -> None:
        self._open = open_
        self._label = label

    @property
    def name(self) -> str:
        """The model that judges."""
        return self._label

    def ask(self, messages: Sequence[Message], *, max_tokens: int) -> str:
        """The model's answer; ``ProviderError`` when it cannot give one."""

        async def call() -> str:
            provider = self._open()
            if isinstance(provider, AbstractAsyncContextManager):
                async with provider:
                    return (await provider.complete(messages, max_tokens=max_tokens)).text
            return (await provider.complete(messages, max_tokens=max_tokens)).text

        try:
            return anyio.from_thread.run(call)
        except RuntimeError as exc:
            if "event loop" not in str(exc) and "worker thread" not in str(exc):
                raise
            return anyio.run(call)


def configured_judge(settings: Settings) -> ProviderJudge | None:
    """The configured provider as a judge model, or None when the settings name none.

    Nothing is built here (a server starts even with a provider it cannot reach or
    parse): each ``ask`` builds the provider, and a failure is the judge's deficiency.
    """
    if not settings.provider_base_url or not settings.provider_model:
        return None

    def fresh() -> Provider:
        made = configured_provider(settings)
        if made is None:  # the settings were checked above; kept for the type checker
            raise ProviderError("no provider is configured")
        return made

    return ProviderJudge(fresh, f"openai_compat:{settings.provider_model}")
