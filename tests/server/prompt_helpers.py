"""Shared pieces of the intercept / refine / sampling / insights tests.

A server on a real SQLite file, and client-side callbacks that play the host:
a scripted model for sampling and a scripted user for elicitation. Each test
opens its own ``Client`` (a yielding Client fixture breaks under pytest-asyncio).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mcp.client.context import ClientRequestContext
from mcp.server.mcpserver import MCPServer
from mcp.types import (
    CreateMessageRequestParams,
    CreateMessageResult,
    ElicitRequestParams,
    ElicitResult,
    ErrorData,
    TextContent,
)

from loopcore.store import SqliteStore, open_store
from server.app import build_server
from server.settings import Settings
from tests.server.helpers import MODES as MODES  # re-exported for the intercept tests

GOOD_RUBRIC = json.dumps(
    {
        "goal": True,
        "expected_behaviour": True,
        "location": True,
        "acceptance": True,
        "score": 0.95,
        "notes": "clear enough",
    }
)


@contextmanager
def served(tmp_path: Path, **settings: Any) -> Iterator[tuple[MCPServer[Any], SqliteStore]]:
    """A loopcore server on a fresh database file (closed at the end)."""
    store, _ = open_store(tmp_path / "loopcore.db")
    try:
        yield build_server(Settings(project="proj", **settings), store=store), store
    finally:
        store.close()


@dataclass
class HostModel:
    """A sampling callback answering scripted texts in turn (the last one repeats)."""

    texts: list[str]
    model: str = "host-model"
    error: str | None = None
    seen: list[CreateMessageRequestParams] = field(default_factory=list)

    async def __call__(
        self, context: ClientRequestContext, params: CreateMessageRequestParams
    ) -> CreateMessageResult | ErrorData:
        self.seen.append(params)
        if self.error is not None:
            return ErrorData(code=-1, message=self.error)
        text = self.texts[min(len(self.seen), len(self.texts)) - 1]
        return CreateMessageResult(
            role="assistant", content=TextContent(type="text", text=text), model=self.model
        )


@dataclass
class User:
    """An elicitation callback: accepts with answers (filled into the asked fields), or not."""

    action: str = "accept"
    answer: str = "in src/net.py, download() should retry 3 times then raise"
    seen: list[ElicitRequestParams] = field(default_factory=list)

    async def __call__(
        self, context: ClientRequestContext, params: ElicitRequestParams
    ) -> ElicitResult:
        self.seen.append(params)
        if self.action != "accept":
            return ElicitResult(action=self.action)  # type: ignore[arg-type]
        fields = getattr(params, "requested_schema", {}).get("properties", {})
        return ElicitResult(action="accept", content={name: self.answer for name in fields})
