"""Model providers behind one protocol."""

from __future__ import annotations

from loopcore.providers.base import Completion, Message, Provider
from loopcore.providers.openai_compat import OpenAICompatProvider
from loopcore.providers.scripted import ScriptedProvider

__all__ = ["Completion", "Message", "OpenAICompatProvider", "Provider", "ScriptedProvider"]
