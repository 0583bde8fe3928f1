"""The Claude Code plugin in a real Claude Code session, its model API faked on 127.0.0.1.

The real ``claude`` CLI runs with ``--plugin-dir manifests/claude-plugin`` and
``ANTHROPIC_BASE_URL`` pointing at a small fake of the Messages API that streams scripted
answers and keeps every request it gets, so a test reads what loopcore's hooks added to the
conversation. The hooks run ``loopcore`` from this checkout (a shim first on PATH).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import threading
import uuid
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from loopcore.plans.service import PlanService
from loopcore.store import open_store
from tests.e2e.node_tools import node_env

REPO = Path(__file__).resolve().parents[2]
PLUGIN = REPO / "manifests" / "claude-plugin"
BLOCK_MARK = "does not pass its acceptance check"

pytestmark = [pytest.mark.slow, pytest.mark.node]

# A scripted answer: text, or a tool call as {"tool": name, "input": {...}}.
Answer = str | dict[str, Any]
Reply = Callable[[dict[str, Any]], Answer]


def _block(answer: Answer) -> tuple[dict[str, Any], dict[str, Any], str]:
    """The content block's start, its delta, and the stop reason of one answer."""
    if isinstance(answer, str):
        return {"type": "text", "text": ""}, {"type": "text_delta", "text": answer}, "end_turn"
    start = {"type": "tool_use", "id": f"toolu_{uuid.uuid4().hex[:16]}", "name": answer["tool"]}
    delta = {"type": "input_json_delta", "partial_json": json.dumps(answer["input"])}
    return {**start, "input": {}}, delta, "tool_use"


def _message() -> dict[str, Any]:
    return {
        "id": f"msg_{uuid.uuid4().hex[:12]}",
        "type": "message",
        "role": "assistant",
        "model": "claude-fake",
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": {"input_tokens": 10, "output_tokens": 1},
    }


def _events(answer: Answer) -> Iterator[tuple[str, dict[str, Any]]]:
    """The SSE events of one streamed assistant message holding ``answer``."""
    start, delta, stop = _block(answer)
    yield "message_start", {"type": "message_start", "message": _message()}
    yield "content_block_start", {"type": "content_block_start", "index": 0, "content_block": start}
    yield "content_block_delta", {"type": "content_block_delta", "index": 0, "delta": delta}
    yield "content_block_stop", {"type": "content_block_stop", "index": 0}
    yield (
        "message_delta",
        {
            "type": "message_delta",
            "delta": {"stop_reason": stop, "stop_sequence": None},
            "usage": {"output_tokens": 5},
        },
    )
    yield "message_stop", {"type": "message_stop"}


class FakeMessagesApi:
    """A Messages API on 127.0.0.1 answering ``reply(request)``; keeps every request body."""

    def __init__(self, reply: Reply) -> None:
        self.requests: list[dict[str, Any]] = []
        api = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # keep the test output clean
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                request = json.loads(body or b"{}")
                api.requests.append(request)
                answer = reply(request)
                if request.get("stream"):
                    self._stream(answer)
                else:
                    self._json(answer)

            def _json(self, answer: Answer) -> None:
                # Side requests (titles, summaries) come unstreamed: they get plain text.
                text = answer if isinstance(answer, str) else "ok"
                message = {**_message(), "stop_reason": "end_turn"}
                message["content"] = [{"type": "text", "text": text}]
                data = json.dumps(message).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _stream(self, answer: Answer) -> None:
                self.send_response(200)
                self.send_header("content-type", "text/event-stream")
                self.send_header("cache-control", "no-cache")
                self.end_headers()
                for name, data in _events(answer):
                    self.wfile.write(f"event: {name}\ndata: {json.dumps(data)}\n\n".encode())
                self.wfile.flush()
                self.close_connection = True

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> FakeMessagesApi:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(timeout=10)

    def conversations(self) -> list[str]:
        """Every request's messages as one text (what the model would have read)."""
        return [json.dumps(r.get("messages", [])) for r in self.requests]


def _sandbox(tmp_path: Path, api: FakeMessagesApi) -> tuple[dict[str, str], Path, Path]:
    """A fresh HOME, a project directory, the environment for claude, and the database path."""
    env = node_env()
    home, project, shims = tmp_path / "home", tmp_path / "project", tmp_path / "bin"
    for d in (home, project, shims):
        d.mkdir()
    shim = shims / "loopcore"
    shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m server.cli "$@"\n')
    shim.chmod(0o755)
    db = tmp_path / "lc.db"
    env.update(
        HOME=str(home),
        XDG_CONFIG_HOME="",
        PATH=f"{shims}:{env['PATH']}",
        PYTHONPATH=str(REPO),
        LOOPCORE_DB=str(db),
        ANTHROPIC_BASE_URL=api.url,
        ANTHROPIC_API_KEY="sk-ant-placeholder",
        DISABLE_TELEMETRY="1",
        DISABLE_AUTOUPDATER="1",
        CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC="1",
    )
    for var in ("CLAUDE_CONFIG_DIR", "LOOPCORE_PROJECT", "ANTHROPIC_AUTH_TOKEN"):
        env.pop(var, None)
    return env, project, db


def _claude(
    env: dict[str, str], cwd: Path, prompt: str, *args: str, plugin: bool = True
) -> dict[str, Any]:
    claude = shutil.which("claude", path=env["PATH"])
    if claude is None:
        pytest.fail("claude is not installed: run `source .ci/node.sh`")
    load = ["--plugin-dir", str(PLUGIN)] if plugin else []
    done = subprocess.run(
        [claude, "-p", prompt, *load, "--output-format", "json", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def _claimed_task(db: Path, project: Path, session: str) -> str:
    """A plan whose first task needs 'tests pass' in the output, claimed by ``session``."""
    store, _ = open_store(db)
    try:
        plans = PlanService(store)
        spec = {"type": "regex", "required": ["tests pass"]}
        task = {"id": "t1", "title": "Fix the parser", "acceptance": spec}
        plan = plans.create(str(project.resolve()), "Repair the parser", [task]).plan
        claimed = plans.next_task(plan.id, agent=session).task
        assert claimed is not None and claimed.id == "t1"
        return plan.id
    finally:
        store.close()


def _task_and_journal(db: Path, plan_id: str) -> tuple[str, list[str]]:
    store, _ = open_store(db)
    try:
        plans = PlanService(store)
        return plans.task(plan_id, "t1").status, list(plans.explain(plan_id).lines)
    finally:
        store.close()


def _script(first: str) -> Reply:
    """Answer ``first``; once loopcore blocked a stop, answer with the fix."""

    def reply(request: dict[str, Any]) -> str:
        return "Fixed it: tests pass." if BLOCK_MARK in json.dumps(request) else first

    return reply


def test_a_vague_prompt_reaches_the_model_with_loopcores_questions(tmp_path: Path) -> None:
    """UserPromptSubmit: the model's request carries loopcore's grade and questions."""
    with FakeMessagesApi(lambda r: "What should change?") as api:
        env, project, _ = _sandbox(tmp_path, api)
        result = _claude(env, project, "fix it")
    assert result["result"] == "What should change?"
    carrying = [c for c in api.conversations() if "loopcore scored this request grade" in c]
    assert carrying, api.conversations()
    assert "Where should this live: which module, package or file" in carrying[0]


def test_a_clear_prompt_goes_through_untouched(tmp_path: Path) -> None:
    """A specific request gets no loopcore context."""
    prompt = (
        "In src/parser.py, parse_date('2024-02-30') raises ValueError: day is out of range "
        "for month. It should return None for invalid dates instead. Add a test in "
        "tests/test_parser.py; `pytest -q tests/test_parser.py` must pass. Do not change "
        "the public signature of parse_date. Python 3.11."
    )
    with FakeMessagesApi(lambda r: "On it.") as api:
        env, project, _ = _sandbox(tmp_path, api)
        _claude(env, project, prompt)
    assert api.requests
    assert not [c for c in api.conversations() if "loopcore scored this request" in c]


def test_finishing_a_task_that_fails_its_acceptance_is_blocked(tmp_path: Path) -> None:
    """Stop with the claimed task failing its spec: blocked, deficiencies to the model."""
    session = str(uuid.uuid4())
    with FakeMessagesApi(_script("All done, the parser is fixed.")) as api:
        env, project, db = _sandbox(tmp_path, api)
        plan_id = _claimed_task(db, project, session)
        result = _claude(env, project, "Finish task t1.", "--session-id", session)
    # SessionStart told the model about the open plan and the name to claim tasks with.
    assert [c for c in api.conversations() if f"loopcore plan {plan_id} is open" in c]
    blocked = [c for c in api.conversations() if BLOCK_MARK in c]
    assert blocked, api.conversations()
    assert "missing required pattern 'tests pass'" in blocked[0]
    assert result["result"] == "Fixed it: tests pass."
    status, journal = _task_and_journal(db, plan_id)
    assert status == "in_progress"  # checked, not recorded
    checks = [line for line in journal if "checked by claude-code Stop hook" in line]
    # The second stop came with stop_hook_active: let through unchecked, so it cannot loop.
    assert len(checks) == 1
    assert "failed" in checks[0]


def test_finishing_a_task_that_passes_its_acceptance_is_not_blocked(tmp_path: Path) -> None:
    """Stop with the claimed task passing its spec: one model request, no block."""
    session = str(uuid.uuid4())
    with FakeMessagesApi(_script("Done: tests pass.")) as api:
        env, project, db = _sandbox(tmp_path, api)
        plan_id = _claimed_task(db, project, session)
        result = _claude(env, project, "Finish task t1.", "--session-id", session)
    assert result["result"] == "Done: tests pass."
    assert not [c for c in api.conversations() if BLOCK_MARK in c]
    status, journal = _task_and_journal(db, plan_id)
    assert status == "in_progress"
    checks = [line for line in journal if "checked by claude-code Stop hook" in line]
    assert len(checks) == 1
    assert "passed" in checks[0]


def _task_session(*before: dict[str, Any]) -> Reply:
    """Create a Claude Code task 'Fix the parser', run ``before`` tools, mark it completed;
    after a block, say so; then finish."""
    steps: list[Answer] = [
        {"tool": "TaskCreate", "input": {"subject": "Fix the parser", "description": "t1"}},
        *before,
        {"tool": "TaskUpdate", "input": {"taskId": "1", "status": "completed"}},
    ]

    def reply(request: dict[str, Any]) -> Answer:
        if not request.get("tools"):
            return "ok"
        conversation = json.dumps(request.get("messages", []))
        if BLOCK_MARK in conversation:
            return "Blocked by loopcore: the tests do not pass yet."
        done = conversation.count('"tool_result"')
        return steps[done] if done < len(steps) else "Finished."

    return reply


def _run_task_session(tmp_path: Path, reply: Reply) -> tuple[FakeMessagesApi, Path, str]:
    with FakeMessagesApi(reply) as api:
        env, project, db = _sandbox(tmp_path, api)
        plan_id = _claimed_task(db, project, session="not-this-session")
        tools = "TaskCreate,TaskUpdate,Bash(echo:*)"
        result = _claude(env, project, "Fix the parser.", "--allowedTools", tools)
    assert result["result"] in ("Finished.", "Blocked by loopcore: the tests do not pass yet.")
    return api, db, plan_id


def test_task_completed_without_evidence_is_blocked(tmp_path: Path) -> None:
    """TaskUpdate completed on a task named like the plan's: blocked, the model told why."""
    api, db, plan_id = _run_task_session(tmp_path, _task_session())
    blocked = [c for c in api.conversations() if BLOCK_MARK in c]
    assert blocked, api.conversations()[-1][-3000:]
    assert "missing required pattern 'tests pass'" in blocked[0]
    status, journal = _task_and_journal(db, plan_id)
    assert status == "in_progress"  # still the other agent's, nothing recorded
    assert [line for line in journal if "checked by claude-code TaskCompleted hook: failed" in line]


def test_task_completed_with_a_passing_test_run_goes_through(tmp_path: Path) -> None:
    """A Bash run printing 'tests pass' before TaskUpdate: the task completes, no block."""
    bash = {"tool": "Bash", "input": {"command": "echo 3 tests pass", "description": "tests"}}
    api, db, plan_id = _run_task_session(tmp_path, _task_session(bash))
    assert not [c for c in api.conversations() if BLOCK_MARK in c]
    assert [c for c in api.conversations() if "3 tests pass" in c]
    _, journal = _task_and_journal(db, plan_id)
    assert [line for line in journal if "checked by claude-code TaskCompleted hook: passed" in line]


def test_install_hooks_into_project_settings_and_claude_runs_them(tmp_path: Path) -> None:
    """`loopcore install claude-code --hooks --scope project`, no plugin: the hooks still run."""
    session = str(uuid.uuid4())
    with FakeMessagesApi(_script("All done.")) as api:
        env, project, db = _sandbox(tmp_path, api)
        installed = subprocess.run(
            ["loopcore", "install", "claude-code", "--hooks", "--scope", "project"],
            env=env,
            cwd=project,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert installed.returncode == 0, installed.stderr
        settings = json.loads((project / ".claude" / "settings.json").read_text())
        assert settings["hooks"]["Stop"][0]["hooks"][0]["command"] == "loopcore hook claude-code"
        _claimed_task(db, project, session)
        _claude(env, project, "fix it", "--session-id", session, plugin=False)
    conversations = api.conversations()
    assert [c for c in conversations if "loopcore scored this request grade" in c]
    assert [c for c in conversations if BLOCK_MARK in c]


def test_the_plugin_validates_strictly(tmp_path: Path) -> None:
    """``claude plugin validate --strict manifests/claude-plugin`` passes."""
    env = node_env()
    home = tmp_path / "home"
    home.mkdir()
    env.update(
        HOME=str(home), DISABLE_AUTOUPDATER="1", CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC="1"
    )
    claude = shutil.which("claude", path=env["PATH"])
    assert claude is not None
    done = subprocess.run(
        [claude, "plugin", "validate", "--strict", str(PLUGIN)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Validation passed" in done.stdout
    for event in ("UserPromptSubmit", "TaskCompleted", "Stop", "SessionStart"):
        assert f'hooks: {event} command "loopcore hook claude-code"' in done.stdout
