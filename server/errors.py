"""Domain errors translated once into tool errors a model can act on.

A ``LoopcoreError`` becomes a ``ToolError`` whose text says what kind of
problem it was, which field, and what is allowed (the domain's message carries
the last two), then what to call next: the domain names no tool, so the hints
live here (``HINTS``, by the error's ``kind`` first, then its class).
Anything else is left to the SDK, which logs it on stderr with its traceback
and answers only ``Error executing tool <name>``: internals never reach the
client, and the session stays usable either way.

Advice fits the tool set: under ``LOOPCORE_TOOLS=core`` a message never names a
tool the session cannot call; a hint naming one is replaced by what the core
tools offer (``CORE_HINTS``), and ``fit_advice`` replaces such advice in the
reasons results carry (``CORE_ADVICE``).
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

__all__ = [
    "CORE_ADVICE",
    "CORE_HINTS",
    "HINTS",
    "fit_advice",
    "hint_for",
    "map_errors",
    "to_tool_error",
]

# Advice written for the whole tool set (by the domain or a tool), and what a session with only
# the core tools does instead. A test checks that each phrase still occurs in the sources.
CORE_ADVICE: tuple[tuple[str, str], ...] = (
    (
        "retry one (set its status to pending), skip it (status skipped) or replan the plan",
        "record one again with plan_record (a better output, or an output_score)",
    ),
    (
        "; replan_policy is 'block': the plan must be replanned before more work is handed out",
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
        "pass output_score, or give the task an acceptance spec",
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


# The hints above that name a tool outside the core set, as a core session recovers instead.
CORE_HINTS: dict[str, str] = {
    "call plan_list to see existing plans": "check the plan_id that plan_create returned",
    "plan_update_task sets its status": "plan_record it again (a better output)",
    "plan_replan sets one": "",  # the message's own advice is fit for core (CORE_ADVICE)
    "pass the next_cursor plan_list returned": "",
    "loop_status shows it": "loop_step again",
    "call plan_status with verbose=true to list its tasks": (
        "call plan_status with verbose=true to list its tasks"
    ),
}


def hint_for(exc: LoopcoreError, toolset: str = "all") -> str | None:
    """The tool hint for ``exc``: by its kind, else by the nearest class that has one."""
    if exc.kind is not None and exc.kind in HINTS:
        hint: str | None = HINTS[exc.kind]
    else:
        hint = next((HINTS[c] for c in type(exc).__mro__ if c in HINTS), None)
    if hint is not None and toolset == "core":
        hint = CORE_HINTS.get(hint, hint) or None
    return hint


def fit_advice(text: str, toolset: str) -> str:
    """``text`` with advice that names tools outside ``toolset`` replaced (see ``CORE_ADVICE``)."""
    if toolset != "core":
        return text
    for full, core in CORE_ADVICE:
        text = text.replace(full, core)
    return text


def to_tool_error(exc: LoopcoreError, toolset: str = "all") -> ToolError:
    """The tool error for a domain error: ``<kind>: <message>[; <hint>]``, fit to ``toolset``."""
    kind = next((label for cls, label in _KINDS if isinstance(exc, cls)), "error")
    hint = hint_for(exc, toolset)
    text = fit_advice(str(exc), toolset)
    return ToolError(f"{kind}: {text}; {hint}" if hint else f"{kind}: {text}")


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
