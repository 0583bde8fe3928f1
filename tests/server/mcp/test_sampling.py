"""The sampling adapter and the provider choice, over real in-memory MCP sessions."""

from __future__ import annotations

from typing import Any

import pytest
from mcp import Client
from mcp.client.context import ClientRequestContext
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import CreateMessageRequestParams, CreateMessageResult, ImageContent

from loopcore.errors import ProviderError
from loopcore.providers.base import Message
from server.mcp.sampling import (
    SamplingProvider,
    configured_provider,
    open_provider,
    sampling_status,
    to_sampling,
)
from server.settings import Settings
from tests.loopcore.providers.chat_server import chat_reply, running_chat_server
from tests.server.prompt_helpers import HostModel

CHAT = [
    Message(role="system", content="Be brief."),
    Message(role="user", content="Say hi."),
]


def probe_server(settings: Settings) -> MCPServer[Any]:
    """A bare server whose tools exercise server.mcp.sampling from inside a call."""
    mcp: MCPServer[Any] = MCPServer("probe")

    @mcp.tool()
    async def status(ctx: Context[Any, Any]) -> dict[str, Any]:
        st = sampling_status(ctx)
        return {"available": st.available, "reason": st.reason}

    @mcp.tool()
    async def ask(ctx: Context[Any, Any]) -> dict[str, Any]:
        provider = SamplingProvider(ctx)
        try:
            done = await provider.complete(CHAT, max_tokens=50, temperature=0.3)
        except ProviderError as exc:
            raise ToolError(f"provider error: {exc}") from exc
        return {"text": done.text, "model": done.model, "name": provider.name}

    @mcp.tool()
    async def choose(want: str, ctx: Context[Any, Any]) -> dict[str, Any]:
        try:
            async with open_provider(ctx, settings, want) as chosen:  # type: ignore[arg-type]
                done = await chosen.provider.complete(CHAT)
                return {"kind": chosen.kind, "text": done.text, "model": chosen.model}
        except ProviderError as exc:
            raise ToolError(str(exc)) from exc

    return mcp


def text_of(result: Any) -> str:
    """The first text block of a tool result."""
    return str(result.content[0].text)


@pytest.mark.anyio
async def test_legacy_client_with_sampling_is_available() -> None:
    """A legacy-handshake client that declares sampling can be sampled mid-call."""
    async with Client(
        probe_server(Settings()), mode="legacy", sampling_callback=HostModel(["x"])
    ) as c:
        r = await c.call_tool("status", {})
    assert r.structured_content == {"available": True, "reason": "the host offers sampling"}


@pytest.mark.anyio
async def test_client_without_sampling_is_not_available() -> None:
    """No sampling callback, no capability: unavailable, and the reason says so."""
    async with Client(probe_server(Settings()), mode="legacy") as c:
        r = await c.call_tool("status", {})
    assert r.structured_content == {
        "available": False,
        "reason": "the host did not offer sampling",
    }


@pytest.mark.anyio
async def test_modern_era_has_no_back_channel_for_sampling() -> None:
    """On 2026-07-28 the capability is declared but a tool cannot push a request (observed)."""
    async with Client(
        probe_server(Settings()), mode="2026-07-28", sampling_callback=HostModel(["x"])
    ) as c:
        r = await c.call_tool("status", {})
    assert r.structured_content is not None
    assert r.structured_content["available"] is False
    assert "no back-channel" in r.structured_content["reason"]
    assert "2026-07-28" in r.structured_content["reason"]


@pytest.mark.anyio
async def test_sampling_provider_returns_the_hosts_answer() -> None:
    """complete() sends one createMessage and returns the text and the reported model."""
    host = HostModel(["hello there"], model="claude-test")
    async with Client(probe_server(Settings()), mode="legacy", sampling_callback=host) as c:
        r = await c.call_tool("ask", {})
    assert r.structured_content == {
        "text": "hello there",
        "model": "claude-test",
        "name": "sampling:claude-test",
    }


@pytest.mark.anyio
async def test_sampling_request_carries_system_prompt_and_options() -> None:
    """System messages become systemPrompt; the cap and temperature are passed through."""
    host = HostModel(["ok"])
    async with Client(probe_server(Settings()), mode="legacy", sampling_callback=host) as c:
        await c.call_tool("ask", {})
    params = host.seen[0]
    assert params.system_prompt == "Be brief."
    assert [(m.role, m.content.text) for m in params.messages] == [("user", "Say hi.")]  # type: ignore[union-attr]
    assert (params.max_tokens, params.temperature) == (50, 0.3)


@pytest.mark.anyio
async def test_host_refusal_is_a_provider_error() -> None:
    """A host that answers the sampling request with an error gives a ProviderError."""
    host = HostModel(["x"], error="user rejected sampling")
    async with Client(probe_server(Settings()), mode="legacy", sampling_callback=host) as c:
        r = await c.call_tool("ask", {})
    assert r.is_error
    assert "refused or failed the sampling request: user rejected sampling" in text_of(r)


@pytest.mark.anyio
async def test_non_text_answer_is_a_provider_error() -> None:
    """An image answer cannot feed a text loop: ProviderError naming the content type."""

    async def image(
        context: ClientRequestContext, params: CreateMessageRequestParams
    ) -> CreateMessageResult:
        content = ImageContent(type="image", data="aGk=", mime_type="image/png")
        return CreateMessageResult(role="assistant", content=content, model="m")

    async with Client(probe_server(Settings()), mode="legacy", sampling_callback=image) as c:
        r = await c.call_tool("ask", {})
    assert r.is_error
    assert "answered with image content, not text" in text_of(r)


@pytest.mark.anyio
async def test_auto_prefers_host_sampling_when_available() -> None:
    """auto picks sampling on a legacy client that offers it, even with a provider configured."""
    settings = Settings(provider_base_url="http://127.0.0.1:9/v1", provider_model="m")
    host = HostModel(["from host"])
    async with Client(probe_server(settings), mode="legacy", sampling_callback=host) as c:
        r = await c.call_tool("choose", {"want": "auto"})
    assert r.structured_content == {"kind": "sampling", "text": "from host", "model": "host-model"}


@pytest.mark.anyio
async def test_auto_falls_back_to_the_configured_http_provider() -> None:
    """Without sampling, auto uses the configured OpenAI-compatible endpoint (real HTTP)."""
    with running_chat_server() as chat:
        chat.script(chat_reply("from http"))
        settings = Settings(provider_base_url=chat.base_url, provider_model="served-model")
        async with Client(probe_server(settings), mode="2026-07-28") as c:
            r = await c.call_tool("choose", {"want": "auto"})
    assert r.structured_content == {
        "kind": "configured",
        "text": "from http",
        "model": "served-model",
    }
    assert chat.seen[0].body["messages"][0] == {"role": "system", "content": "Be brief."}


@pytest.mark.anyio
async def test_no_provider_error_points_to_the_agent_driven_tools() -> None:
    """Neither sampling nor a configured provider: the error names both ways out."""
    async with Client(probe_server(Settings()), mode="legacy") as c:
        r = await c.call_tool("choose", {"want": "auto"})
    assert r.is_error
    text = text_of(r)
    assert "the host did not offer sampling, and no OpenAI-compatible provider" in text
    assert "LOOPCORE_PROVIDER_BASE_URL" in text
    assert "loop_start, then loop_step" in text


@pytest.mark.anyio
async def test_explicit_sampling_without_capability_is_refused() -> None:
    """provider='sampling' does not fall back to the configured provider."""
    settings = Settings(provider_base_url="http://127.0.0.1:9/v1", provider_model="m")
    async with Client(probe_server(settings), mode="legacy") as c:
        r = await c.call_tool("choose", {"want": "sampling"})
    assert r.is_error
    assert "provider='sampling' was asked for, but the host did not offer sampling" in text_of(r)


@pytest.mark.anyio
async def test_explicit_configured_skips_host_sampling() -> None:
    """provider='configured' without settings is refused even when the host could sample."""
    host = HostModel(["x"])
    async with Client(probe_server(Settings()), mode="legacy", sampling_callback=host) as c:
        r = await c.call_tool("choose", {"want": "configured"})
    assert r.is_error
    assert "provider='configured' was asked for" in text_of(r)
    assert host.seen == []


def test_to_sampling_joins_system_messages_and_keeps_turns() -> None:
    """System messages are joined into one prompt; user and assistant turns stay in order."""
    system, turns = to_sampling(
        [
            Message(role="system", content="A"),
            Message(role="user", content="q"),
            Message(role="system", content="B"),
            Message(role="assistant", content="a"),
        ]
    )
    assert system == "A\n\nB"
    assert [(t.role, t.content.text) for t in turns] == [("user", "q"), ("assistant", "a")]  # type: ignore[union-attr]


def test_configured_provider_needs_url_and_model() -> None:
    """Only a base URL and a model together make a configured provider."""
    assert configured_provider(Settings(provider_base_url="http://127.0.0.1:1/v1")) is None
    assert configured_provider(Settings(provider_model="m")) is None


def test_unusable_configured_provider_names_the_settings() -> None:
    """A base URL that is not http(s) is a ProviderError naming the variables to fix."""
    with pytest.raises(ProviderError, match="LOOPCORE_PROVIDER_BASE_URL"):
        configured_provider(Settings(provider_base_url="ftp://x", provider_model="m"))
