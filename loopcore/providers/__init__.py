"""Model providers behind one protocol."""

from __future__ import annotations

from loopcore.providers.base import Completion, Message, Provider

__all__ = ["Completion", "Message", "Provider"]
