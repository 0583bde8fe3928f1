"""Domain errors become tool errors that say what kind of problem, which field, what is allowed."""

from __future__ import annotations

from pathlib import Path

import pytest
from mcp.server.mcpserver.exceptions import ToolError

from loopcore.errors import (
    Conflict,
    InvalidInput,
    LoopcoreError,
    LoopNotFound,
    PlanNotFound,
    ProviderError,
    StoreError,
    TaskNotFound,
)
from server.errors import HINTS, hint_for, map_errors, to_tool_error

LOOPCORE = Path(__file__).resolve().parents[2] / "loopcore"


@pytest.mark.parametrize(
    ("exc", "text"),
    [
        (
            InvalidInput("must be in [0, 1]", field="score"),
            "invalid input: score: must be in [0, 1]",
        ),
        (PlanNotFound("pl_x"), "not found: no plan with id 'pl_x'"),
        (LoopNotFound("lp_x"), "not found: no loop with id 'lp_x'"),
        (Conflict("archived"), "conflict: archived"),
        (StoreError("disk full"), "storage problem: disk full"),
        (ProviderError("401"), "model provider problem: 401"),
        (LoopcoreError("odd"), "error: odd"),
    ],
)
def test_each_kind_is_labelled(exc: LoopcoreError, text: str) -> None:
    """Each branch of the exception tree gets its own label before the domain's message."""
    assert str(to_tool_error(exc)).startswith(text)


def test_sync_wrapper_maps_and_keeps_the_signature() -> None:
    """A wrapped sync function raises ToolError and keeps its name and annotations."""

    def tool(x: int) -> int:
        raise InvalidInput("too big", field="x")

    wrapped = map_errors(tool)
    assert (wrapped.__name__, wrapped.__annotations__) == ("tool", tool.__annotations__)
    with pytest.raises(ToolError, match="invalid input: x: too big"):
        wrapped(1)


@pytest.mark.anyio
async def test_async_wrapper_maps() -> None:
    """A wrapped async function stays a coroutine function and maps domain errors."""

    async def tool() -> None:
        raise Conflict("taken")

    with pytest.raises(ToolError, match="conflict: taken"):
        await map_errors(tool)()


def test_other_exceptions_pass_through() -> None:
    """Anything that is not a LoopcoreError is left for the SDK to log and withhold."""

    def tool() -> None:
        raise KeyError("bug")

    with pytest.raises(KeyError):
        map_errors(tool)()


@pytest.mark.parametrize(
    ("exc", "text"),
    [
        (PlanNotFound("pl_x"), "not found: no plan with id 'pl_x'; call plan_list"),
        (TaskNotFound("pl_x", "t"), "plan 'pl_x' has no task 't'; call plan_status with verbose"),
        (LoopNotFound("lp_x"), "not found: no loop with id 'lp_x'; call loop_start to open one"),
        (Conflict("loop 'l' already stopped", kind="loop_stopped"), "stopped; call loop_end"),
        (InvalidInput("bad", field="cursor", kind="bad_cursor"), "bad; pass the next_cursor"),
    ],
)
def test_the_server_adds_the_tool_hint(exc: LoopcoreError, text: str) -> None:
    """The domain names no tool; the tool error ends with what to call next."""
    assert text in str(to_tool_error(exc))


def test_every_hint_kind_is_one_the_domain_raises() -> None:
    """Each kind in HINTS is written somewhere under loopcore/ (no hint for a case that is gone)."""
    sources = "".join(p.read_text(encoding="utf-8") for p in LOOPCORE.rglob("*.py"))
    kinds = [k for k in HINTS if isinstance(k, str)]
    assert kinds and all(f'kind="{k}"' in sources for k in kinds)


def test_an_error_without_a_hint_is_left_as_it_is() -> None:
    """A plain conflict gets no hint appended."""
    assert hint_for(Conflict("archived")) is None
    assert str(to_tool_error(Conflict("archived"))) == "conflict: archived"
