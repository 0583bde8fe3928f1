"""Every line a client writes to ``loopcore serve`` over stdio is answered (JSON-RPC 2.0).

Raw bytes to a real server process: each malformed line is followed by a ``ping``, and the
lines the server writes before the ping's answer are the answer to the malformed one.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.serving import INIT, LOOPCORE, server_env

pytestmark = pytest.mark.slow

PARSE, INVALID = -32700, -32600
DEEP = (
    b'{"jsonrpc":"2.0","id":30,"method":"ping","params":{"a":'
    + b"[" * 10_000
    + b"]" * 10_000
    + b"}}"
)
NESTED_150 = (
    b'{"jsonrpc":"2.0","id":31,"method":"ping","params":{"a":' + b"[" * 150 + b"]" * 150 + b"}}"
)
SURROGATE_CALL = (
    b'{"jsonrpc":"2.0","id":40,"method":"tools/call","params":{"name":"intercept",'
    b'"arguments":{"prompt":"fix the \\ud800 parser bug in src/app.py"}}}'
)

# (the line, the error code expected, the id expected in the answer)
REFUSED: list[tuple[bytes, int, Any]] = [
    (b"{not json", PARSE, None),
    (b'{"jsonrpc":"2.0","id":20,"method":"ping"', PARSE, None),
    (b'{"jsonrpc":"2.0","id":21,"method":"ping","params":{"x":"\xff\xfe"}}', PARSE, 21),
    (b'{"jsonrpc":"2.0","id":22,"method":"ping","params":{"x":NaN}}', PARSE, None),
    (DEEP, PARSE, None),
    (NESTED_150, INVALID, 31),
    (b'[{"jsonrpc":"2.0","id":23,"method":"ping"}]', INVALID, None),
    (b"[]", INVALID, None),
    (b'{"jsonrpc":"1.0","id":24,"method":"ping"}', INVALID, 24),
    (b'{"id":25,"method":"ping"}', INVALID, 25),
    (b'{"jsonrpc":"2.0","id":1.5,"method":"ping"}', INVALID, None),
    (b'{"jsonrpc":"2.0","id":true,"method":"ping"}', INVALID, None),
    (b'{"jsonrpc":"2.0","id":{"a":1},"method":"ping"}', INVALID, None),
    (b'{"jsonrpc":"2.0","id":26,"method":"tools/list","params":[1,2]}', INVALID, 26),
    (b'{"jsonrpc":"2.0","id":27,"method":5}', INVALID, 27),
    (b'{"jsonrpc":"2.0","id":28}', INVALID, 28),
    (b'{"jsonrpc":"2.0","method":"notifications/x","params":"p"}', INVALID, None),
    (b"null", INVALID, None),
    (b"42", INVALID, None),
    (b'"a string"', INVALID, None),
    (b"x" * 40_000, INVALID, None),  # longer than LOOPCORE_MAX_REQUEST_BYTES below
]


class Wire:
    """A ``loopcore serve`` process spoken to in raw bytes."""

    def __init__(self, tmp_path: Path) -> None:
        env = server_env(tmp_path / "loopcore.db", LOOPCORE_MAX_REQUEST_BYTES="32768")
        self.proc = subprocess.Popen(
            [LOOPCORE, "serve"],
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        self.pings = 1000

    def send(self, line: bytes) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line + b"\n")
        self.proc.stdin.flush()

    def read(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        assert line, "the server closed stdout"
        return dict(json.loads(line))

    def answers_before_ping(self, line: bytes) -> list[dict[str, Any]]:
        """Send ``line`` then a ping; every message written before the ping's answer."""
        self.pings += 1
        self.send(line)
        self.send(json.dumps({"jsonrpc": "2.0", "id": self.pings, "method": "ping"}).encode())
        seen = []
        while (message := self.read()).get("id") != self.pings:
            seen.append(message)
        return seen

    def answer_to(self, line: bytes, msg_id: int) -> dict[str, Any]:
        """Send a request line and read until its answer (calls run concurrently: a later
        ping may be answered first, so this waits for the id, not for a ping)."""
        self.send(line)
        while (message := self.read()).get("id") != msg_id:
            pass
        return message

    def initialize(self) -> None:
        self.send(json.dumps(INIT).encode())
        assert self.read()["id"] == 1
        self.send(b'{"jsonrpc":"2.0","method":"notifications/initialized"}')

    def close(self) -> str:
        _, err = self.proc.communicate(timeout=30)
        return err.decode("utf-8", "replace")


@pytest.fixture
def wire(tmp_path: Path) -> Any:
    w = Wire(tmp_path)
    yield w
    if w.proc.poll() is None:
        w.proc.kill()
        w.proc.communicate()


def test_every_malformed_line_is_answered_with_its_error(wire: Wire) -> None:
    """Each malformed line gets exactly one JSON-RPC error, with its id when it has a valid one."""
    wire.initialize()
    answers = [(line[:40], wire.answers_before_ping(line)) for line, _, _ in REFUSED]
    err = wire.close()
    got = [(head, [(a["error"]["code"], a["id"]) for a in seen]) for head, seen in answers]
    want = [(line[:40], [(code, msg_id)]) for line, code, msg_id in REFUSED]
    assert got == want
    assert err.count("stdio_refused") == len(REFUSED)


def test_malformed_line_before_initialize_is_answered(wire: Wire) -> None:
    """Garbage as the very first line is answered, and the session then initializes."""
    first = wire.answers_before_ping(b"\x00\x01garbage")
    wire.initialize()
    assert [(a["error"]["code"], a["id"]) for a in first] == [(PARSE, None)]


def test_byte_order_mark_is_skipped_and_the_message_served(wire: Wire) -> None:
    """A UTF-8 BOM before a message does not lose it: the request is answered normally."""
    wire.initialize()
    answer = wire.answer_to(b'\xef\xbb\xbf{"jsonrpc":"2.0","id":50,"method":"tools/list"}', 50)
    assert len(answer["result"]["tools"]) >= 9


def test_lone_surrogate_is_replaced_and_the_call_answered(wire: Wire) -> None:
    """A lone surrogate escape in a string is served as U+FFFD, never dropped."""
    wire.initialize()
    answer = wire.answer_to(SURROGATE_CALL, 40)
    assert answer["result"]["isError"] is False
    assert 0 <= answer["result"]["structuredContent"]["score"] <= 1


def test_blank_lines_are_not_messages(wire: Wire) -> None:
    """Empty and whitespace-only lines are skipped without an answer."""
    wire.initialize()
    assert wire.answers_before_ping(b"   \r") == []


def test_tool_call_before_initialize_explains(wire: Wire) -> None:
    """A tools/call before initialize is refused with a message that names initialize."""
    call = {"name": "plan_status", "arguments": {"plan_id": "p"}}
    wire.send(
        json.dumps({"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": call}).encode()
    )
    answer = wire.read()
    assert answer["id"] == 7
    assert answer["error"]["code"] == INVALID
    assert "initialize" in answer["error"]["message"]
