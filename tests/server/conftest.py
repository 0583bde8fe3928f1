"""The MCP-layer fixtures: one in-memory client per protocol era."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from mcp import Client

from server.app import build_server
from tests.server.helpers import MODES, make_settings


@pytest.fixture(params=MODES)
def mode(request: pytest.FixtureRequest) -> str:
    """Each protocol era in turn."""
    return str(request.param)


@pytest.fixture
async def client(tmp_path: Path, mode: str) -> AsyncIterator[Client]:
    """An in-memory client of a server on a fresh database, in each protocol era."""
    async with Client(build_server(make_settings(tmp_path)), mode=mode) as c:
        yield c
