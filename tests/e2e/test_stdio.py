"""``loopcore serve`` over real stdio: a whole scored plan, restarts, and a clean wire."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
from pathlib import Path
from typing import Any

import pytest
from mcp import Client, StdioServerParameters

from tests.e2e.serving import INIT, LOOPCORE, server_env

pytestmark = pytest.mark.slow

TASKS = [
    {"id": "spec", "title": "Spec", "acceptance": {"type": "length", "min_words": 3}},
    {"id": "code", "title": "Code", "depends_on": ["spec"],
     "acceptance": {"type": "regex", "required": [r"def \w+\("]}},
    {"id": "test", "title": "Tests", "depends_on": ["code"],
     "acceptance": {"type": "evidence", "preset": "tests"}},
]  # fmt: skip
OUTPUTS = {"spec": "it adds two numbers", "code": "def add(a, b): return a + b", "test": "3 passed"}


def _params(db: Path) -> StdioServerParameters:
    return StdioServerParameters(command=LOOPCORE, args=["serve"], env=server_env(db))


async def _ok(client: Client, tool: str, args: dict[str, Any]) -> dict[str, Any]:
    result = await client.call_tool(tool, args)
    assert not result.is_error, result.content
    return dict(result.structured_content or {})


async def _run_plan(client: Client) -> str:
    plan_id = str((await _ok(client, "plan_create", {"goal": "add()", "tasks": TASKS}))["plan_id"])
    while (nxt := await _ok(client, "plan_next_task", {"plan_id": plan_id}))["kind"] == "task":
        ids = {"plan_id": plan_id, "task_id": nxt["task"]["id"]}
        output = OUTPUTS[nxt["task"]["id"]]
        assert (await _ok(client, "verify_output", {"output": output, **ids}))["passed"]
        await _ok(client, "plan_record", {"output": output, **ids})
    assert nxt["kind"] == "complete"
    return plan_id


@pytest.mark.anyio
async def test_whole_plan_over_stdio_survives_a_restart(tmp_path: Path) -> None:
    """A scored plan run over stdio is complete and still there after the server restarts."""
    db = tmp_path / "loopcore.db"
    async with Client(_params(db)) as client:
        names = {t.name for t in (await client.list_tools()).tools}
        plan_id = await _run_plan(client)
    async with Client(_params(db)) as client:
        status = await _ok(client, "plan_status", {"plan_id": plan_id})
    assert {"verify_output", "plan_create", "loop_step", "stats"} <= names
    assert (status["complete"], status["counts"]["done"]) == (True, 3)


def _send(proc: subprocess.Popen[str], message: dict[str, Any]) -> None:
    assert proc.stdin is not None
    proc.stdin.write(json.dumps(message) + "\n")
    proc.stdin.flush()


def _read_until(proc: subprocess.Popen[str], wanted: int, lines: list[str]) -> dict[str, Any]:
    """Read stdout lines (kept in ``lines``) until the response with id ``wanted``."""
    assert proc.stdout is not None
    while True:
        line = proc.stdout.readline()
        assert line, "the server closed stdout early"
        lines.append(line)
        message = json.loads(line)
        if message.get("id") == wanted:
            return dict(message)


def _spawn(db: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [LOOPCORE, "serve"],
        env=server_env(db),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


INITIALIZED = {"jsonrpc": "2.0", "method": "notifications/initialized"}


def test_stdout_carries_nothing_but_json_rpc(tmp_path: Path) -> None:
    """Every byte the server writes on stdout is a JSON-RPC message; logs go to stderr."""
    proc = _spawn(tmp_path / "loopcore.db")
    lines: list[str] = []
    _send(proc, INIT)
    init = _read_until(proc, 1, lines)
    _send(proc, INITIALIZED)
    _send(proc, {"jsonrpc": "2.0", "id": 2, "method": "tools/list"})
    tools = _read_until(proc, 2, lines)
    call = {"name": "verify_output", "arguments": {"output": "x", "evaluator": {"type": "bad"}}}
    _send(proc, {"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": call})
    failed = _read_until(proc, 3, lines)
    out, err = proc.communicate(timeout=30)  # closes stdin: the server exits
    lines.extend(out.splitlines(keepends=True))
    assert init["result"]["serverInfo"]["name"] == "loopcore"
    assert len(tools["result"]["tools"]) >= 16
    assert failed["result"]["isError"] is True
    assert all(json.loads(line)["jsonrpc"] == "2.0" for line in lines if line.strip())
    assert "store_restored" in err


def test_acknowledged_plan_survives_kill_9(tmp_path: Path) -> None:
    """A plan the server acknowledged is there after the server is killed with SIGKILL."""
    db = tmp_path / "loopcore.db"
    proc = _spawn(db)
    lines: list[str] = []
    _send(proc, INIT)
    _read_until(proc, 1, lines)
    _send(proc, INITIALIZED)
    args = {"goal": "g", "tasks": [{"id": "a", "title": "A"}]}
    _send(proc, {"jsonrpc": "2.0", "id": 2, "method": "tools/call",
                 "params": {"name": "plan_create", "arguments": args}})  # fmt: skip
    created = _read_until(proc, 2, lines)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=30)
    plan_id = created["result"]["structuredContent"]["plan_id"]

    restarted = _spawn(db)
    _send(restarted, INIT)
    _read_until(restarted, 1, lines)
    _send(restarted, INITIALIZED)
    status_call = {"name": "plan_status", "arguments": {"plan_id": plan_id}}
    _send(restarted, {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": status_call})
    status = _read_until(restarted, 2, lines)
    restarted.communicate(timeout=30)
    assert status["result"]["structuredContent"]["plan_id"] == plan_id
    assert status["result"]["structuredContent"]["counts"]["pending"] == 1


def test_database_newer_than_the_code_is_refused(tmp_path: Path) -> None:
    """A database from a newer loopcore makes serve exit 1 with a clear message, untouched."""
    db = tmp_path / "loopcore.db"
    conn = sqlite3.connect(db)
    conn.execute("CREATE TABLE schema_migrations (version INTEGER, name TEXT, applied_at REAL)")
    conn.execute("INSERT INTO schema_migrations VALUES (999, 'future', 0)")
    conn.commit()
    conn.close()
    proc = subprocess.run(
        [LOOPCORE, "serve"],
        env=server_env(db),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 1
    assert "999" in proc.stderr
    assert proc.stdout == ""


def test_a_session_piped_in_whole_gets_every_answer(tmp_path: Path) -> None:
    """``printf '...' | loopcore serve``: requests written at once and stdin closed behind
    them are all answered before the server exits (the end of input waits for them)."""
    calls = [
        ("intercept", {"prompt": "Make parse_csv() in src/csv.py stream rows; keep the header"}),
        ("verify_output", {"output": "3 passed", "evaluator": {"type": "length", "min_words": 2}}),
        ("plan_create", {"goal": "g", "tasks": [{"id": "a", "title": "A"}]}),
        ("prompt_stats", {}),
    ]
    messages = [INIT, INITIALIZED] + [
        {"jsonrpc": "2.0", "id": i, "method": "tools/call", "params": {"name": n, "arguments": a}}
        for i, (n, a) in enumerate(calls, start=2)
    ]
    piped = "".join(json.dumps(m) + "\n" for m in messages)
    proc = _spawn(tmp_path / "loopcore.db")
    out, err = proc.communicate(piped, timeout=60)
    answers = {m["id"]: m for m in map(json.loads, out.splitlines())}
    assert sorted(answers) == [1, 2, 3, 4, 5], err
    assert not any(answers[i]["result"].get("isError") for i in range(2, 6)), out
    assert answers[5]["result"]["structuredContent"]["count"] == 1  # the intercept landed
    assert proc.returncode == 0
