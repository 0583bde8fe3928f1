"""Model providers behind one protocol.

``OpenAICompatProvider`` is imported on first use: it needs ``httpx`` (~50 ms of
start-up), and a server without a configured provider never builds one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from loopcore.providers.base import Completion, Message, Provider
from loopcore.providers.scripted import ScriptedProvider

if TYPE_CHECKING:
    from loopcore.providers.openai_compat import OpenAICompatProvider

__all__ = ["Completion", "Message", "OpenAICompatProvider", "Provider", "ScriptedProvider"]


def __getattr__(name: str) -> object:
    """``OpenAICompatProvider``, imported on first access."""
    if name == "OpenAICompatProvider":
        from loopcore.providers.openai_compat import OpenAICompatProvider

        return OpenAICompatProvider
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
