"""Which project a session works in: ``LOOPCORE_PROJECT``, else the host's first root, else the cwd.

Hosts start servers in all sorts of directories (``/``, the home directory), so
the working directory is a poor project key. A host of the handshake era that
offers roots (``roots/list``) says which folder the user opened: its first root
is the project, asked once per connection and kept in the connection's state.
``LOOPCORE_PROJECT`` always wins; with neither, the working directory.

``LoopcoreServer`` resolves it before every tool call, resource read and
completion and sets ``CURRENT_PROJECT`` for that request; ``Deps.project`` (and
so every service the tools use) reads it.
"""

from __future__ import annotations

import contextvars
from typing import Any
from urllib.parse import unquote, urlparse

import anyio
import structlog
from mcp.server.context import ServerRequestContext
from mcp.types import ClientCapabilities, RootsCapability

__all__ = ["CURRENT_PROJECT", "project_of_roots", "session_project"]

log = structlog.get_logger(__name__)

CURRENT_PROJECT: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "loopcore_project", default=None
)
_KEY = "loopcore.project"
ROOTS_TIMEOUT_S = 5.0


def project_of_roots(uris: list[str]) -> str | None:
    """The project key of a roots list: the first ``file://`` root's path."""
    for uri in uris:
        parsed = urlparse(uri)
        if parsed.scheme == "file" and parsed.path:
            return unquote(parsed.path).rstrip("/") or "/"
    return None


async def _ask_roots(ctx: ServerRequestContext[Any, Any]) -> str | None:
    session = ctx.session
    wanted = ClientCapabilities(roots=RootsCapability())
    if not session.can_send_request or not session.check_client_capability(wanted):
        return None
    try:
        with anyio.fail_after(ROOTS_TIMEOUT_S):
            result = await session.list_roots()
    except Exception as exc:
        log.info("roots_unavailable", reason=type(exc).__name__)
        return None
    return project_of_roots([str(r.uri) for r in result.roots])


async def session_project(
    ctx: ServerRequestContext[Any, Any] | None, configured: str | None, fallback: str
) -> str:
    """The project of the session ``ctx`` belongs to (asked once per connection).

    Args:
        ctx: the request's context (None outside a request: ``fallback``).
        configured: ``LOOPCORE_PROJECT`` when set (it always wins).
        fallback: the working directory's key.
    """
    if configured:
        return configured
    if ctx is None:
        return fallback
    state: dict[str, Any] = ctx.session._connection.state
    if _KEY not in state:
        found = await _ask_roots(ctx)
        state[_KEY] = found or fallback
        log.info("session_project", project=state[_KEY], source="roots" if found else "cwd")
    return str(state[_KEY])
