"""Chat completions over any OpenAI-compatible endpoint (OpenRouter, Ollama, vLLM, LM Studio).

One ``POST {base_url}/chat/completions`` per call through ``httpx.AsyncClient``
with explicit connect and read timeouts. Transient failures are retried with
exponential backoff and full jitter: HTTP 408, 429 and 5xx, connection errors
and timeouts; a ``Retry-After`` header (seconds or an HTTP date) replaces the
computed delay, capped at ``backoff_max_s``. Anything else is a
``ProviderError`` at once: 401/403 (the key is wrong), another 4xx, a body
that is not JSON or has no ``choices[0].message.content``. No message ever
contains the API key.

The base URL, model and key come from the server's settings; ``loopcore``
reads no environment variable.
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import UTC
from email.utils import parsedate_to_datetime
from types import TracebackType
from typing import Any, TypedDict, Unpack

import anyio
import httpx
import structlog

from loopcore.clock import Clock, system_clock
from loopcore.errors import InvalidInput, ProviderError
from loopcore.providers.base import Completion, Message

__all__ = [
    "OLLAMA_BASE_URL",
    "OPENROUTER_BASE_URL",
    "OpenAICompatProvider",
    "ProviderOptions",
    "from_settings",
    "ollama",
    "openrouter",
    "parse_retry_after",
]

OPENROUTER_BASE_URL = "https://openrouter.ai/api/v1"
OLLAMA_BASE_URL = "http://127.0.0.1:11434/v1"

log = structlog.get_logger()

Sleep = Callable[[float], Awaitable[None]]
# Connection failures, timeouts and a peer that hung up mid-answer are worth another try.
_TRANSIENT = (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError)


class ProviderOptions(TypedDict, total=False):
    """Keyword options shared by the presets and ``from_settings``."""

    connect_timeout_s: float
    read_timeout_s: float
    max_retries: int
    backoff_base_s: float
    backoff_max_s: float
    extra_headers: Mapping[str, str] | None
    transport: httpx.AsyncBaseTransport | None
    sleep: Sleep
    clock: Clock
    rng: random.Random | None


def parse_retry_after(value: str, *, now: float) -> float | None:
    """Seconds to wait from a ``Retry-After`` header, or None when it cannot be read.

    Args:
        value: delta-seconds (``"3"``, ``"1.5"``) or an HTTP date.
        now: the current epoch time, to turn a date into a delay (a past date is 0).
    """
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        return seconds if math.isfinite(seconds) and seconds >= 0 else None
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # "-0000" dates come back naive; HTTP dates are always GMT
        when = when.replace(tzinfo=UTC)
    return max(0.0, when.timestamp() - now)


def _positive(value: float, name: str) -> None:
    if not (math.isfinite(value) and value > 0):
        raise InvalidInput(f"must be a finite number > 0, got {value!r}", field=name)


class OpenAICompatProvider:
    """A ``Provider`` over an OpenAI-compatible chat-completions endpoint.

    Args:
        base_url: e.g. ``https://openrouter.ai/api/v1`` (``/chat/completions`` is appended).
        model: the model name the endpoint knows.
        api_key: sent as a bearer token; None for endpoints without auth.
        connect_timeout_s: seconds to establish a connection.
        read_timeout_s: seconds to wait for each read of the answer.
        max_retries: retries after the first attempt, 0..10.
        backoff_base_s: the first backoff cap; it doubles per retry.
        backoff_max_s: the largest wait, also the cap on ``Retry-After``.
        extra_headers: added to every request.
        transport: an httpx transport (tests and proxies).
        sleep: how to wait between retries (tests record the delays).
        clock: epoch seconds, to read a ``Retry-After`` date.
        rng: the jitter source.

    Raises:
        InvalidInput: a base URL that is not http(s), an empty model, or a
            timeout, retry count or backoff out of range.
    """

    def __init__(
        self,
        *,
        base_url: str,
        model: str,
        api_key: str | None = None,
        connect_timeout_s: float = 5.0,
        read_timeout_s: float = 60.0,
        max_retries: int = 4,
        backoff_base_s: float = 0.5,
        backoff_max_s: float = 20.0,
        extra_headers: Mapping[str, str] | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Sleep = anyio.sleep,
        clock: Clock = system_clock,
        rng: random.Random | None = None,
    ) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise InvalidInput("must start with http:// or https://", field="base_url")
        if not model.strip():
            raise InvalidInput("must not be empty", field="model")
        _positive(connect_timeout_s, "connect_timeout_s")
        _positive(read_timeout_s, "read_timeout_s")
        _positive(backoff_base_s, "backoff_base_s")
        _positive(backoff_max_s, "backoff_max_s")
        if isinstance(max_retries, bool) or not 0 <= max_retries <= 10:
            raise InvalidInput("must be an integer in [0, 10]", field="max_retries")
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.max_retries = max_retries
        self._api_key = api_key or None
        self._backoff_base_s = backoff_base_s
        self._backoff_max_s = backoff_max_s
        self._sleep = sleep
        self._clock = clock
        # Jitter only spreads retries out; it needs no cryptographic strength.
        self._rng = rng or random.Random()  # noqa: S311
        headers = {"Accept": "application/json", **dict(extra_headers or {})}
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        timeout = httpx.Timeout(
            connect=connect_timeout_s,
            read=read_timeout_s,
            write=read_timeout_s,
            pool=connect_timeout_s,
        )
        self._client = httpx.AsyncClient(timeout=timeout, headers=headers, transport=transport)

    @property
    def name(self) -> str:
        """``openai_compat:<model>``."""
        return f"openai_compat:{self.model}"

    async def __aenter__(self) -> OpenAICompatProvider:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._client.aclose()

    async def complete(
        self,
        messages: Sequence[Message],
        *,
        max_tokens: int | None = None,
        temperature: float | None = None,
    ) -> Completion:
        """Send the messages and return the first choice with its token usage.

        Raises:
            ProviderError: auth refused, a non-retryable status, a malformed
                body, or every attempt failed.
        """
        payload: dict[str, Any] = {
            "model": self.model,
            "messages": [{"role": m.role, "content": m.content} for m in messages],
        }
        if max_tokens is not None:
            payload["max_tokens"] = max_tokens
        if temperature is not None:
            payload["temperature"] = temperature
        response = await self._post(payload)
        return self._parse(response)

    def _redact(self, text: str) -> str:
        return text.replace(self._api_key, "***") if self._api_key else text

    def _fail(self, message: str) -> ProviderError:
        return ProviderError(self._redact(f"{self.name} at {self.base_url}: {message}"))

    async def _post(self, payload: Mapping[str, Any]) -> httpx.Response:
        url = f"{self.base_url}/chat/completions"
        attempts = self.max_retries + 1
        last = ""
        for attempt in range(attempts):
            retry_after: str | None = None
            try:
                response = await self._client.post(url, json=payload)
            except _TRANSIENT as exc:
                last = _describe_transport_error(exc)
            else:
                if response.is_success:
                    return response
                self._raise_unless_retryable(response)
                text = _error_text(response)
                last = f"HTTP {response.status_code}" + (f" ({text})" if text else "")
                retry_after = response.headers.get("retry-after")
            if attempt + 1 < attempts:
                delay = self._backoff(attempt, retry_after)
                log.warning(
                    "provider.retry",
                    provider=self.name,
                    attempt=attempt + 1,
                    delay_s=round(delay, 3),
                    last=self._redact(last),
                )
                await self._sleep(delay)
        raise self._fail(
            f"gave up after {attempts} attempt{'s' if attempts > 1 else ''}; last failure: {last}"
        )

    def _raise_unless_retryable(self, response: httpx.Response) -> None:
        status = response.status_code
        if status in (401, 403):
            raise self._fail(
                f"authentication refused (HTTP {status}): check the API key and that it may "
                f"use model {self.model!r}"
            )
        if status in (408, 429) or 500 <= status <= 599:
            return
        raise self._fail(f"request refused (HTTP {status}): {_error_text(response)}")

    def _backoff(self, attempt: int, retry_after: str | None) -> float:
        """Seconds before the next attempt: the server's ``Retry-After``, else full jitter."""
        if retry_after is not None:
            asked = parse_retry_after(retry_after, now=self._clock())
            if asked is not None:
                return min(asked, self._backoff_max_s)
        cap = min(self._backoff_max_s, self._backoff_base_s * 2**attempt)
        return self._rng.uniform(0.0, cap)

    def _parse(self, response: httpx.Response) -> Completion:
        try:
            body = response.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise self._fail(
                f"answered HTTP {response.status_code} with a body that is not JSON: "
                f"{response.text[:200]!r}"
            ) from None
        content = _content(body)
        if content is None:
            detail = _error_text(response) if isinstance(body, dict) and "error" in body else ""
            raise self._fail(
                "malformed answer: no text at choices[0].message.content"
                + (f" ({detail})" if detail else "")
            )
        usage = body.get("usage") if isinstance(body.get("usage"), dict) else {}
        model = body.get("model")
        return Completion(
            text=content,
            prompt_tokens=_count(usage.get("prompt_tokens")),
            completion_tokens=_count(usage.get("completion_tokens")),
            model=model if isinstance(model, str) and model else self.model,
        )


def _content(body: object) -> str | None:
    """``choices[0].message.content`` as text (a list of text parts is joined), else None."""
    if not isinstance(body, dict):
        return None
    choices = body.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        return None
    message = choices[0].get("message")
    content = message.get("content") if isinstance(message, dict) else None
    if isinstance(content, list):
        parts = [p.get("text") for p in content if isinstance(p, dict)]
        texts = [p for p in parts if isinstance(p, str)]
        return "".join(texts) if texts else None
    return content if isinstance(content, str) else None


def _count(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0


def _error_text(response: httpx.Response) -> str:
    """The server's own error message (OpenAI shape ``{"error": {"message": ...}}``), short."""
    try:
        body = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return response.text[:200]
    err = body.get("error") if isinstance(body, dict) else None
    if isinstance(err, dict) and isinstance(err.get("message"), str):
        return str(err["message"])[:200]
    if isinstance(err, str):
        return err[:200]
    return response.text[:200]


def _describe_transport_error(exc: Exception) -> str:
    kinds: dict[type[Exception], str] = {
        httpx.ConnectTimeout: "connect timeout",
        httpx.ReadTimeout: "read timeout",
        httpx.WriteTimeout: "write timeout",
        httpx.PoolTimeout: "connection pool timeout",
        httpx.ConnectError: "connection failed",
    }
    kind = kinds.get(type(exc), type(exc).__name__)
    return f"{kind} ({exc})" if str(exc) else kind


def openrouter(
    model: str, api_key: str, **options: Unpack[ProviderOptions]
) -> OpenAICompatProvider:
    """A provider for OpenRouter (``OPENROUTER_BASE_URL``); it needs an API key."""
    if not api_key:
        raise InvalidInput("OpenRouter needs an API key", field="api_key")
    return OpenAICompatProvider(
        base_url=OPENROUTER_BASE_URL, model=model, api_key=api_key, **options
    )


def ollama(
    model: str, base_url: str = OLLAMA_BASE_URL, **options: Unpack[ProviderOptions]
) -> OpenAICompatProvider:
    """A provider for a local Ollama's OpenAI-compatible endpoint (no key).

    The read timeout defaults to 300 s instead of 60 s: a local model's first
    answer includes loading it into memory.
    """
    options.setdefault("read_timeout_s", 300.0)
    return OpenAICompatProvider(base_url=base_url, model=model, **options)


def from_settings(
    base_url: str, model: str, api_key: str | None = None, **options: Unpack[ProviderOptions]
) -> OpenAICompatProvider:
    """A provider from the plain values the server's settings hold."""
    return OpenAICompatProvider(base_url=base_url, model=model, api_key=api_key, **options)
