"""A provider that answers from a script: for tests, demos and simulations.

No network and no model: each call returns the next scripted output (or the
result of a function of the messages), reports a fixed token count, and keeps
what it was asked so a test can check the prompts the engine built.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import anyio

from loopcore.errors import InvalidInput, ProviderError
from loopcore.providers.base import Completion, Message

__all__ = ["ScriptedCall", "ScriptedProvider"]


@dataclass(frozen=True, kw_only=True)
class ScriptedCall:
    """One call the scripted provider received."""

    messages: tuple[Message, ...]
    max_tokens: int | None
    temperature: float | None

    @property
    def prompt(self) -> str:
        """The content of the last message (the prompt the engine sent)."""
        return self.messages[-1].content if self.messages else ""


class ScriptedProvider:
    """Answers from a script.

    Args:
        outputs: the answers in order, or a function of the messages. A
            scripted item that is an exception is raised instead of answered
            (to script a failing provider mid-loop).
        tokens_per_call: tokens reported per call: an int counts as
            completion tokens, a pair is ``(prompt_tokens, completion_tokens)``.
        name: the label ``name`` reports.
        delay_s: seconds to wait (really, through ``anyio.sleep``) before each
            answer, to stand in for a slow model.

    Raises:
        InvalidInput: on a negative token count or delay.
    """

    def __init__(
        self,
        outputs: Sequence[str | Exception] | Callable[[Sequence[Message]], str],
        *,
        tokens_per_call: int | tuple[int, int] = 0,
        name: str = "scripted",
        delay_s: float = 0.0,
    ) -> None:
        pair = (0, tokens_per_call) if isinstance(tokens_per_call, int) else tokens_per_call
        if min(pair) < 0:
            raise InvalidInput("token counts must be >= 0", field="tokens_per_call")
        if delay_s < 0:
            raise InvalidInput("must be >= 0", field="delay_s")
        self._outputs = outputs if callable(outputs) else tuple(outputs)
        self._tokens = pair
        self._name = name
        self._delay_s = delay_s
        self.calls: list[ScriptedCall] = []

    @property
    def name(self) -> str:
        """The label given at construction."""
        return self._name

    async def complete(
        self,
        messages: Sequence[Message],
        *,
        max_tokens: int | None = None,
        temperature: float | None = None,
    ) -> Completion:
        """Record the call and return the next scripted answer.

        Raises:
            ProviderError: when the script is exhausted, or a scripted exception.
        """
        self.calls.append(
            ScriptedCall(messages=tuple(messages), max_tokens=max_tokens, temperature=temperature)
        )
        if self._delay_s:
            await anyio.sleep(self._delay_s)
        text = self._next(messages)
        return Completion(
            text=text,
            prompt_tokens=self._tokens[0],
            completion_tokens=self._tokens[1],
            model=self._name,
        )

    def _next(self, messages: Sequence[Message]) -> str:
        if callable(self._outputs):
            return self._outputs(messages)
        index = len(self.calls) - 1
        if index >= len(self._outputs):
            raise ProviderError(
                f"scripted provider {self._name!r} has no output left after "
                f"{len(self._outputs)} calls"
            )
        item = self._outputs[index]
        if isinstance(item, Exception):
            raise item
        return item
