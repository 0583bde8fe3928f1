"""The accept-error filter, and the read deadlines of the h11 protocol over real sockets
(in process here; against a ``loopcore serve`` process in tests/e2e/test_http_limits.py)."""

from __future__ import annotations

import logging
import socket
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import uvicorn

from server.app import build_server
from server.cli.serve import uvicorn_config
from server.httplimits import QuietAcceptErrors, timed_protocol
from tests.server.helpers import make_settings


def _record(msg: str) -> logging.LogRecord:
    try:
        raise OSError(24, "Too many open files")
    except OSError:
        exc_info = sys.exc_info()
    return logging.LogRecord("asyncio", logging.ERROR, __file__, 1, msg, None, exc_info)


def test_one_accept_error_per_interval_passes_with_the_count() -> None:
    """Three errors in one interval: the first passes; the next interval's says 2 were dropped."""
    clock = iter([0.0, 1.0, 2.0, 61.0])
    quiet = QuietAcceptErrors(60.0, clock=lambda: next(clock))
    passed = [quiet.filter(_record("socket.accept() out of system resource")) for _ in range(4)]
    last = _record("socket.accept() out of system resource")
    assert passed == [True, False, False, True]
    assert quiet.suppressed == 0
    clock = iter([200.0])
    assert quiet.filter(last)
    assert "0 more accept errors" in str(last.msg)
    assert last.exc_info is None


def test_other_records_pass_untouched() -> None:
    """Anything but the accept noise passes as it is, traceback included."""
    quiet = QuietAcceptErrors(60.0, clock=lambda: 0.0)
    record = _record("Task exception was never retrieved")
    assert quiet.filter(record) and quiet.filter(record)
    assert record.exc_info is not None


def test_timed_protocol_carries_its_deadlines() -> None:
    """The protocol class for uvicorn is made with the configured deadlines."""
    proto = timed_protocol(2.5, 9.0)
    assert (proto.header_timeout_s, proto.body_timeout_s) == (2.5, 9.0)  # type: ignore[attr-defined]


@contextmanager
def _served(tmp_path: Path) -> Iterator[int]:
    """The HTTP app under uvicorn with 0.3 s read deadlines, in a thread; yields its port."""
    settings = make_settings(
        tmp_path, transport="http", http_header_timeout_s=0.3, http_body_timeout_s=0.3
    )
    server = uvicorn.Server(uvicorn_config(build_server(settings), settings))
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        while not server.started:
            time.sleep(0.02)
        yield int(sock.getsockname()[1])
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()


def _answer(port: int, data: bytes) -> bytes:
    """Send ``data`` and read until the server closes the connection (30 s bound)."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as conn:
        conn.sendall(data)
        chunks = []
        while chunk := conn.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


PING = b'{"jsonrpc":"2.0","id":1,"method":"ping"}'
HEAD = (
    b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
    b"Accept: application/json, text/event-stream\r\n"
)


def test_deadlines_close_partial_requests_in_process(tmp_path: Path) -> None:
    """Half the headers: 408; half the body: closed with no answer; a whole request then half
    of the next on the same connection: the answer, then 408."""
    with _served(tmp_path) as port:
        headers = _answer(port, b"POST /mcp HTTP/1.1\r\nHost: 1")
        body = _answer(port, HEAD + b"Content-Length: 100\r\n\r\n" + PING[:10])
        whole = HEAD + b"Content-Length: %d\r\n\r\n" % len(PING) + PING
        kept = _answer(port, whole + b"POST /mcp HTTP/1.1\r\n")
    assert headers.startswith(b"HTTP/1.1 408 Request Timeout")
    assert body == b""
    assert kept.startswith(b"HTTP/1.1 400") or kept.startswith(b"HTTP/1.1 200")
    assert kept.count(b"HTTP/1.1 408 Request Timeout") == 1
