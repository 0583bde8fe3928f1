"""Domain errors translated once into tool errors a model can act on.

A ``LoopcoreError`` becomes a ``ToolError`` whose text says what kind of
problem it was, which field, and what is allowed (the domain's message carries
the last two). Anything else is left to the SDK, which logs it on stderr with
its traceback and answers only ``Error executing tool <name>``: internals never
reach the client, and the session stays usable either way.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Awaitable, Callable
from typing import Any, ParamSpec, TypeVar, cast

from mcp.server.mcpserver.exceptions import ToolError

from loopcore.errors import (
    Conflict,
    InvalidInput,
    LoopcoreError,
    NotFound,
    ProviderError,
    StoreError,
)

__all__ = ["map_errors", "to_tool_error"]

P = ParamSpec("P")
R = TypeVar("R")

_KINDS: tuple[tuple[type[LoopcoreError], str], ...] = (
    (InvalidInput, "invalid input"),
    (NotFound, "not found"),
    (Conflict, "conflict"),
    (StoreError, "storage problem"),
    (ProviderError, "model provider problem"),
)


def to_tool_error(exc: LoopcoreError) -> ToolError:
    """The tool error for a domain error: ``<kind>: <message>``."""
    kind = next((label for cls, label in _KINDS if isinstance(exc, cls)), "error")
    return ToolError(f"{kind}: {exc}")


def map_errors(fn: Callable[P, R]) -> Callable[P, R]:
    """Wrap a tool function (sync or async) so domain errors become tool errors.

    The wrapper keeps the signature and annotations the SDK reads to build the
    tool's schemas, and stays sync or async like ``fn`` (sync tools run in a
    worker thread).
    """
    if inspect.iscoroutinefunction(fn):
        afn = cast(Callable[..., Awaitable[Any]], fn)

        @functools.wraps(fn)
        async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
            try:
                return await afn(*args, **kwargs)
            except LoopcoreError as exc:
                raise to_tool_error(exc) from exc

        return cast(Callable[P, R], async_wrapper)

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except LoopcoreError as exc:
            raise to_tool_error(exc) from exc

    return wrapper
