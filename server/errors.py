"""Domain errors translated once into tool errors a model can act on.

A ``LoopcoreError`` becomes a ``ToolError`` whose text says what kind of
problem it was, which field, and what is allowed (the domain's message carries
the last two). Anything else is left to the SDK, which logs it on stderr with
its traceback and answers only ``Error executing tool <name>``: internals never
reach the client, and the session stays usable either way.

Advice fits the tool set: under ``LOOPCORE_TOOLS=core`` a message never names a
tool the session cannot call; ``fit_advice`` replaces such advice with the
recovery the core tools offer (``CORE_ADVICE``), in errors and in the reasons
results carry.
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

__all__ = ["CORE_ADVICE", "fit_advice", "map_errors", "to_tool_error"]

# Advice written for the whole tool set (by the domain or a tool), and what a session with only
# the core tools does instead. A test checks that each phrase still occurs in the sources.
CORE_ADVICE: tuple[tuple[str, str], ...] = (
    (
        "retry one (plan_update_task status=pending), skip it (status=skipped) or call plan_replan",
        "record one again with plan_record (a better output, or an output_score)",
    ),
    (
        "; replan_policy is 'block': call plan_replan before taking more work",
        "; replan_policy is 'block': record a failed or weak task again with plan_record "
        "(a better output) to raise the confidence",
    ),
    ("call plan_list to see existing plans", "check the plan_id that plan_create returned"),
    (
        "When a result says needs_replan, call plan_explain, then plan_replan with the reason.",
        "When a result says needs_replan, record a failed or weak task again with plan_record "
        "(a better output) to raise the confidence.",
    ),
    (
        "When needs_replan is true, read plan_explain and call plan_replan.",
        "When needs_replan is true, record a failed or weak task again with a better output.",
    ),
    (
        "pass output_score, or give the task an acceptance spec with plan_replan",
        "pass output_score (0..1) instead, or check the output with verify_output and an "
        "evaluator first",
    ),
)


P = ParamSpec("P")
R = TypeVar("R")

_KINDS: tuple[tuple[type[LoopcoreError], str], ...] = (
    (InvalidInput, "invalid input"),
    (NotFound, "not found"),
    (Conflict, "conflict"),
    (StoreError, "storage problem"),
    (ProviderError, "model provider problem"),
)


def fit_advice(text: str, toolset: str) -> str:
    """``text`` with advice that names tools outside ``toolset`` replaced (see ``CORE_ADVICE``)."""
    if toolset != "core":
        return text
    for full, core in CORE_ADVICE:
        text = text.replace(full, core)
    return text


def to_tool_error(exc: LoopcoreError, toolset: str = "all") -> ToolError:
    """The tool error for a domain error: ``<kind>: <message>``, its advice fit to ``toolset``."""
    kind = next((label for cls, label in _KINDS if isinstance(exc, cls)), "error")
    return ToolError(f"{kind}: {fit_advice(str(exc), toolset)}")


def map_errors(fn: Callable[P, R], toolset: str = "all") -> Callable[P, R]:
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
                raise to_tool_error(exc, toolset) from exc

        return cast(Callable[P, R], async_wrapper)

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except LoopcoreError as exc:
            raise to_tool_error(exc, toolset) from exc

    return wrapper
