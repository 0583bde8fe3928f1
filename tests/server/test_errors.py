"""Domain errors become tool errors that say what kind of problem, which field, what is allowed."""

from __future__ import annotations

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
)
from server.errors import map_errors, to_tool_error


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
