"""Tests for the OpenAI-compatible provider against a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import random
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.utils import formatdate
from typing import Any

import pytest

from loopcore.clock import FixedClock
from loopcore.errors import InvalidInput, ProviderError
from loopcore.evaluators.base import EvalContext, Evaluation
from loopcore.loops.engine import RefineConfig, refine
from loopcore.loops.stopping import StopConfig
from loopcore.providers.base import Message
from loopcore.providers.openai_compat import (
    OLLAMA_BASE_URL,
    OPENROUTER_BASE_URL,
    OpenAICompatProvider,
    from_settings,
    ollama,
    openrouter,
    parse_retry_after,
)
from tests.loopcore.providers.chat_server import ChatServer, Reply, chat_reply, running_chat_server

KEY = "sk-test-secret-4242"
HELLO = [Message(role="user", content="Say hi.")]


@pytest.fixture
def server() -> Iterator[ChatServer]:
    """A scripted chat-completions server on an ephemeral port."""
    with running_chat_server() as s:
        yield s


@dataclass
class Sleeps:
    """A sleep that records the delay asked for instead of waiting."""

    delays: list[float] = field(default_factory=list)

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


def provider(server: ChatServer, sleeps: Sleeps | None = None, **kw: Any) -> OpenAICompatProvider:
    """A provider on the test server with a recording sleep and a seeded jitter."""
    return OpenAICompatProvider(
        base_url=server.base_url,
        model="test-model",
        api_key=kw.pop("api_key", KEY),
        sleep=sleeps if sleeps is not None else Sleeps(),
        rng=random.Random(7),
        **kw,
    )


# --- success -----------------------------------------------------------------------------


@pytest.mark.anyio
async def test_success_returns_text_usage_and_model(server: ChatServer) -> None:
    """A 200 answer gives its text, token usage and the served model."""
    server.script(chat_reply("hi there", prompt_tokens=12, completion_tokens=3))
    async with provider(server) as p:
        c = await p.complete(HELLO)
    assert (c.text, c.prompt_tokens, c.completion_tokens, c.model) == (
        "hi there",
        12,
        3,
        "served-model",
    )


@pytest.mark.anyio
async def test_request_shape(server: ChatServer) -> None:
    """The request goes to /v1/chat/completions with the bearer key, model, messages and options."""
    server.script(chat_reply("ok"))
    async with provider(server, extra_headers={"X-Title": "loopcore-tests"}) as p:
        await p.complete(
            [Message(role="system", content="S"), Message(role="user", content="U")],
            max_tokens=32,
            temperature=0.3,
        )
    (req,) = server.seen
    assert req.path == "/v1/chat/completions"
    assert (req.headers["authorization"], req.headers["x-title"]) == (
        f"Bearer {KEY}",
        "loopcore-tests",
    )
    assert req.body == {
        "model": "test-model",
        "messages": [{"role": "system", "content": "S"}, {"role": "user", "content": "U"}],
        "max_tokens": 32,
        "temperature": 0.3,
    }


@pytest.mark.anyio
async def test_no_key_sends_no_authorization(server: ChatServer) -> None:
    """Without an API key no Authorization header is sent, and unset options are omitted."""
    server.script(chat_reply("ok"))
    async with provider(server, api_key=None) as p:
        await p.complete(HELLO)
    assert "authorization" not in server.seen[0].headers
    assert set(server.seen[0].body) == {"model", "messages"}


@pytest.mark.anyio
async def test_missing_usage_counts_zero(server: ChatServer) -> None:
    """An answer without usage reports 0 tokens, and a list of text parts is joined."""
    body = {"choices": [{"message": {"content": [{"type": "text", "text": "a"}, {"text": "b"}]}}]}
    server.script(Reply(body=body))
    async with provider(server) as p:
        c = await p.complete(HELLO)
    assert (c.text, c.prompt_tokens, c.completion_tokens, c.model) == ("ab", 0, 0, "test-model")


# --- retries -----------------------------------------------------------------------------


@pytest.mark.anyio
async def test_429_then_success_honours_retry_after_seconds(server: ChatServer) -> None:
    """A 429 with Retry-After: 2 waits 2 s once, then succeeds."""
    server.script(Reply(status=429, headers={"Retry-After": "2"}), chat_reply("after wait"))
    sleeps = Sleeps()
    async with provider(server, sleeps) as p:
        c = await p.complete(HELLO)
    assert (c.text, sleeps.delays, len(server.seen)) == ("after wait", [2.0], 2)


@pytest.mark.anyio
async def test_retry_after_http_date(server: ChatServer) -> None:
    """A Retry-After date 7 s after the injected clock waits 7 s."""
    clock = FixedClock(1_700_000_000.0)
    date = formatdate(clock() + 7, usegmt=True)
    server.script(Reply(status=503, headers={"Retry-After": date}), chat_reply("ok"))
    sleeps = Sleeps()
    async with provider(server, sleeps, clock=clock) as p:
        await p.complete(HELLO)
    assert sleeps.delays == [7.0]


@pytest.mark.anyio
async def test_retry_after_is_capped(server: ChatServer) -> None:
    """A Retry-After longer than backoff_max_s waits backoff_max_s."""
    server.script(Reply(status=429, headers={"Retry-After": "3600"}), chat_reply("ok"))
    sleeps = Sleeps()
    async with provider(server, sleeps, backoff_max_s=20.0) as p:
        await p.complete(HELLO)
    assert sleeps.delays == [20.0]


@pytest.mark.anyio
async def test_5xx_until_retries_exhausted(server: ChatServer) -> None:
    """503 on every attempt: 1 + max_retries requests, then a ProviderError saying so."""
    server.script(*[Reply(status=503, body={"error": {"message": "overloaded"}})] * 3)
    sleeps = Sleeps()
    async with provider(server, sleeps, max_retries=2, backoff_base_s=0.5) as p:
        with pytest.raises(ProviderError) as err:
            await p.complete(HELLO)
    assert len(server.seen) == 3
    assert "gave up after 3 attempts; last failure: HTTP 503 (overloaded)" in str(err.value)
    assert len(sleeps.delays) == 2
    # Full jitter: each wait is in [0, base * 2**attempt].
    assert all(0.0 <= d <= cap for d, cap in zip(sleeps.delays, [0.5, 1.0], strict=True))


@pytest.mark.anyio
async def test_500_then_success(server: ChatServer) -> None:
    """A transient 500 is retried and the next answer is returned."""
    server.script(Reply(status=500), Reply(status=502), chat_reply("third time"))
    async with provider(server) as p:
        c = await p.complete(HELLO)
    assert (c.text, len(server.seen)) == ("third time", 3)


@pytest.mark.anyio
async def test_read_timeout_exhausts_retries(server: ChatServer) -> None:
    """A server slower than the 0.3 s read timeout fails with a read-timeout ProviderError."""
    server.script(Reply(delay_s=5.0, body={"late": True}))
    async with provider(server, read_timeout_s=0.3, max_retries=0) as p:
        with pytest.raises(ProviderError) as err:
            await p.complete(HELLO)
    assert "gave up after 1 attempt; last failure: read timeout" in str(err.value)


@pytest.mark.anyio
async def test_read_timeout_then_success(server: ChatServer) -> None:
    """A read timeout is retried; a prompt second answer is returned."""
    server.script(Reply(delay_s=5.0), chat_reply("quick"))
    sleeps = Sleeps()
    async with provider(server, sleeps, read_timeout_s=0.3, max_retries=1) as p:
        c = await p.complete(HELLO)
    assert (c.text, len(server.seen), len(sleeps.delays)) == ("quick", 2, 1)


@pytest.mark.anyio
async def test_connection_refused_is_retried_then_fails() -> None:
    """Nothing listening: every attempt fails to connect, then a ProviderError says so."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    sleeps = Sleeps()
    p = OpenAICompatProvider(
        base_url=f"http://127.0.0.1:{port}/v1", model="m", max_retries=2, sleep=sleeps
    )
    async with p:
        with pytest.raises(ProviderError) as err:
            await p.complete(HELLO)
    assert "gave up after 3 attempts; last failure: connection failed" in str(err.value)
    assert len(sleeps.delays) == 2


# --- failures that are not retried -------------------------------------------------------


@pytest.mark.anyio
async def test_401_is_not_retried_and_hides_the_key(server: ChatServer) -> None:
    """A 401 is an auth ProviderError at once, without the key even if the server echoes it."""
    server.script(Reply(status=401, body={"error": {"message": f"Incorrect API key {KEY}"}}))
    async with provider(server) as p:
        with pytest.raises(ProviderError) as err:
            await p.complete(HELLO)
    assert len(server.seen) == 1
    assert "authentication refused (HTTP 401)" in str(err.value)
    assert KEY not in str(err.value)


@pytest.mark.anyio
async def test_400_is_not_retried_and_quotes_the_server(server: ChatServer) -> None:
    """Another 4xx fails at once with the server's own message."""
    server.script(Reply(status=400, body={"error": {"message": "unknown model 'x'"}}))
    async with provider(server) as p:
        with pytest.raises(ProviderError, match=r"HTTP 400.*unknown model 'x'"):
            await p.complete(HELLO)
    assert len(server.seen) == 1


@pytest.mark.anyio
async def test_malformed_json_is_a_provider_error(server: ChatServer) -> None:
    """A 200 whose body is not JSON fails at once, quoting the start of the body."""
    server.script(Reply(body=b"<html>oops{"))
    async with provider(server) as p:
        with pytest.raises(ProviderError, match="not JSON: '<html>oops\\{'"):
            await p.complete(HELLO)
    assert len(server.seen) == 1


@pytest.mark.anyio
async def test_missing_content_is_a_provider_error(server: ChatServer) -> None:
    """A JSON body without choices[0].message.content is malformed."""
    server.script(Reply(body={"choices": []}))
    async with provider(server) as p:
        with pytest.raises(ProviderError, match=r"no text at choices\[0\]\.message\.content"):
            await p.complete(HELLO)


@pytest.mark.anyio
async def test_error_object_in_200_body_is_reported(server: ChatServer) -> None:
    """A 200 carrying an error object instead of choices names the server's message."""
    server.script(Reply(body={"error": {"message": "upstream rate limited"}}))
    async with provider(server) as p:
        with pytest.raises(ProviderError, match="upstream rate limited"):
            await p.complete(HELLO)


# --- with the engine ---------------------------------------------------------------------


class Contains:
    """Scores 1.0 when the output contains a word, else 0.2 with a deficiency."""

    name = "contains"

    def evaluate(self, output: str, context: EvalContext | None = None) -> Evaluation:
        ok = "retry" in output
        return Evaluation.of(1.0 if ok else 0.2, ok, () if ok else ("mention retry",))


@pytest.mark.anyio
async def test_refine_over_http(server: ChatServer) -> None:
    """refine runs two iterations over the real HTTP provider, sending the feedback."""
    server.script(
        chat_reply("a loop"),
        Reply(status=429, headers={"Retry-After": "0"}),
        chat_reply("a retry loop"),
    )
    async with provider(server) as p:
        r = await refine("Describe it.", Contains(), p, RefineConfig(stop=StopConfig()))
    assert (r.exit_reason, r.output, r.total_tokens, r.provider) == (
        "quality_threshold",
        "a retry loop",
        36,
        "openai_compat:test-model",
    )
    assert "- mention retry" in server.seen[1].body["messages"][-1]["content"]


# --- presets, validation, Retry-After parsing --------------------------------------------


@pytest.mark.anyio
async def test_presets_point_at_their_endpoints() -> None:
    """openrouter, ollama and from_settings build providers for their base URLs."""
    async with (
        openrouter("meta/llama", "sk-or") as o,
        ollama("llama3.2") as local,
        from_settings("http://127.0.0.1:8000/v1/", "qwen", None) as custom,
    ):
        assert (o.base_url, o.name) == (OPENROUTER_BASE_URL, "openai_compat:meta/llama")
        assert (local.base_url, local.model) == (OLLAMA_BASE_URL, "llama3.2")
        assert custom.base_url == "http://127.0.0.1:8000/v1"


def test_openrouter_needs_a_key() -> None:
    """OpenRouter without a key is an InvalidInput on api_key."""
    with pytest.raises(InvalidInput) as err:
        openrouter("m", "")
    assert err.value.field == "api_key"


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"base_url": "127.0.0.1:8000/v1"}, "base_url"),
        ({"model": " "}, "model"),
        ({"read_timeout_s": 0.0}, "read_timeout_s"),
        ({"connect_timeout_s": float("inf")}, "connect_timeout_s"),
        ({"max_retries": -1}, "max_retries"),
        ({"max_retries": 11}, "max_retries"),
        ({"backoff_max_s": -1.0}, "backoff_max_s"),
    ],
)
def test_constructor_rejects_bad_values(kwargs: dict[str, Any], field: str) -> None:
    """Each bad constructor value is an InvalidInput naming its field."""
    args: dict[str, Any] = {"base_url": "http://127.0.0.1:1/v1", "model": "m", **kwargs}
    with pytest.raises(InvalidInput) as err:
        OpenAICompatProvider(**args)
    assert err.value.field == field


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("3", 3.0),
        (" 1.5 ", 1.5),
        ("0", 0.0),
        ("-1", None),
        ("nan", None),
        ("soon", None),
        ("Tue, 14 Nov 2023 22:13:30 GMT", 10.0),
        ("Tue, 14 Nov 2023 22:13:00 GMT", 0.0),
    ],
)
def test_parse_retry_after(value: str, expected: float | None) -> None:
    """Delta-seconds and HTTP dates are read; negatives and junk give None; past dates 0."""
    assert parse_retry_after(value, now=1_700_000_000.0) == expected
