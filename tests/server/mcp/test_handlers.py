"""logging/setLevel, completion/complete, ping and resource subscriptions (handshake era)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client, MCPError
from mcp.client.session import IncomingMessage
from mcp.types import (
    EmptyResult,
    PromptReference,
    ResourceTemplateReference,
    ResourceUpdatedNotification,
)
from structlog.testing import capture_logs

from loopcore.evaluators.factory import evaluator_types
from server.app import build_server
from server.mcp.handlers import MAX_URI_CHARS
from server.settings import Settings

PLAN_REF = ResourceTemplateReference(uri="loopcore://plans/{plan_id}")
TASKS = [
    {"id": "design", "title": "Design it"},
    {"id": "deploy", "title": "Deploy it", "depends_on": ["design"]},
    {"id": "docs", "title": "Document it"},
]


@pytest.fixture
def anyio_backend() -> str:
    """Run the anyio-marked tests on asyncio."""
    return "asyncio"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings on a temporary database, in a fixed project."""
    return Settings(db=tmp_path / "lc.db", project="protocol-tests")


async def _plan(client: Client, goal: str) -> str:
    result = await client.call_tool("plan_create", {"goal": goal, "tasks": TASKS})
    assert not result.is_error, result.content
    assert result.structured_content is not None
    plan_id: str = result.structured_content["plan_id"]
    return plan_id


@pytest.mark.anyio
async def test_capabilities_advertise_logging_completions_and_subscribe(settings: Settings) -> None:
    """The handshake advertises logging, completions and resources.subscribe."""
    async with Client(build_server(settings), mode="legacy") as client:
        caps = client.server_capabilities
    assert caps.logging is not None
    assert caps.completions is not None
    assert caps.resources is not None and caps.resources.subscribe is True


@pytest.mark.anyio
async def test_set_logging_level_answers_empty_and_is_logged(settings: Settings) -> None:
    """logging/setLevel returns {} and the new level is logged on the server's log."""
    async with Client(build_server(settings), mode="legacy") as client:
        with capture_logs() as logs:
            result = await client.set_logging_level("warning")
    assert result == EmptyResult()
    assert {"event": "client_log_level_set", "level": "warning"} in [
        {k: e[k] for k in ("event", "level") if k in e} for e in logs
    ]


@pytest.mark.anyio
async def test_ping_answers_empty(settings: Settings) -> None:
    """ping is answered with an empty result."""
    async with Client(build_server(settings), mode="legacy") as client:
        assert await client.send_ping() == EmptyResult()


@pytest.mark.anyio
async def test_plan_ids_complete_by_prefix(settings: Settings) -> None:
    """plan_id completes to this project's plan ids that start with the typed prefix."""
    async with Client(build_server(settings), mode="legacy") as client:
        first, second = await _plan(client, "ship v1"), await _plan(client, "ship v2")
        every = await client.complete(PLAN_REF, {"name": "plan_id", "value": ""})
        one = await client.complete(PLAN_REF, {"name": "plan_id", "value": first[:-1]})
    assert set(every.completion.values) == {first, second}
    assert every.completion.total == 2
    assert first in one.completion.values
    assert all(v.startswith(first[:-1]) for v in one.completion.values)


@pytest.mark.anyio
async def test_task_ids_complete_for_the_plan_in_context(settings: Settings) -> None:
    """task_id completes to the tasks of the plan_id already given in the context."""
    ref = ResourceTemplateReference(uri="loopcore://plans/{plan_id}/tasks/{task_id}")
    async with Client(build_server(settings), mode="legacy") as client:
        plan_id = await _plan(client, "ship v1")
        given = {"plan_id": plan_id}
        result = await client.complete(ref, {"name": "task_id", "value": "d"}, given)
    assert sorted(result.completion.values) == ["deploy", "design", "docs"]


@pytest.mark.anyio
async def test_task_ids_of_an_unknown_plan_complete_to_nothing(settings: Settings) -> None:
    """An unknown plan_id in the context gives no task ids, not an error."""
    ref = ResourceTemplateReference(uri="loopcore://plans/{plan_id}/tasks/{task_id}")
    async with Client(build_server(settings), mode="legacy") as client:
        result = await client.complete(
            ref, {"name": "task_id", "value": ""}, context_arguments={"plan_id": "nope"}
        )
    assert result.completion.values == []


@pytest.mark.anyio
async def test_evaluator_types_complete_from_the_registry(settings: Settings) -> None:
    """An evaluator argument completes to the registered evaluator types."""
    ref = PromptReference(name="scored_plan")
    async with Client(build_server(settings), mode="legacy") as client:
        every = await client.complete(ref, {"name": "evaluator", "value": ""})
        js = await client.complete(ref, {"name": "type", "value": "js"})
    assert every.completion.values == evaluator_types()
    assert js.completion.values == ["json_schema"]


@pytest.mark.anyio
async def test_unknown_arguments_complete_to_nothing(settings: Settings) -> None:
    """An argument loopcore knows nothing about (the conformance probe's) gets no values."""
    ref = PromptReference(name="test_prompt_with_arguments")
    async with Client(build_server(settings), mode="legacy") as client:
        result = await client.complete(ref, {"name": "arg1", "value": "test"})
    assert result.completion.values == []


@pytest.mark.anyio
async def test_completion_works_in_the_2026_era(settings: Settings) -> None:
    """completion/complete is answered on a 2026-07-28 connection too."""
    async with Client(build_server(settings)) as client:
        plan_id = await _plan(client, "ship v1")
        result = await client.complete(PLAN_REF, {"name": "plan_id", "value": ""})
    assert result.completion.values == [plan_id]


def _updates(received: list[str]) -> Any:
    async def handler(message: IncomingMessage) -> None:
        if isinstance(message, ResourceUpdatedNotification):
            received.append(message.params.uri)

    return handler


async def _settle() -> None:
    """Let in-flight notifications reach the in-memory client."""
    for _ in range(20):
        await anyio.sleep(0.01)


@pytest.mark.anyio
async def test_subscriber_hears_about_a_change_to_its_plan(settings: Settings) -> None:
    """After resources/subscribe, a change to that plan sends notifications/resources/updated."""
    received: list[str] = []
    async with Client(
        build_server(settings), mode="legacy", message_handler=_updates(received)
    ) as client:
        plan_id = await _plan(client, "ship v1")
        await client.subscribe_resource(f"loopcore://plans/{plan_id}")
        await client.call_tool(
            "plan_update_task", {"plan_id": plan_id, "task_id": "docs", "notes": "n"}
        )
        await _settle()
    assert received == [f"loopcore://plans/{plan_id}"]


@pytest.mark.anyio
async def test_unsubscribed_client_hears_nothing_more(settings: Settings) -> None:
    """After resources/unsubscribe, further changes send no notification."""
    received: list[str] = []
    async with Client(
        build_server(settings), mode="legacy", message_handler=_updates(received)
    ) as client:
        plan_id = await _plan(client, "ship v1")
        uri = f"loopcore://plans/{plan_id}"
        await client.subscribe_resource(uri)
        await client.unsubscribe_resource(uri)
        await client.call_tool(
            "plan_update_task", {"plan_id": plan_id, "task_id": "docs", "notes": "n"}
        )
        await _settle()
    assert received == []


@pytest.mark.anyio
async def test_any_uri_may_be_subscribed_and_unsubscribed(settings: Settings) -> None:
    """A URI with no resource yet (the conformance probe's) is accepted both ways."""
    async with Client(build_server(settings), mode="legacy") as client:
        assert await client.subscribe_resource("test://watched-resource") == EmptyResult()
        assert await client.unsubscribe_resource("test://watched-resource") == EmptyResult()


@pytest.mark.anyio
async def test_an_overlong_uri_is_refused(settings: Settings) -> None:
    """A URI longer than the limit is an invalid-params error naming the limit."""
    async with Client(build_server(settings), mode="legacy") as client:
        with pytest.raises(MCPError, match=f"longer than {MAX_URI_CHARS}"):
            await client.subscribe_resource("loopcore://" + "x" * MAX_URI_CHARS)
