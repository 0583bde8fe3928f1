"""The provider seam: anything that turns chat messages into a completion.

The refinement engine only knows this protocol. Implementations: the
OpenAI-compatible HTTP provider, the scripted provider for tests, and the
server's adapter over MCP sampling (the host's own model).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol, runtime_checkable

__all__ = ["Completion", "Message", "Provider"]

Role = Literal["system", "user", "assistant"]


@dataclass(frozen=True, kw_only=True, slots=True)
class Message:
    """One chat message."""

    role: Role
    content: str


@dataclass(frozen=True, kw_only=True, slots=True)
class Completion:
    """A model's answer and what it cost."""

    text: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    model: str = ""

    @property
    def total_tokens(self) -> int:
        """Prompt plus completion tokens."""
        return self.prompt_tokens + self.completion_tokens


@runtime_checkable
class Provider(Protocol):
    """Produces completions. Raises ``ProviderError`` when it cannot."""

    @property
    def name(self) -> str:
        """A short label saying which provider ran (e.g. ``"openai_compat:gpt-4o"``)."""
        ...

    async def complete(
        self,
        messages: Sequence[Message],
        *,
        max_tokens: int | None = None,
        temperature: float | None = None,
    ) -> Completion:
        """Return the model's completion of ``messages``."""
        ...
