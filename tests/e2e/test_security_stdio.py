"""Over real stdio, with the official client: specs cannot fetch, hang or read secrets.

The server is this checkout's code (``python -c 'from server.cli import main'`` with
the repository on ``PYTHONPATH``), so the tests see the code under test, not an
installed copy.
"""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from mcp import Client, StdioServerParameters

from tests.e2e.serving import server_env

pytestmark = [pytest.mark.slow, pytest.mark.anyio]

ROOT = Path(__file__).resolve().parents[2]
SERVE = ["-c", "import sys; from server.cli import main; sys.exit(main())", "serve"]
CATASTROPHIC = "(a|aa)+$"


def _params(cwd: Path, env: dict[str, str]) -> StdioServerParameters:
    return StdioServerParameters(
        command=sys.executable, args=SERVE, env={**env, "PYTHONPATH": str(ROOT)}, cwd=cwd
    )


class _Recorder(ThreadingHTTPServer):
    hits: list[str]


class _Handler(BaseHTTPRequestHandler):
    server: _Recorder

    def do_GET(self) -> None:
        self.server.hits.append(self.path)
        body = b'{"enum": ["INTERNAL-SECRET"]}'
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def remote() -> Iterator[_Recorder]:
    """An HTTP server on 127.0.0.1 recording every path it is asked for."""
    server = _Recorder(("127.0.0.1", 0), _Handler)
    server.hits = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join()


async def test_a_remote_ref_is_refused_and_never_fetched(tmp_path: Path, remote: _Recorder) -> None:
    """verify_output with {"$ref": URL} answers an invalid-input error; the URL is never hit."""
    url = f"http://127.0.0.1:{remote.server_address[1]}/x.json"
    base = {"$id": f"http://127.0.0.1:{remote.server_address[1]}/root.json", "$ref": "y.json"}
    env = server_env(tmp_path / "loopcore.db")
    async with Client(_params(tmp_path, env)) as client:
        direct = await client.call_tool(
            "verify_output",
            {"output": '"x"', "evaluator": {"type": "json_schema", "schema": {"$ref": url}}},
        )
        relative = await client.call_tool(
            "verify_output",
            {"output": '"x"', "evaluator": {"type": "json_schema", "schema": base}},
        )
        after = await client.call_tool(
            "verify_output", {"output": "ok", "evaluator": {"type": "regex", "required": ["ok"]}}
        )
    assert direct.is_error and relative.is_error
    assert "invalid input" in str(direct.content) and url in str(direct.content)
    assert "y.json" in str(relative.content)
    assert "INTERNAL-SECRET" not in str(direct.content) + str(relative.content)
    assert not after.is_error
    assert remote.hits == []


async def test_many_slow_patterns_stop_at_the_budget(tmp_path: Path) -> None:
    """100 patterns that each hit the regex limit answer a "timed out" score at the 1 s budget."""
    env = server_env(
        tmp_path / "loopcore.db",
        LOOPCORE_EVALUATION_BUDGET_S="1",
        LOOPCORE_REGEX_TIMEOUT_S="0.5",
    )
    regex = {"type": "regex", "required": [CATASTROPHIC] * 100}
    composite = {"type": "composite", "parts": [{"spec": regex}, {"spec": regex}]}
    async with Client(_params(tmp_path, env)) as client:
        results = [
            await client.call_tool(
                "verify_output", {"output": "a" * 5_000 + "!", "evaluator": spec}
            )
            for spec in (regex, composite)
        ]
    for result in results:
        assert not result.is_error, result.content
        out = dict(result.structured_content or {})
        assert (out["score"], out["passed"]) == (0.0, False)
        assert any("time budget of 1 s ran out" in d for d in out["deficiencies"])


_SNOOP = """
import os, sys
def environ(pid):
    with open(f"/proc/{pid}/environ", "rb") as f:
        return f.read()
helper = os.getppid()
server = int(open(f"/proc/{helper}/stat").read().rsplit(")", 1)[1].split()[1])
print("SNOOP", json.dumps({
    "own": sorted(k for k in os.environ if k.startswith("LOOPCORE_")),
    "helper": b"tok-from-file" in environ(helper) or b"key-in-env" in environ(helper),
    "server_token": b"tok-from-file" in environ(server),
    "server_key": b"key-in-env" in environ(server),
}))
"""


async def test_command_children_cannot_read_the_servers_secrets(tmp_path: Path) -> None:
    """A token given as a file is nowhere a child can look; a key given in the environment
    is absent from the child's environment and its parent's, and remains only in the
    server's initial /proc/<pid>/environ block (what the README says)."""
    project = tmp_path / "proj"
    project.mkdir()
    (project / "snoop.py").write_text("import json\n" + _SNOOP)
    token = tmp_path / "token"
    token.write_text("tok-from-file\n")
    env = server_env(
        tmp_path / "loopcore.db",
        LOOPCORE_ALLOW_COMMANDS=sys.executable,
        LOOPCORE_PROJECT=str(project),
        LOOPCORE_TOKEN_FILE=str(token),
        LOOPCORE_PROVIDER_API_KEY="key-in-env",
    )
    spec = {"type": "command", "run": [sys.executable, "snoop.py"]}
    async with Client(_params(project, env)) as client:
        result = await client.call_tool("verify_output", {"output": "", "evaluator": spec})
    assert not result.is_error, result.content
    tail = dict(result.structured_content or {})["details"]["output_tail"]
    seen = json.loads(tail.split("SNOOP", 1)[1])
    assert seen == {"own": [], "helper": False, "server_token": False, "server_key": True}
