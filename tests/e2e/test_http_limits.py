"""HTTP limits of ``loopcore serve`` against real slow sockets (issue 16, parts 6 and 9).

Partial requests are sent byte by byte over raw TCP connections and must be closed by
the server; the connection and session caps answer 503; malformed bodies keep their
JSON-RPC errors. A socket timeout bounds each wait so a server that never closes fails
the test instead of hanging it; no test asserts how long anything took.
"""

from __future__ import annotations

import json
import resource
import socket
import subprocess
import time
from pathlib import Path
from typing import IO, Any

import httpx
import pytest
from mcp import Client

from tests.e2e.serving import (
    INIT,
    LOOPCORE,
    free_port,
    http_server,
    server_env,
    wait_for_port,
)

pytestmark = pytest.mark.slow

JSON_HEADERS = {"content-type": "application/json", "accept": "application/json, text/event-stream"}
FAST = {"LOOPCORE_HTTP_HEADER_TIMEOUT_S": "0.5", "LOOPCORE_HTTP_BODY_TIMEOUT_S": "0.5"}
BOUND_S = 30.0  # far past any deadline under test: reaching it means the server never closed


def _connect(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port))
    sock.settimeout(BOUND_S)
    return sock


def _until_closed(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection."""
    chunks = []
    with sock:
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def _log(log: IO[str]) -> str:
    log.flush()
    log.seek(0)
    return log.read()


def _post(port: int, body: bytes, **headers: str) -> httpx.Response:
    return httpx.post(
        f"http://127.0.0.1:{port}/mcp", content=body, headers={**JSON_HEADERS, **headers}
    )


def test_partial_headers_are_answered_408_and_closed(tmp_path: Path) -> None:
    """Half a request line, half the headers, or nothing at all: 408, then the close."""
    partial = [b"", b"POST /mc", b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Ty"]
    with http_server(tmp_path, "http", FAST) as (port, log):
        socks = [_connect(port) for _ in partial]
        for sock, data in zip(socks, partial, strict=True):
            sock.sendall(data)
        answers = [_until_closed(sock) for sock in socks]
        alive = _post(port, json.dumps(INIT).encode())
        text = _log(log)
    assert [a.split(b"\r\n")[0] for a in answers] == [b"HTTP/1.1 408 Request Timeout"] * 3
    assert text.count("http_read_timeout") == 3
    assert alive.status_code == 200


def test_partial_body_is_closed_without_a_token(tmp_path: Path) -> None:
    """Headers promising 1000 bytes, 10 sent: the connection is closed, token or not."""
    head = (
        b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        b"Accept: application/json, text/event-stream\r\nContent-Length: 1000\r\n\r\n"
    )
    with http_server(tmp_path, "http", {**FAST, "LOOPCORE_TOKEN": "s3cret"}) as (port, log):
        sock = _connect(port)
        sock.sendall(head + b'{"jsonrpc"')
        _until_closed(sock)  # returns only once the server closed it
        text = _log(log)
    assert "http_read_timeout" in text
    assert '"phase": "body"' in text or "phase=body" in text


def test_slow_drip_does_not_reset_the_header_deadline(tmp_path: Path) -> None:
    """One header byte after another keeps no connection past the header deadline."""
    request = b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\n" + b"X-Pad: " + b"a" * 10_000
    with http_server(tmp_path, "http", FAST) as (port, _):
        sock = _connect(port)
        sent, answer = 0, b""
        try:
            for byte in request:
                sock.sendall(bytes([byte]))
                sent += 1
                time.sleep(0.01)
        except OSError:  # the server closed the connection under the drip
            pass
        answer = _until_closed(sock)
    assert sent < len(request)
    assert answer.startswith(b"HTTP/1.1 408")


def test_connections_past_the_cap_are_answered_503(tmp_path: Path) -> None:
    """With 3 connections open, a 4th's request gets 503; a free slot serves again."""
    env = {"LOOPCORE_HTTP_MAX_CONNECTIONS": "3", "LOOPCORE_HTTP_HEADER_TIMEOUT_S": "120"}
    with http_server(tmp_path, "http", env) as (port, _):
        idle = [_connect(port) for _ in range(3)]
        for sock in idle:
            sock.sendall(b"POST")
        refused = _post(port, json.dumps(INIT).encode())
        for sock in idle:
            sock.close()
        served = _post(port, json.dumps(INIT).encode())
    assert refused.status_code == 503
    assert served.status_code == 200


def test_sessions_past_the_cap_are_refused(tmp_path: Path) -> None:
    """LOOPCORE_HTTP_MAX_SESSIONS=2: the third initialize is answered 503."""
    with http_server(tmp_path, "http", {"LOOPCORE_HTTP_MAX_SESSIONS": "2"}) as (port, _):
        codes = [_post(port, json.dumps(INIT).encode()).status_code for _ in range(3)]
    assert codes == [200, 200, 503]


def test_idle_session_is_closed(tmp_path: Path) -> None:
    """A session idle past LOOPCORE_HTTP_SESSION_IDLE_S is gone: its id gets 404."""
    ping = json.dumps({"jsonrpc": "2.0", "id": 2, "method": "ping"}).encode()
    with http_server(tmp_path, "http", {"LOOPCORE_HTTP_SESSION_IDLE_S": "1"}) as (port, log):
        session = _post(port, json.dumps(INIT).encode()).headers["mcp-session-id"]
        while f"Session {session} idle timeout" not in _log(log):  # no request: none resets it
            time.sleep(0.2)
        late = _post(port, ping, **{"mcp-session-id": session})
    assert late.status_code == 404


@pytest.mark.anyio
async def test_lower_case_bearer_scheme_is_accepted(tmp_path: Path) -> None:
    """``Authorization: bearer <token>`` is the same scheme as ``Bearer``; a wrong token is not."""
    with http_server(tmp_path, "http", {"LOOPCORE_TOKEN": "s3cret"}) as (port, _):
        body = json.dumps(INIT).encode()
        lower = _post(port, body, authorization="bearer s3cret")
        upper = _post(port, body, authorization="BEARER  s3cret")
        wrong = _post(port, body, authorization="bearer s3cret-not")
        basic = _post(port, body, authorization="Basic s3cret")
    assert (lower.status_code, upper.status_code) == (200, 200)
    assert (wrong.status_code, basic.status_code) == (401, 401)


MALFORMED: list[tuple[bytes, int]] = [
    (b"{not json", -32700),
    (b'{"jsonrpc":"2.0","id":"\xff","method":"ping"}', -32700),
    (b'[{"jsonrpc":"2.0","id":2,"method":"ping"}]', -32602),
    (b'{"jsonrpc":"1.0","id":3,"method":"initialize"}', -32602),
]


def test_malformed_bodies_keep_their_http_answers(tmp_path: Path) -> None:
    """Over HTTP the malformed messages stdio now answers keep their 400 and JSON-RPC error."""
    with http_server(tmp_path, "http") as (port, _):
        answers = [_post(port, body) for body, _ in MALFORMED]
    got: list[Any] = [(a.status_code, a.json()["error"]["code"], a.json()["id"]) for a in answers]
    assert got == [(400, code, None) for _, code in MALFORMED]


@pytest.mark.anyio
async def test_a_real_client_is_served_under_the_limits(tmp_path: Path) -> None:
    """The official client over HTTP works with the short deadlines set."""
    with http_server(tmp_path, "http", FAST) as (port, _):
        async with Client(f"http://127.0.0.1:{port}/mcp") as client:
            result = await client.call_tool("intercept", {"prompt": "fix the bug in app.py"})
    assert result.is_error is False


def _limit_descriptors() -> None:
    resource.setrlimit(resource.RLIMIT_NOFILE, (60, 60))


def test_descriptor_exhaustion_is_logged_once_per_interval(tmp_path: Path) -> None:
    """Out of descriptors (a limit of 60, 150 connections): one log line, not one per accept;
    once the connections close the server serves again."""
    port = free_port()
    env = server_env(tmp_path / "loopcore.db", LOOPCORE_HTTP_HEADER_TIMEOUT_S="120")
    log_path = tmp_path / "server.log"
    with log_path.open("w+", encoding="utf-8") as log:
        proc = subprocess.Popen(
            [LOOPCORE, "serve", "--transport", "http", "--port", str(port)],
            env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
            preexec_fn=_limit_descriptors,
        )  # fmt: skip
        try:
            wait_for_port(port, proc)
            socks = [socket.create_connection(("127.0.0.1", port)) for _ in range(150)]
            while "out of system resource" not in _log(log):
                time.sleep(0.1)
            time.sleep(3)  # three retry rounds of asyncio's accept loop
            for sock in socks:
                sock.close()
            while (served := _post(port, json.dumps(INIT).encode())).status_code != 200:
                time.sleep(0.1)
        finally:
            proc.terminate()
            proc.wait(timeout=30)
        text = _log(log)
    assert served.status_code == 200
    assert text.count("out of system resource") == 1
    assert text.count("Traceback") == 0
    assert len(text) < 20_000
