"""``loopcore serve`` on stdio in a real process: what a SQLite stdio server imports."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from mcp import Client, StdioServerParameters, stdio_client

from server.app import TOOL_GROUPS
from tests.server.helpers import ERAS, ok

REPO = Path(__file__).resolve().parents[3]

# Imported only for PostgreSQL or HTTP: a SQLite stdio server must start without them.
NOT_FOR_SQLITE_STDIO = (
    "psycopg",
    "psycopg_pool",
    "h11",
    "server.httplimits",
    "server.web.routes",  # the dashboard (its CLI verb's parser is light and stays)
)

_PROBE = """\
import runpy, sys
sys.argv = ['loopcore', 'serve']
try:
    runpy.run_module('server.cli', run_name='__main__')
finally:
    loaded = sorted(m for m in sys.modules if m.startswith(NAMES))
    print('LOADED', loaded, file=sys.stderr)
"""


def _message(msg_id: int, method: str, params: dict[str, object] | None = None) -> str:
    body: dict[str, object] = {"jsonrpc": "2.0", "id": msg_id, "method": method}
    if params is not None:
        body["params"] = params
    return json.dumps(body) + "\n"


def test_sqlite_stdio_server_imports_no_psycopg_nor_http_modules(tmp_path: Path) -> None:
    """A stdio server on a SQLite file answers tools/list without loading psycopg or HTTP parts."""
    names = tuple(n for m in NOT_FOR_SQLITE_STDIO for n in (m, m + "."))
    probe = f"NAMES = {names!r}\n{_PROBE}"
    env = {**os.environ, "LOOPCORE_DB": str(tmp_path / "lc.db"), "PYTHONPATH": str(REPO)}
    init: dict[str, object] = {
        "protocolVersion": "2025-11-25",
        "capabilities": {},
        "clientInfo": {"name": "probe", "version": "0"},
    }
    with subprocess.Popen(
        [sys.executable, "-c", probe],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=tmp_path,
    ) as server:
        assert server.stdin is not None and server.stdout is not None
        server.stdin.write(_message(1, "initialize", init))
        server.stdin.write('{"jsonrpc": "2.0", "method": "notifications/initialized"}\n')
        server.stdin.write(_message(2, "tools/list"))
        server.stdin.flush()
        answers = [json.loads(server.stdout.readline()) for _ in range(2)]
        server.stdin.close()
        err = server.stderr.read() if server.stderr is not None else ""
        assert server.wait(timeout=60) == 0, err
    tools = {t["name"] for t in answers[1]["result"]["tools"]}
    assert {"intercept", "verify_output", "plan_record"} <= tools
    assert "LOADED []" in err, err


# Imported when the first tool is needed (server.app, server.catalogue) or later, not by a start.
LOADED_ON_FIRST_CALL = (
    *TOOL_GROUPS,
    "server.schemas.base",
    "server.schemas.plans",
    "loopcore.plans.service",
    "loopcore.loops.sessions",
    "loopcore.history",
    "loopcore.evaluators.factory",
    "loopcore.intercept",
)


async def _serve_once(tmp_path: Path, mode: str, call: bool) -> tuple[list[str], str]:
    """Start ``loopcore serve`` (the probe), list the tools, call plan_create if ``call``; the
    tools listed and the probe's stderr (its ``LOADED`` line names the modules watched)."""
    probe = f"NAMES = {LOADED_ON_FIRST_CALL!r}\n{_PROBE}"
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp_path),
        "PYTHONPATH": str(REPO),
        "LOOPCORE_DB": str(tmp_path / "lc.db"),
        "LOOPCORE_PROJECT": "p",
    }
    params = StdioServerParameters(command=sys.executable, args=["-c", probe], env=env)
    log = tmp_path / f"stderr-{mode}-{call}.log"
    with log.open("w") as errlog:
        async with Client(stdio_client(params, errlog=errlog), mode=mode) as client:
            names = [t.name for t in (await client.list_tools()).tools]
            if call:
                created = await ok(
                    client, "plan_create", {"goal": "ship", "tasks": [{"id": "a", "title": "A"}]}
                )
                assert str(created["plan_id"]).startswith("pl_")
    return names, log.read_text()


@pytest.mark.anyio
@ERAS
async def test_a_server_that_only_listed_its_tools_imported_none_of_them(
    tmp_path: Path, mode: str
) -> None:
    """With its catalogue saved, a stdio server answers tools/list without importing the tool
    modules, their schemas or the domain; its first tools/call imports them and works."""
    await _serve_once(tmp_path, mode, call=False)  # saves the catalogue if it is not yet
    listed, err = await _serve_once(tmp_path, mode, call=False)
    again, called_err = await _serve_once(tmp_path, mode, call=True)
    assert len(listed) == 24 and again == listed
    assert "LOADED []" in err, err
    loaded = called_err.split("LOADED ", 1)[1].splitlines()[0]
    assert all(repr(m) in loaded for m in (*TOOL_GROUPS, "loopcore.plans.service")), loaded
