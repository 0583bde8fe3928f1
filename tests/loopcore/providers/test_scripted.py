"""Tests for the scripted provider."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from loopcore.errors import InvalidInput, ProviderError
from loopcore.providers.base import Message, Provider
from loopcore.providers.scripted import ScriptedProvider

HI = [Message(role="user", content="hi")]


@pytest.mark.anyio
async def test_answers_in_order_and_records_calls() -> None:
    """Outputs come back in order; each call's messages and options are kept."""
    p = ScriptedProvider(["one", "two"])
    first = await p.complete(HI, max_tokens=5, temperature=0.1)
    second = await p.complete([*HI, Message(role="user", content="again")])
    assert (first.text, second.text) == ("one", "two")
    assert [c.prompt for c in p.calls] == ["hi", "again"]
    assert (p.calls[0].max_tokens, p.calls[0].temperature, p.calls[1].max_tokens) == (5, 0.1, None)


@pytest.mark.anyio
async def test_exhausted_script_raises_provider_error() -> None:
    """A call past the end of the script is a ProviderError."""
    p = ScriptedProvider(["only"])
    await p.complete(HI)
    with pytest.raises(ProviderError, match="no output left after 1 calls"):
        await p.complete(HI)


@pytest.mark.anyio
async def test_scripted_exception_is_raised() -> None:
    """An exception in the script is raised at its turn."""
    p = ScriptedProvider(["ok", ProviderError("HTTP 503")])
    assert (await p.complete(HI)).text == "ok"
    with pytest.raises(ProviderError, match="HTTP 503"):
        await p.complete(HI)


@pytest.mark.anyio
async def test_callable_script_sees_the_messages() -> None:
    """A function script answers from the messages it is given."""

    def echo(messages: Sequence[Message]) -> str:
        return messages[-1].content.upper()

    p = ScriptedProvider(echo, name="echo")
    c = await p.complete(HI)
    assert (c.text, c.model, p.name) == ("HI", "echo", "echo")


@pytest.mark.anyio
async def test_token_counts() -> None:
    """An int counts completion tokens; a pair is (prompt, completion)."""
    a = await ScriptedProvider(["x"], tokens_per_call=9).complete(HI)
    b = await ScriptedProvider(["x"], tokens_per_call=(4, 6)).complete(HI)
    assert (a.prompt_tokens, a.completion_tokens, b.prompt_tokens, b.total_tokens) == (0, 9, 4, 10)


def test_is_a_provider() -> None:
    """The scripted provider satisfies the Provider protocol."""
    assert isinstance(ScriptedProvider(["x"]), Provider)


def test_rejects_negative_tokens_and_delay() -> None:
    """Negative token counts or delays are InvalidInput."""
    with pytest.raises(InvalidInput) as err:
        ScriptedProvider(["x"], tokens_per_call=(1, -1))
    assert err.value.field == "tokens_per_call"
    with pytest.raises(InvalidInput) as err2:
        ScriptedProvider(["x"], delay_s=-0.1)
    assert err2.value.field == "delay_s"
