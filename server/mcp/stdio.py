"""The stdio transport: one JSON-RPC message per line, and every line answered.

The SDK's ``stdio_server`` hands what it cannot parse to the session as an
exception, which logs it and answers nothing: a client whose request carried an
id then waits for ever. This transport reads each line itself (as bytes, at most
``max_bytes`` of it kept in memory), checks it as JSON-RPC 2.0 asks, and writes
the error response itself when it is not a message the server can take:

- not UTF-8, not JSON, nested past the parser's limit: ``-32700`` parse error, id ``null``
  (or the id, when it can still be read);
- a batch (MCP has none), not an object, ``jsonrpc`` other than ``"2.0"``, an id that
  is not a string or an integer, a method that is not a string, ``params`` that is
  not an object, nested deeper than ``MAX_DEPTH``, longer than ``max_bytes``, or no
  request, notification or response shape: ``-32600`` invalid request, with the id
  when it is valid and ``null`` otherwise.

Each refusal is logged at warning on stderr. A UTF-8 byte-order mark before a message
is skipped, and a lone surrogate escape (``"\\ud800"``) in a string is replaced with
U+FFFD: the message is served, never dropped. Blank lines are not messages and are
skipped.

The standard descriptors are claimed as the SDK's transport claims them (fd 0 reads
the null device and fd 1 writes to stderr while serving, so a child process cannot
write onto the wire). When the wire is a pipe or a socket (how hosts start a server)
it is read and written in non-blocking mode on the event loop: a message costs no
hand-over to a worker thread and back, which was a third of a cheap call's round trip.
Any other file (a regular file, a terminal, Windows) is read and written on a thread
limiter of the transport's own, so no amount of tool work can hold the transport up.
"""

from __future__ import annotations

import json
import os
import re
import stat
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from typing import Any, BinaryIO

import anyio
import anyio.to_thread
import structlog
from mcp.server import stdio as sdk_stdio
from mcp.server.mcpserver import MCPServer
from mcp.shared._context_streams import (
    ContextReceiveStream,
    ContextSendStream,
    create_context_streams,
)
from mcp.shared.message import SessionMessage
from mcp.types import (
    INTERNAL_ERROR,
    INVALID_REQUEST,
    PARSE_ERROR,
    ErrorData,
    JSONRPCError,
    JSONRPCMessage,
    JSONRPCNotification,
    JSONRPCRequest,
    JSONRPCResponse,
    jsonrpc_message_adapter,
)
from pydantic import ValidationError

__all__ = ["EOF_GRACE_S", "MAX_DEPTH", "Refusal", "check_line", "run_stdio", "stdio_transport"]

log = structlog.get_logger(__name__)

MAX_DEPTH = 100  # arrays and objects inside one another; a tool call needs a dozen
EOF_GRACE_S = 10.0  # at the end of input, how long requests already read may take to answer
_CANCELLED = "notifications/cancelled"
_BOM = b"\xef\xbb\xbf"
_SURROGATE = re.compile("[\ud800-\udfff]")
_CHUNK = 64 * 1024


@dataclass(frozen=True, slots=True)
class Refusal:
    """A line that is not a message the server can take, and the error that answers it."""

    code: int
    reason: str
    id: str | int | None = None

    def response(self) -> JSONRPCError:
        """The JSON-RPC error response."""
        title = "Parse error" if self.code == PARSE_ERROR else "Invalid request"
        return JSONRPCError(
            jsonrpc="2.0",
            id=self.id,
            error=ErrorData(code=self.code, message=f"{title}: {self.reason}"),
        )


class _TooLong:
    """A line longer than the limit (its bytes were read and dropped)."""


def _valid_id(value: Any) -> bool:
    return isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool))


def _peek_id(obj: Any) -> str | int | None:
    """The message's id when it is one JSON-RPC allows, else ``None``."""
    value = obj.get("id") if isinstance(obj, dict) else None
    return value if _valid_id(value) else None


def _depth(obj: Any) -> int:
    """How deeply arrays and objects nest in ``obj`` (iterative: no recursion limit)."""
    deepest, stack = 0, [(obj, 1)]
    while stack:
        node, level = stack.pop()
        if isinstance(node, dict):
            children: Any = node.values()
        elif isinstance(node, list):
            children = node
        else:
            continue
        deepest = max(deepest, level)
        if level > MAX_DEPTH:
            return level
        stack.extend((child, level + 1) for child in children)
    return deepest


def _scrub(obj: Any) -> Any:
    """``obj`` with every lone surrogate in its strings (keys too) replaced by U+FFFD."""
    if isinstance(obj, str):
        return _SURROGATE.sub("\ufffd", obj)
    if isinstance(obj, list):
        return [_scrub(v) for v in obj]
    if isinstance(obj, dict):
        return {_scrub(k): _scrub(v) for k, v in obj.items()}
    return obj


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _parse(raw: bytes) -> Any:
    """The JSON value of a line, or the refusal that answers it."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        guess = _loads_or_none(raw.decode("utf-8", "replace"))
        return Refusal(PARSE_ERROR, f"not valid UTF-8 (byte {exc.start})", _peek_id(guess))
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except RecursionError:
        return Refusal(PARSE_ERROR, f"nested deeper than {MAX_DEPTH} levels")
    except ValueError as exc:
        return Refusal(PARSE_ERROR, f"not valid JSON ({exc})")


def _loads_or_none(text: str) -> Any:
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return None


def _envelope_problem(obj: dict[str, Any]) -> str | None:
    """What is wrong with the JSON-RPC envelope of an object, if anything."""
    if obj.get("jsonrpc") != "2.0":
        return 'jsonrpc must be "2.0"'
    if "id" in obj and not _valid_id(obj["id"]) and "error" not in obj:
        return "id must be a string or an integer"
    if "method" in obj and not isinstance(obj["method"], str):
        return "method must be a string"
    if obj.get("params") is not None and not isinstance(obj["params"], dict):
        return "params must be an object"
    return None


def check_line(raw: bytes) -> JSONRPCMessage | Refusal | None:
    """The message on one line, the refusal that answers it, or ``None`` for a blank line."""
    raw = raw.strip()
    if raw.startswith(_BOM):
        raw = raw[len(_BOM) :].strip()
    if not raw:
        return None
    obj = _parse(raw)
    if isinstance(obj, Refusal):
        return obj
    if isinstance(obj, list):
        return Refusal(INVALID_REQUEST, "batches are not supported: send one message per line")
    if not isinstance(obj, dict):
        return Refusal(INVALID_REQUEST, "a message is a JSON object")
    msg_id = _peek_id(obj)
    problem = _envelope_problem(obj)
    if problem is not None:
        return Refusal(INVALID_REQUEST, problem, msg_id)
    if _depth(obj) > MAX_DEPTH:
        return Refusal(INVALID_REQUEST, f"nested deeper than {MAX_DEPTH} levels", msg_id)
    try:
        # A lone surrogate can only be written as a \u escape (raw bytes are valid UTF-8).
        scrubbed = _scrub(obj) if b"\\u" in raw else obj
        return jsonrpc_message_adapter.validate_python(scrubbed, by_name=False)
    except ValidationError:
        return Refusal(
            INVALID_REQUEST, "not a request, notification or response (see JSON-RPC 2.0)", msg_id
        )


def _read_line(stream: BinaryIO, max_bytes: int) -> bytes | _TooLong | None:
    """One line of at most ``max_bytes`` (a longer one is consumed and dropped); None at EOF."""
    line = stream.readline(max_bytes + 1)
    if not line:
        return None
    if len(line) <= max_bytes or line.endswith(b"\n"):
        return line
    while (rest := stream.readline(_CHUNK)) and not rest.endswith(b"\n"):
        pass
    return _TooLong()


def _pollable_fd(stream: BinaryIO) -> int | None:
    """The descriptor of ``stream`` when it is a pipe or a socket the event loop can wait on
    (not on Windows, not a regular file, not a terminal: those keep blocking I/O)."""
    if sys.platform == "win32":
        return None
    try:
        fd = stream.fileno()
        mode = os.fstat(fd).st_mode
    except (OSError, ValueError, AttributeError):  # io.UnsupportedOperation is an OSError
        return None
    return fd if stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode) else None


def _same_file(a: int, b: int) -> bool:
    """Whether two descriptors are the same pipe, socket or file (False when one cannot be
    read)."""
    try:
        x, y = os.fstat(a), os.fstat(b)
    except OSError:
        return False
    return (x.st_dev, x.st_ino) == (y.st_dev, y.st_ino)


@asynccontextmanager
async def _nonblocking(fd: int) -> AsyncIterator[None]:
    """``fd`` in non-blocking mode for the block, as it was after."""
    was = os.get_blocking(fd)
    os.set_blocking(fd, False)
    try:
        yield
    finally:
        os.set_blocking(fd, was)


class _Lines:
    """Lines read from stdin, the same as ``_read_line`` gives them: on the event loop from a
    non-blocking pipe or socket, else on the transport's thread limiter."""

    def __init__(
        self, stream: BinaryIO, max_bytes: int, limiter: anyio.CapacityLimiter, fd: int | None
    ) -> None:
        self._stream, self._max, self._limiter, self._fd = stream, max_bytes, limiter, fd
        self._buf = bytearray()
        self._eof = False

    async def next(self) -> bytes | _TooLong | None:
        """The next line, ``_TooLong`` for one over the limit (dropped), None at EOF."""
        if self._fd is None:
            return await anyio.to_thread.run_sync(
                _read_line, self._stream, self._max, limiter=self._limiter, abandon_on_cancel=True
            )
        dropping = False
        while True:
            end = self._buf.find(b"\n")
            if end >= 0:
                line = bytes(self._buf[: end + 1])
                del self._buf[: end + 1]
                return _TooLong() if dropping or len(line) > self._max + 1 else line
            if len(self._buf) > self._max:  # no newline within the limit: drop to the next one
                dropping = True
                self._buf.clear()
            if self._eof:
                rest, self._buf = bytes(self._buf), bytearray()
                return _TooLong() if dropping else rest or None
            await self._fill(self._fd)

    async def _fill(self, fd: int) -> None:
        while True:
            try:
                chunk = os.read(fd, _CHUNK)
            except BlockingIOError:
                await anyio.wait_readable(fd)
                continue
            self._eof = not chunk
            self._buf += chunk
            return


class _Unanswered:
    """The ids of requests read whose answer is not written yet."""

    def __init__(self) -> None:
        self._ids: set[str | int] = set()
        self._changed = anyio.Event()

    def read(self, message: JSONRPCMessage) -> None:
        if isinstance(message, JSONRPCRequest):
            self._ids.add(message.id)
        elif isinstance(message, JSONRPCNotification) and message.method == _CANCELLED:
            # A request the client cancelled is never answered (the SDK's rule).
            self._ids.discard((message.params or {}).get("requestId"))
            self._changed.set()

    def written(self, message: JSONRPCMessage) -> None:
        if isinstance(message, JSONRPCResponse | JSONRPCError) and message.id in self._ids:
            self._ids.discard(message.id)
            self._changed.set()

    async def settle(self, grace_s: float) -> None:
        """Wait until every request read has been answered (at most ``grace_s``)."""
        with anyio.move_on_after(grace_s):
            while self._ids:
                await self._changed.wait()
                self._changed = anyio.Event()
        if self._ids:
            log.warning("stdio_eof_unanswered", ids=sorted(map(str, self._ids)))


class _Wire:
    """Writes whole lines to stdout, one at a time: on the event loop to a non-blocking pipe
    or socket, else on the transport's thread limiter."""

    def __init__(self, stdout: BinaryIO, limiter: anyio.CapacityLimiter, fd: int | None) -> None:
        self._stdout = stdout
        self._limiter = limiter
        self._fd = fd
        self._lock = anyio.Lock()
        self.unanswered = _Unanswered()

    def _write(self, data: bytes) -> None:
        self._stdout.write(data)
        self._stdout.flush()

    async def _write_fd(self, fd: int, data: bytes) -> None:
        view = memoryview(data)
        while view:
            try:
                view = view[os.write(fd, view) :]
            except BlockingIOError:
                await anyio.wait_writable(fd)

    async def send(self, message: JSONRPCMessage) -> None:
        try:
            text = message.model_dump_json(by_alias=True, exclude_unset=True)
        except ValueError:
            log.exception("stdio_unserializable_message")
            if not isinstance(message, JSONRPCResponse):
                return
            text = _internal_error(message.id).model_dump_json(by_alias=True, exclude_unset=True)
        data = text.encode("utf-8", "replace") + b"\n"
        async with self._lock:
            if self._fd is not None:
                await self._write_fd(self._fd, data)
            else:
                await anyio.to_thread.run_sync(self._write, data, limiter=self._limiter)
        self.unanswered.written(message)


def _internal_error(msg_id: str | int) -> JSONRPCError:
    error = ErrorData(code=INTERNAL_ERROR, message="Internal error: the response could not be sent")
    return JSONRPCError(jsonrpc="2.0", id=msg_id, error=error)


async def _pump_in(
    lines: _Lines, max_bytes: int, sink: ContextSendStream[SessionMessage | Exception], wire: _Wire
) -> None:
    """Read lines until EOF: messages go to the server, refusals are answered here.

    At EOF the requests already read are answered before the server is told (it cancels
    what is still running when its input ends): ``printf '...' | loopcore serve`` gets
    every answer. A request still unanswered after ``EOF_GRACE_S`` (one waiting for a
    client that has gone) is left to that cancellation.
    """
    async with sink:
        while True:
            line = await lines.next()
            if line is None:
                await wire.unanswered.settle(EOF_GRACE_S)
                return
            if isinstance(line, _TooLong):
                outcome: JSONRPCMessage | Refusal | None = Refusal(
                    INVALID_REQUEST, f"longer than {max_bytes} bytes"
                )
            else:
                outcome = check_line(line)
            if isinstance(outcome, Refusal):
                log.warning(
                    "stdio_refused", code=outcome.code, reason=outcome.reason, id=outcome.id
                )
                await wire.send(outcome.response())
            elif outcome is not None:
                wire.unanswered.read(outcome)
                await sink.send(SessionMessage(outcome))


async def _pump_out(source: ContextReceiveStream[SessionMessage], wire: _Wire) -> None:
    async with source:
        async for item in source:
            await wire.send(item.message)


def _claim(fd: int) -> tuple[BinaryIO, Callable[[], None] | None]:
    # The SDK's descriptor claim (private, but the reason its transport is safe to share a
    # process with child programs): reuse it rather than copy it.
    if fd == 0:
        return sdk_stdio._claim_fd(0, sys.stdin, "rb", sdk_stdio._open_stdin_diversion)
    return sdk_stdio._claim_fd(1, sys.stdout, "wb", sdk_stdio._open_stdout_diversion)


@asynccontextmanager
async def stdio_transport(
    max_bytes: int, stdin: BinaryIO | None = None, stdout: BinaryIO | None = None
) -> AsyncIterator[
    tuple[ContextReceiveStream[SessionMessage | Exception], ContextSendStream[SessionMessage]]
]:
    """The server's read and write streams over stdin and stdout (or the given binary files).

    Args:
        max_bytes: the longest line kept; a longer one is dropped and answered ``-32600``.
        stdin / stdout: binary files to serve instead of the process's standard streams.
    """
    releases: list[Callable[[], None]] = []
    try:
        if stdin is None:
            stdin, release = _claim(0)
            releases += [release] if release else []
        if stdout is None:
            stdout, release = _claim(1)
            releases += [release] if release else []
        read_send, read_recv = create_context_streams[SessionMessage | Exception](0)
        write_send, write_recv = create_context_streams[SessionMessage](0)
        limiter = anyio.CapacityLimiter(2)  # one reader, one writer (files and terminals)
        in_fd, out_fd = _pollable_fd(stdin), _pollable_fd(stdout)
        if out_fd is not None and _same_file(out_fd, 2):
            out_fd = None  # stdout is stderr's pipe (2>&1): the logs must not turn non-blocking
        lines = _Lines(stdin, max_bytes, limiter, in_fd)
        wire = _Wire(stdout, limiter, out_fd)
        async with AsyncExitStack() as modes:
            for fd in {f for f in (in_fd, out_fd) if f is not None}:
                await modes.enter_async_context(_nonblocking(fd))
            async with anyio.create_task_group() as tg:
                tg.start_soon(_pump_in, lines, max_bytes, read_send, wire)
                async with anyio.create_task_group() as out:
                    out.start_soon(_pump_out, write_recv, wire)
                    yield read_recv, write_send
                    await write_send.aclose()  # every response written before the reader stops
                tg.cancel_scope.cancel()
    finally:
        for release in reversed(releases):
            release()


async def run_stdio(mcp: MCPServer[Any], max_bytes: int) -> None:
    """Serve ``mcp`` over stdio until stdin closes."""
    low = mcp._lowlevel_server
    async with stdio_transport(max_bytes) as (read_stream, write_stream):
        await low.run(read_stream, write_stream, low.create_initialization_options())
