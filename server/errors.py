"""Domain errors translated once into tool errors a model can act on.

A ``LoopcoreError`` becomes a ``ToolError`` whose text says what kind of
problem it was, which field, and what is allowed (the domain's message carries
the last two), then what to call next: the domain names no tool, so the hints
live here (``HINTS``, by the error's ``kind`` first, then its class).
Anything else is left to the SDK, which logs it on stderr with its traceback
and answers only ``Error executing tool <name>``: internals never reach the
client, and the session stays usable either way.
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
    LoopNotFound,
    NotFound,
    PlanNotFound,
    ProviderError,
    StoreError,
    TaskNotFound,
)

__all__ = ["HINTS", "hint_for", "map_errors", "to_tool_error"]

P = ParamSpec("P")
R = TypeVar("R")

_KINDS: tuple[tuple[type[LoopcoreError], str], ...] = (
    (InvalidInput, "invalid input"),
    (NotFound, "not found"),
    (Conflict, "conflict"),
    (StoreError, "storage problem"),
    (ProviderError, "model provider problem"),
)


# What to call next, by the error's kind (a case its class does not tell apart) or its class.
HINTS: dict[str | type[LoopcoreError], str] = {
    PlanNotFound: "call plan_list to see existing plans",
    TaskNotFound: "call plan_status with verbose=true to list its tasks",
    LoopNotFound: "call loop_start to open one",
    "loop_stopped": "call loop_end",
    "loop_closed": "loop_start opens one",
    "loop_raced": "loop_status shows it",
    "plan_stale": "plan_status reads it",
    "task_held": "plan_update_task sets its status",
    "no_acceptance": "plan_replan sets one",
    "bad_cursor": "pass the next_cursor plan_list returned",
    "claim_only": "plan_next_task claims tasks",
}


def hint_for(exc: LoopcoreError) -> str | None:
    """The tool hint for ``exc``: by its kind, else by the nearest class that has one."""
    if exc.kind is not None and exc.kind in HINTS:
        return HINTS[exc.kind]
    return next((HINTS[c] for c in type(exc).__mro__ if c in HINTS), None)


def to_tool_error(exc: LoopcoreError) -> ToolError:
    """The tool error for a domain error: ``<kind>: <message>[; <hint>]``."""
    kind = next((label for cls, label in _KINDS if isinstance(exc, cls)), "error")
    hint = hint_for(exc)
    return ToolError(f"{kind}: {exc}; {hint}" if hint else f"{kind}: {exc}")


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
