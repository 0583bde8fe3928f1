"""The floor: the fastest server the SDK makes, one trivial tool, started like loopcore.

Every loopcore figure in ``bench/`` is set against this server measured in the
same run: a bare ``MCPServer`` with one ``async def echo`` tool (no lifespan,
no store, no logging set-up), served over stdio by the same SDK call as
``loopcore serve`` (``anyio.run(server.run_stdio_async)``).

    .venv/bin/python bench/floor_server.py        # speaks MCP on stdin/stdout
"""

from __future__ import annotations

import anyio
from mcp.server.mcpserver import MCPServer

__all__ = ["build_floor"]


def build_floor() -> MCPServer:
    """A bare ``MCPServer`` named ``floor`` with one tool, ``echo(text) -> text``."""
    mcp = MCPServer("floor", version="0.0.0")

    @mcp.tool()
    async def echo(text: str) -> str:
        """Return ``text`` unchanged."""
        return text

    return mcp


if __name__ == "__main__":
    anyio.run(build_floor().run_stdio_async)
