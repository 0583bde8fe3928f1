"""``loopcore hook <host>``: each event with the payloads the hosts document; bad input."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest

from loopcore.clock import FixedClock
from loopcore.history import HistoryService
from loopcore.plans.service import PlanService
from loopcore.store import open_store
from server.cli import main
from server.cli.hook import HookReply, handle
from server.settings import Settings

SESSION = "0b7e1f6c-4d2a-4a57-9a52-0c3f5d8e1a11"
SPEC = {"type": "regex", "required": ["tests pass"]}
CLEAR = (
    "In src/parser.py, parse_date('2024-02-30') raises ValueError: day is out of range for "
    "month. It should return None for invalid dates. Add a test in tests/test_parser.py; "
    "`pytest -q tests/test_parser.py` must pass. Keep parse_date's signature. Python 3.11."
)


def _settings(tmp_path: Path, **kw: Any) -> Settings:
    return Settings(db=tmp_path / "lc.db", project="proj", **kw)


def _event(name: str, **fields: Any) -> str:
    base = {
        "session_id": SESSION,
        "transcript_path": "/nonexistent/transcript.jsonl",
        "cwd": "/tmp",
        "hook_event_name": name,
    }
    return json.dumps({**base, **fields})


def _hook(tmp_path: Path, raw: str, host: str = "claude-code", **kw: Any) -> HookReply:
    return handle(host, raw, _settings(tmp_path, **kw), FixedClock(5000.0))


def _plan(tmp_path: Path, claim: str | None = SESSION) -> tuple[PlanService, str, Any]:
    store, _ = open_store(tmp_path / "lc.db")
    plans = PlanService(store)
    tasks: list[dict[str, Any]] = [
        {"id": "t1", "title": "Fix the parser", "acceptance": SPEC},
        {"id": "t2", "title": "Write the docs", "depends_on": ["t1"]},
    ]
    pid = plans.create("proj", "Repair the parser", tasks).plan.id
    if claim:
        plans.next_task(pid, agent=claim)
    return plans, pid, store


# UserPromptSubmit / BeforeAgent


def test_a_vague_prompt_gets_questions_as_additional_context(tmp_path: Path) -> None:
    """UserPromptSubmit 'fix it': exit 0 and additionalContext with the blanks and questions."""
    reply = _hook(tmp_path, _event("UserPromptSubmit", prompt="fix it"))
    assert reply.exit_code == 0
    assert reply.output is not None
    out = reply.output["hookSpecificOutput"]
    assert out["hookEventName"] == "UserPromptSubmit"
    assert out["additionalContext"].startswith("loopcore scored this request grade D")
    assert "1. " in out["additionalContext"]


def test_a_clear_prompt_passes_silently_and_is_kept_in_history(tmp_path: Path) -> None:
    """A clear prompt: no output; the score is still kept in the prompt history."""
    reply = _hook(tmp_path, _event("UserPromptSubmit", prompt=CLEAR))
    assert reply == HookReply()
    store, _ = open_store(tmp_path / "lc.db")
    try:
        stats = HistoryService(store).prompt_stats("proj")
    finally:
        store.close()
    assert stats.count == 1


def test_the_grade_threshold_is_a_setting(tmp_path: Path) -> None:
    """hook_min_grade F: a D prompt is not below it, so nothing is added."""
    reply = _hook(tmp_path, _event("UserPromptSubmit", prompt="fix it"), hook_min_grade="F")
    assert reply == HookReply()


def test_blocking_prompts_is_a_setting(tmp_path: Path) -> None:
    """hook_block_prompts: exit 2 and the questions on stderr."""
    reply = _hook(tmp_path, _event("UserPromptSubmit", prompt="fix it"), hook_block_prompts=True)
    assert reply.exit_code == 2
    assert reply.output is None
    assert "Questions to answer first:" in reply.message


def test_gemini_before_agent_is_a_prompt(tmp_path: Path) -> None:
    """gemini BeforeAgent carries the prompt: answered in the BeforeAgent shape."""
    reply = _hook(tmp_path, _event("BeforeAgent", prompt="fix it"), host="gemini")
    assert reply.output is not None
    assert reply.output["hookSpecificOutput"]["hookEventName"] == "BeforeAgent"


def test_codex_user_prompt_submit_is_a_prompt(tmp_path: Path) -> None:
    """codex UserPromptSubmit: same as Claude Code's."""
    reply = _hook(tmp_path, _event("UserPromptSubmit", prompt="fix it"), host="codex")
    assert reply.output is not None


# Stop / TaskCompleted / AfterAgent


def test_stop_with_a_failing_claimed_task_blocks_and_records_nothing(tmp_path: Path) -> None:
    """Stop: the session's claimed task fails its spec: exit 2, deficiencies, task unchanged."""
    plans, pid, store = _plan(tmp_path)
    before = plans.task(pid, "t1")
    reply = _hook(
        tmp_path,
        _event("Stop", stop_hook_active=False, last_assistant_message="All done."),
    )
    assert reply.exit_code == 2
    assert "task t1 (Fix the parser)" in reply.message
    assert "- missing required pattern 'tests pass'" in reply.message
    assert plans.task(pid, "t1") == before
    assert "checked by claude-code Stop hook: failed" in plans.explain(pid).lines[-1]
    store.close()


def test_stop_with_a_passing_claimed_task_lets_it_stop(tmp_path: Path) -> None:
    """Stop: the output passes the spec: exit 0, nothing on stderr, a 'checked' line."""
    plans, pid, store = _plan(tmp_path)
    reply = _hook(tmp_path, _event("Stop", last_assistant_message="3 tests pass"))
    assert reply == HookReply()
    assert "passed" in plans.explain(pid).lines[-1]
    assert plans.task(pid, "t1").status == "in_progress"
    store.close()


def test_stop_hook_active_never_blocks_twice(tmp_path: Path) -> None:
    """stop_hook_active true: let the session stop, whatever the output."""
    _, _, store = _plan(tmp_path)
    reply = _hook(tmp_path, _event("Stop", stop_hook_active=True, last_assistant_message="no"))
    assert reply == HookReply()
    store.close()


def test_stop_without_a_task_of_this_session_does_nothing(tmp_path: Path) -> None:
    """Another agent's claim: nothing to check, exit 0."""
    _, _, store = _plan(tmp_path, claim="someone-else")
    reply = _hook(tmp_path, _event("Stop", last_assistant_message="All done."))
    assert reply == HookReply()
    store.close()


def test_task_completed_matches_the_task_by_subject(tmp_path: Path) -> None:
    """TaskCompleted with task_subject = the task's title: checked from the transcript."""
    plans, pid, store = _plan(tmp_path, claim=None)
    transcript = tmp_path / "t.jsonl"
    lines = [
        {"type": "user", "message": {"role": "user", "content": "go"}},
        {
            "type": "assistant",
            "message": {
                "role": "assistant",
                "content": [{"type": "text", "text": "Done, but no tests run."}],
            },
        },
    ]
    transcript.write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    raw = _event(
        "TaskCompleted",
        transcript_path=str(transcript),
        task_id="1",
        task_subject="fix the PARSER",
        task_description="",
    )
    reply = _hook(tmp_path, raw)
    assert reply.exit_code == 2
    assert "missing required pattern 'tests pass'" in reply.message
    assert plans.task(pid, "t1").status == "pending"
    store.close()


def test_gemini_after_agent_checks_the_prompt_response(tmp_path: Path) -> None:
    """gemini AfterAgent: prompt_response is the output checked."""
    _, _, store = _plan(tmp_path)
    ok = _hook(tmp_path, _event("AfterAgent", prompt="x", prompt_response="tests pass"), "gemini")
    bad = _hook(tmp_path, _event("AfterAgent", prompt="x", prompt_response="nope"), "gemini")
    assert (ok.exit_code, bad.exit_code) == (0, 2)
    store.close()


def test_a_command_spec_runs_on_stop(tmp_path: Path) -> None:
    """A task whose spec runs a command: the command decides, with no output needed."""
    store, _ = open_store(tmp_path / "lc.db")
    plans = PlanService(store)
    spec = {"type": "command", "run": ["false"]}
    pid = plans.create("proj", "g", [{"id": "c1", "title": "t", "acceptance": spec}]).plan.id
    plans.next_task(pid, agent=SESSION)
    reply = _hook(tmp_path, _event("Stop"), allow_commands="false")
    assert reply.exit_code == 2
    assert "task c1" in reply.message
    store.close()


# SessionStart


def test_session_start_gives_the_open_plan(tmp_path: Path) -> None:
    """SessionStart: the open plan's status and the agent name to claim with."""
    _, pid, store = _plan(tmp_path, claim=None)
    reply = _hook(tmp_path, _event("SessionStart", source="startup"))
    assert reply.output is not None
    text = reply.output["hookSpecificOutput"]["additionalContext"]
    assert f"loopcore plan {pid} is open in this project: Repair the parser" in text
    assert "ready: t1" in text
    assert f'agent "{SESSION}"' in text
    store.close()


def test_session_start_without_a_plan_says_nothing(tmp_path: Path) -> None:
    """No plan in the project: exit 0, no output."""
    assert _hook(tmp_path, _event("SessionStart", source="startup")) == HookReply()


# Bad input, other events


@pytest.mark.parametrize(
    ("raw", "why"),
    [
        ("", "empty input"),
        ("{not json", "not JSON"),
        ("[1, 2]", "a JSON list, not an object"),
    ],
)
def test_bad_input_is_one_line_on_stderr_and_exit_0(tmp_path: Path, raw: str, why: str) -> None:
    """Empty, non-JSON or non-object input never fails the host."""
    reply = _hook(tmp_path, raw)
    assert reply.exit_code == 0
    assert reply.output is None
    assert why in reply.message
    assert "\n" not in reply.message


def test_unknown_events_and_missing_fields_are_ignored(tmp_path: Path) -> None:
    """PreToolUse, an event without a name, a prompt that is not text: exit 0."""
    assert _hook(tmp_path, _event("PreToolUse", tool_name="Bash")) == HookReply()
    assert _hook(tmp_path, json.dumps({"prompt": "x"})) == HookReply()
    reply = _hook(tmp_path, _event("UserPromptSubmit", prompt=42))
    assert (reply.exit_code, reply.output) == (0, None)
    assert "no prompt" in reply.message


def test_an_unusable_database_is_reported_not_raised(tmp_path: Path) -> None:
    """A database path that cannot be opened: one line on stderr, exit 0."""
    (tmp_path / "lc.db").mkdir()  # a directory where the file should be
    reply = _hook(tmp_path, _event("UserPromptSubmit", prompt="fix it"))
    assert reply.exit_code == 0
    assert reply.message.startswith("loopcore hook claude-code UserPromptSubmit:")


def test_the_cli_writes_json_on_stdout_and_exits_2_on_a_block(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`loopcore hook claude-code`: stdout JSON for context; exit 2 with stderr for a block."""
    db = ["--db", str(tmp_path / "lc.db"), "--project", "proj"]
    monkeypatch.setattr("sys.stdin", io.StringIO(_event("UserPromptSubmit", prompt="fix it")))
    assert main(["hook", "claude-code", *db]) == 0
    out = json.loads(capsys.readouterr().out)
    assert "additionalContext" in out["hookSpecificOutput"]
    _, _, store = _plan(tmp_path)
    monkeypatch.setattr("sys.stdin", io.StringIO(_event("Stop", last_assistant_message="x")))
    assert main(["hook", "claude-code", *db]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "does not pass its acceptance check" in captured.err
    store.close()


def _transcript(tmp_path: Path, *entries: dict[str, Any]) -> str:
    path = tmp_path / "transcript.jsonl"
    path.write_text("\n".join(json.dumps(e) for e in entries) + "\nnot json\n")
    return str(path)


def _msg(role: str, content: Any) -> dict[str, Any]:
    return {"type": role, "message": {"role": role, "content": content}}


def test_tool_results_of_this_turn_are_evidence(tmp_path: Path) -> None:
    """TaskCompleted: a test run's output since the last prompt passes the spec."""
    plans, pid, store = _plan(tmp_path, claim=None)
    path = _transcript(
        tmp_path,
        _msg("user", "earlier prompt: tests pass"),  # before the last prompt: not evidence
        _msg("user", "Fix the parser"),
        _msg("assistant", [{"type": "tool_use", "id": "x", "name": "Bash", "input": {}}]),
        _msg("user", [{"type": "tool_result", "tool_use_id": "x", "content": "5 tests pass"}]),
        _msg("assistant", [{"type": "tool_use", "id": "y", "name": "TaskUpdate", "input": {}}]),
    )
    raw = _event("TaskCompleted", transcript_path=path, task_id="1", task_subject="Fix the parser")
    assert _hook(tmp_path, raw) == HookReply()
    assert "passed" in plans.explain(pid).lines[-1]
    store.close()


def test_earlier_turns_are_not_evidence(tmp_path: Path) -> None:
    """Text before the last prompt does not count: nothing this turn, so the stop is blocked."""
    plans, pid, store = _plan(tmp_path)
    path = _transcript(
        tmp_path,
        _msg("assistant", [{"type": "text", "text": "tests pass"}]),
        _msg("user", [{"type": "text", "text": "now finish"}]),
    )
    reply = _hook(tmp_path, _event("Stop", transcript_path=path))
    assert reply.exit_code == 2
    assert "cannot be checked: this turn shows no result" in reply.message
    last = plans.explain(pid).lines[-1]
    assert "task t1 checked by claude-code Stop hook: failed (score -)" in last
    store.close()
