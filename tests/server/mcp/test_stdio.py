"""The stdio transport's line check, and the transport itself over real pipes in process."""

from __future__ import annotations

import io
import json
import os
import random
import threading
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp.types import JSONRPCNotification, JSONRPCRequest, JSONRPCResponse

from server.app import build_server
from server.mcp.stdio import (
    MAX_DEPTH,
    Refusal,
    _Lines,
    _read_line,
    _same_file,
    _Unanswered,
    check_line,
    stdio_transport,
)
from tests.e2e.serving import INIT
from tests.server.helpers import make_settings

PARSE, INVALID = -32700, -32600


@pytest.mark.parametrize(
    ("line", "code", "msg_id"),
    [
        (b"{", PARSE, None),
        (b'{"jsonrpc":"2.0","id":3,"method":"ping","x":"\xc3"}', PARSE, 3),
        (b'{"jsonrpc":"2.0","id":4,"method":"ping","params":{"v":Infinity}}', PARSE, None),
        (b"[" * 5000 + b"]" * 5000, PARSE, None),
        (b"[1]", INVALID, None),
        (b"true", INVALID, None),
        (b'{"jsonrpc":"2.0","id":-7,"method":["ping"]}', INVALID, -7),
        (b'{"jsonrpc":2.0,"id":"a","method":"ping"}', INVALID, "a"),
        (b'{"jsonrpc":"2.0","id":null,"method":"ping"}', INVALID, None),
        (b'{"jsonrpc":"2.0","id":5,"method":"ping","params":"x"}', INVALID, 5),
        (b'{"jsonrpc":"2.0","id":6,"result":7}', INVALID, 6),
    ],
)
def test_malformed_line_is_refused_with_its_code_and_id(
    line: bytes, code: int, msg_id: Any
) -> None:
    """Each malformed line becomes a refusal with the JSON-RPC code and the id it can read."""
    refusal = check_line(line)
    assert isinstance(refusal, Refusal)
    assert (refusal.code, refusal.id) == (code, msg_id)
    wire = refusal.response().model_dump(by_alias=True, exclude_unset=True)
    assert (wire["error"]["code"], wire["id"]) == (code, msg_id)


def test_nesting_past_the_limit_is_invalid_with_the_id() -> None:
    """JSON that parses but nests deeper than MAX_DEPTH is refused, keeping the id."""
    deep = b"[" * (MAX_DEPTH + 5) + b"]" * (MAX_DEPTH + 5)
    line = b'{"jsonrpc":"2.0","id":9,"method":"ping","params":{"a":' + deep + b"}}"
    refusal = check_line(line)
    assert isinstance(refusal, Refusal)
    assert (refusal.code, refusal.id) == (INVALID, 9)


def test_surrogates_are_replaced_in_keys_and_values() -> None:
    """Lone surrogates become U+FFFD wherever they are; a valid pair stays one character."""
    line = b'{"jsonrpc":"2.0","method":"n","params":{"k\\udc00":["\\ud800","\\ud83d\\ude00"]}}'
    message = check_line(line)
    assert isinstance(message, JSONRPCNotification)
    assert message.params == {"k\ufffd": ["\ufffd", "\U0001f600"]}


def test_bom_and_blank_lines() -> None:
    """A BOM is skipped before a message; a blank line is no message."""
    message = check_line(b'\xef\xbb\xbf{"jsonrpc":"2.0","id":"x","method":"ping"}\r\n')
    assert isinstance(message, JSONRPCRequest) and message.id == "x"
    assert check_line(b" \t\r\n") is None


@pytest.mark.anyio
async def test_transport_over_pipes_answers_every_line(tmp_path: Path) -> None:
    """The real server over two pipes: garbage, an over-long line and a ping all get answers."""
    lines = [
        json.dumps(INIT).encode(),
        b'{"jsonrpc":"2.0","method":"notifications/initialized"}',
        b"garbage",
        b'{"jsonrpc":"2.0","id":2,"method":"ping","params":{"pad":"' + b"x" * 3000 + b'"}}',
        b'{"jsonrpc":"2.0","id":3,"method":"ping"}',
    ]
    in_r, in_w = os.pipe()
    out_r, out_w = os.pipe()
    with open(in_w, "wb") as feed:
        feed.write(b"\n".join(lines) + b"\n")
    mcp = build_server(make_settings(tmp_path))
    low = mcp._lowlevel_server
    with open(in_r, "rb") as stdin, open(out_w, "wb") as stdout:
        async with stdio_transport(2048, stdin=stdin, stdout=stdout) as (read, write):
            await low.run(read, write, low.create_initialization_options())
    with open(out_r, "rb") as out:
        answers = [json.loads(line) for line in out.read().splitlines()]
    # Refusals are written by the reader as it reads, answers by the server: any order.
    codes = sorted(((a.get("id"), a.get("error", {}).get("code")) for a in answers), key=repr)
    assert codes == sorted([(1, None), (None, PARSE), (None, INVALID), (3, None)], key=repr)


@pytest.mark.anyio
async def test_transport_ends_at_eof_without_input(tmp_path: Path) -> None:
    """An empty stdin ends the server cleanly, writing nothing."""
    in_r, in_w = os.pipe()
    out_r, out_w = os.pipe()
    os.close(in_w)
    mcp = build_server(make_settings(tmp_path))
    low = mcp._lowlevel_server
    with anyio.fail_after(30), open(in_r, "rb") as stdin, open(out_w, "wb") as stdout:
        async with stdio_transport(2048, stdin=stdin, stdout=stdout) as (read, write):
            await low.run(read, write, low.create_initialization_options())
    with open(out_r, "rb") as out:
        assert out.read() == b""


def _pipe_with(data: bytes) -> int:
    """The read end of a pipe holding ``data`` (then EOF), fed from a thread if it is large."""
    r, w = os.pipe()

    def feed() -> None:
        with open(w, "wb") as out:
            out.write(data)

    threading.Thread(target=feed, daemon=True).start()
    return r


@pytest.mark.anyio
@pytest.mark.parametrize("seed", range(20))
async def test_pipe_lines_are_the_lines_a_blocking_read_gives(seed: int) -> None:
    """Read from a non-blocking pipe on the event loop, lines come out exactly as the blocking
    reader gives them: split across reads, over-long ones dropped whole, a last line
    without its newline kept, then EOF."""
    rng = random.Random(seed)
    limit = rng.choice([8, 64, 1000])
    parts = [
        b"x" * rng.choice([0, 1, limit - 1, limit, limit + 1, limit + 2, 5 * limit, 70_000])
        for _ in range(rng.randrange(1, 12))
    ]
    data = b"\n".join(parts) + rng.choice([b"", b"\n"])
    want = []
    blocking = io.BytesIO(data)
    while (got := _read_line(blocking, limit)) is not None:
        want.append(got if isinstance(got, bytes) else "too long")
    fd = _pipe_with(data)
    with open(fd, "rb") as stream:
        os.set_blocking(fd, False)
        lines = _Lines(stream, limit, anyio.CapacityLimiter(1), fd)
        seen: list[bytes | str] = []
        with anyio.fail_after(30):
            while (line := await lines.next()) is not None:
                seen.append(line if isinstance(line, bytes) else "too long")
    assert seen == want


@pytest.mark.anyio
async def test_a_file_as_stdin_is_served_and_a_pipe_left_blocking(tmp_path: Path) -> None:
    """A regular file is read on the thread limiter; a pipe served without blocking is
    handed back in blocking mode."""
    requests = tmp_path / "requests.jsonl"
    requests.write_bytes(
        json.dumps(INIT).encode() + b'\n{"jsonrpc":"2.0","id":2,"method":"ping"}\n'
    )
    out_r, out_w = os.pipe()
    mcp = build_server(make_settings(tmp_path))
    low = mcp._lowlevel_server
    with anyio.fail_after(30), open(requests, "rb") as stdin, open(out_w, "wb") as stdout:
        async with stdio_transport(2048, stdin=stdin, stdout=stdout) as (read, write):
            await low.run(read, write, low.create_initialization_options())
        assert os.get_blocking(out_w)
    with open(out_r, "rb") as out:
        assert [json.loads(line)["id"] for line in out.read().splitlines()] == [1, 2]


@pytest.mark.anyio
async def test_at_eof_a_cancelled_request_is_not_waited_for() -> None:
    """The end of input waits for open requests, but not for one the client cancelled, and
    not past its grace."""
    unanswered = _Unanswered()
    unanswered.read(JSONRPCRequest(jsonrpc="2.0", id=7, method="tools/call"))
    unanswered.read(JSONRPCRequest(jsonrpc="2.0", id="b", method="ping"))
    cancel = {"requestId": 7, "reason": "user"}
    unanswered.read(
        JSONRPCNotification(jsonrpc="2.0", method="notifications/cancelled", params=cancel)
    )
    with anyio.fail_after(30):
        await unanswered.settle(0.05)  # "b" is never answered: the grace ends the wait
        unanswered.written(JSONRPCResponse(jsonrpc="2.0", id="b", result={}))
        await unanswered.settle(3600)  # nothing open: returns at once


def test_a_pipe_shared_with_stderr_is_told_apart() -> None:
    """stdout on stderr's pipe (``2>&1``) is recognised, so it is not made non-blocking under
    the logs; another pipe, or a closed descriptor, is not taken for it."""
    r, w = os.pipe()
    other_r, other_w = os.pipe()
    shared = os.dup(w)
    try:
        assert _same_file(shared, w)
        assert not _same_file(other_w, w)
        os.close(other_r)
        closed = other_r
        assert not _same_file(closed, w)
    finally:
        for fd in (r, w, other_w, shared):
            os.close(fd)
