"""What an HTTP client may hold open: read deadlines per request, and a quiet accept loop.

uvicorn's h11 protocol waits for ever for a request that never finishes: a client
that sends half a header line (or a ``Content-Length`` and then nothing) keeps
its connection, its descriptor and, once the headers are in, a running request
task. ``timed_protocol`` returns an ``H11Protocol`` with two deadlines:

- headers: from the connection (or the first byte of the next request on a kept-alive
  one) until the end of the headers, ``header_timeout_s``; past it the client gets
  ``408 Request Timeout`` and the connection is closed;
- body: from the end of the headers until the end of the body, ``body_timeout_s``
  for the whole body (a client dripping one byte a second does not reset it); past
  it the connection is closed and the request sees a disconnect.

A response being written (an SSE stream, a long tool call) has no deadline here:
the request was read in full.

When the process runs out of descriptors, asyncio (3.11) logs every failed
``accept()`` with its traceback and schedules a retry for each, up to the listen
backlog per wake-up: measured, 20 MB of stderr in 5 s, and as many "Exception in
callback ..._start_serving" tracebacks when the server stops with retries pending.
``QuietAcceptErrors`` lets one of each through per interval and counts the rest.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import h11
import structlog
from uvicorn.protocols.http.h11_impl import H11Protocol

__all__ = ["QuietAcceptErrors", "timed_protocol"]

log = structlog.get_logger(__name__)

_408_BODY = b"the request headers took too long to arrive\n"
_TIMEOUT_408 = (
    b"HTTP/1.1 408 Request Timeout\r\ncontent-type: text/plain; charset=utf-8\r\n"
    b"connection: close\r\ncontent-length: %d\r\n\r\n%s" % (len(_408_BODY), _408_BODY)
)
_ACCEPT_NOISE = ("out of system resource", "_start_serving")
_READ_DONE = (h11.DONE, h11.MUST_CLOSE, h11.CLOSED, h11.ERROR)


class _TimedH11Protocol(H11Protocol):
    """``H11Protocol`` that closes a connection whose request is not read in time."""

    header_timeout_s: float = 10.0
    body_timeout_s: float = 30.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._deadline: asyncio.TimerHandle | None = None
        self._phase = ""

    def _arm(self, phase: str, seconds: float) -> None:
        self._disarm()
        self._phase = phase
        self._deadline = self.loop.call_later(seconds, self._expired)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None
        self._phase = ""

    def _follow(self) -> None:
        """Move the deadline along with what h11 has read of the client's request."""
        state = self.conn.their_state
        if state is h11.SEND_BODY and self._phase != "body":
            self._arm("body", self.body_timeout_s)
        elif state in _READ_DONE:
            self._disarm()

    def _expired(self) -> None:
        self._deadline = None
        if self.transport.is_closing():
            return
        log.info("http_read_timeout", phase=self._phase, client=str(self.client))
        if self._phase == "headers":
            self.transport.write(_TIMEOUT_408)
        self.transport.close()

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm("headers", self.header_timeout_s)

    def data_received(self, data: bytes) -> None:
        if self._deadline is None and self.conn.their_state is h11.IDLE:
            self._arm("headers", self.header_timeout_s)  # the next request on a kept-alive one
        super().data_received(data)
        self._follow()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        pending, _ = self.conn.trailing_data
        if self._deadline is None and self.conn.their_state is h11.IDLE and pending:
            # A pipelined next request, already read in part: its header deadline starts now.
            self._arm("headers", self.header_timeout_s)
        self._follow()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)


def timed_protocol(header_timeout_s: float, body_timeout_s: float) -> type[H11Protocol]:
    """An h11 protocol class for ``uvicorn.Config(http=...)`` with these read deadlines."""
    return type(
        "TimedH11Protocol",
        (_TimedH11Protocol,),
        {"header_timeout_s": header_timeout_s, "body_timeout_s": body_timeout_s},
    )


class QuietAcceptErrors(logging.Filter):
    """Let one "out of system resource" ``accept()`` error through per interval.

    Attach to the ``asyncio`` logger. The first error of an interval is logged with the
    number suppressed since the last one; other records pass untouched.

    Args:
        interval_s: at most one such record per this many seconds.
        clock: the time source (monotonic seconds).
    """

    def __init__(self, interval_s: float = 60.0, clock: Any = time.monotonic) -> None:
        super().__init__()
        self.interval_s = interval_s
        self._clock = clock
        self._last: dict[str, float] = {}
        self.suppressed = 0

    def filter(self, record: logging.LogRecord) -> bool:
        text = str(record.msg)
        kind = next((k for k in _ACCEPT_NOISE if k in text), None)
        if kind is None:
            return True
        now = self._clock()
        last = self._last.get(kind)
        if last is not None and now - last < self.interval_s:
            self.suppressed += 1
            return False
        self._last[kind] = now
        record.msg = (
            f"{text.splitlines()[0]} (open files at the limit: new connections wait; "
            f"{self.suppressed} more accept errors in the last {self.interval_s:.0f}s not logged)"
        )
        record.exc_info = None  # the same errno each time: the traceback says nothing more
        record.exc_text = None
        self.suppressed = 0
        return True
