"""``loopcore hook <host>``: verification the agent does not have to ask for.

A host (Claude Code, Codex CLI, Gemini CLI) runs this command on its own events with the
event's JSON on stdin. Three things happen, whatever the agent remembers to do:

- a prompt is submitted (Claude Code and Codex ``UserPromptSubmit``, Gemini ``BeforeAgent``):
  the request is scored; below the configured grade (``LOOPCORE_HOOK_MIN_GRADE``, default C)
  the blanks and the best questions go back as ``hookSpecificOutput.additionalContext``, which
  the host puts beside the prompt. It never blocks unless ``LOOPCORE_HOOK_BLOCK_PROMPTS`` is on
  (then exit 2, the reasons on stderr).
- a task is complete (Claude Code ``TaskCompleted``) or the agent stops (``Stop``, Gemini
  ``AfterAgent``): the plan task this session works on (claimed by it, or named by the host's
  task id or subject) is checked with its acceptance spec. A failure blocks (exit 2, the
  deficiencies on stderr, which the host hands to the model); nothing is recorded either
  way (checking is not recording). A Stop that follows a block (``stop_hook_active``) is let
  through, so the session can never loop.
- a session starts (``SessionStart``): the compact status of the project's open plan.

Every handler answers quickly and never breaks the host: bad or empty input, or any error,
is one line on stderr and exit 0. What a handler did is journaled (the intercept history and
a ``hook`` journal entry; a ``checked`` entry in the plan's journal).
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from loopcore.clock import Clock
    from loopcore.plans.check import TaskCheck
    from loopcore.plans.service import PlanService
    from loopcore.store.protocol import Store
    from server.settings import Settings

__all__ = ["EVENTS", "HOSTS", "HookReply", "add_hook_parser", "handle", "run_hook"]

MAX_INPUT_BYTES = 4 * 1024 * 1024
MAX_PROMPT_CHARS = 100_000
_TRANSCRIPT_TAIL = 512 * 1024

# host -> the host's event name -> what loopcore does on it.
EVENTS: Mapping[str, Mapping[str, str]] = {
    "claude-code": {
        "UserPromptSubmit": "prompt",
        "TaskCompleted": "task",
        "Stop": "stop",
        "SessionStart": "session",
    },
    "codex": {"UserPromptSubmit": "prompt", "Stop": "stop", "SessionStart": "session"},
    "gemini": {"BeforeAgent": "prompt", "AfterAgent": "stop", "SessionStart": "session"},
}
HOSTS = tuple(EVENTS)


@dataclass(frozen=True, kw_only=True)
class HookReply:
    """What the host gets back: an exit status, JSON for stdout, a message for stderr."""

    exit_code: int = 0
    output: Mapping[str, Any] | None = None
    message: str = ""


@dataclass(frozen=True, kw_only=True)
class _Ctx:
    """One hook run: the host, the event, its payload and the injected parts."""

    host: str
    event: str
    kind: str
    data: Mapping[str, Any]
    settings: Settings
    clock: Clock

    @property
    def project(self) -> str:
        """The settings' project, else the directory the host says the session runs in."""
        if self.settings.project:
            return self.settings.project
        cwd = self.data.get("cwd")
        if isinstance(cwd, str) and cwd and Path(cwd).is_dir():
            return str(Path(cwd).resolve())
        return self.settings.project_key

    def text(self, key: str) -> str:
        value = self.data.get(key)
        return value if isinstance(value, str) else ""

    def context(self, text: str) -> HookReply:
        """Text the host adds beside the prompt or at the session's start."""
        out = {"hookSpecificOutput": {"hookEventName": self.event, "additionalContext": text}}
        return HookReply(output=out)


def add_hook_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> Any:
    """Add ``hook <host>`` to the CLI's subcommands."""
    p = sub.add_parser(
        "hook",
        help="handle a host's hook event (JSON on stdin)",
        description="Run by a host on its events: scores submitted prompts, checks a "
        "finished task against its acceptance spec (exit 2 blocks on failure), and gives "
        "the project's open plan at session start. Never fails the host: bad input is one "
        "line on stderr and exit 0.",
    )
    p.add_argument("host", choices=HOSTS, help="the host whose events arrive on stdin")
    return p


def _open(ctx: _Ctx) -> Store:
    from loopcore.store import open_store

    store, _ = open_store(ctx.settings.db, ctx.clock)
    return store


def _journal(store: Store, ctx: _Ctx, detail: Mapping[str, Any]) -> None:
    from loopcore.plans.check import journal_event

    journal_event(
        store, ctx.clock, ctx.project, "hook", {"host": ctx.host, "event": ctx.event, **detail}
    )


def _on_prompt(ctx: _Ctx) -> HookReply:
    from loopcore.history import HistoryService
    from loopcore.intercept import prompt_hash, score_prompt
    from server.cli.intercept import below, render_questions

    prompt = ctx.text("prompt")
    if not prompt.strip():
        return HookReply(message="loopcore hook: no prompt in the event; nothing scored")
    prompt = prompt[:MAX_PROMPT_CHARS]
    score = score_prompt(prompt)
    acted = below(score.grade, ctx.settings.hook_min_grade)
    store = _open(ctx)
    try:
        HistoryService(store, ctx.clock).record_intercept(
            ctx.project,
            prompt_hash(prompt),
            score.score,
            score.grade,
            score.dimensions,
            score.route,
            prompt if ctx.settings.store_prompts else None,
        )
        action = ("blocked" if ctx.settings.hook_block_prompts else "advised") if acted else "none"
        _journal(
            store, ctx, {"grade": score.grade, "score": round(score.score, 4), "action": action}
        )
    finally:
        store.close()
    if not acted:
        return HookReply()
    head = (
        f"loopcore scored this request grade {score.grade} ({score.score:.2f}): it leaves "
        "blanks. Before acting on it, ask the user these questions (or state the assumptions "
        "you make):"
    )
    text = f"{head}\n{render_questions(score)}"
    if ctx.settings.hook_block_prompts:
        return HookReply(exit_code=2, message=text)
    return ctx.context(text)


def _texts(content: Any) -> list[str]:
    """The text of a message's content: a string, text blocks, and tool results' text."""
    if isinstance(content, str):
        return [content]
    out: list[str] = []
    for block in content if isinstance(content, list) else []:
        if not isinstance(block, dict):
            continue
        if block.get("type") == "text" and isinstance(block.get("text"), str):
            out.append(block["text"])
        elif block.get("type") == "tool_result":
            out += _texts(block.get("content"))
    return out


def _is_prompt(message: Mapping[str, Any]) -> bool:
    """A user message the person typed (not one carrying tool results)."""
    content = message.get("content")
    if isinstance(content, str):
        return True
    blocks = content if isinstance(content, list) else []
    return not any(isinstance(b, dict) and b.get("type") == "tool_result" for b in blocks)


def _turn_text(path: str) -> str:
    """What the agent said and its tools returned since the last prompt, from a Claude Code
    transcript (JSON lines): the evidence a finished task is checked on."""
    try:
        with open(path, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            fh.seek(max(0, fh.tell() - _TRANSCRIPT_TAIL))
            lines = fh.read().decode("utf-8", "replace").splitlines()
    except OSError:
        return ""
    parts: list[str] = []
    for line in reversed(lines):
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        message = entry.get("message") if isinstance(entry, dict) else None
        if not isinstance(message, dict):
            continue
        if message.get("role") == "user" and _is_prompt(message):
            break
        parts[:0] = _texts(message.get("content"))
    return "\n".join(p for p in parts if p.strip())[-MAX_PROMPT_CHARS:]


def _output(ctx: _Ctx) -> str:
    """What the agent produced this turn: the transcript's text and tool results, and the
    host's last message (Claude Code ``last_assistant_message``, Gemini ``prompt_response``)."""
    path = ctx.text("transcript_path")
    turn = _turn_text(path) if path else ""
    for key in ("last_assistant_message", "prompt_response"):
        last = ctx.text(key)
        if last.strip() and last.strip() not in turn:
            turn = f"{turn}\n{last}" if turn else last
    return turn


def _find(ctx: _Ctx, plans: PlanService) -> Any:
    from loopcore.plans.check import find_session_task

    agents = [ctx.text("session_id"), ctx.text("teammate_name"), ctx.text("agent_id")]
    refs = [ctx.text("task_subject"), ctx.text("task_id")] if ctx.kind == "task" else []
    return find_session_task(plans, ctx.project, agents=agents, refs=refs)


def _blocked(check: TaskCheck) -> str:
    ev = check.evaluation
    lines = [
        f"loopcore: task {check.task.id} ({check.task.title}) of plan {check.plan.id} does not "
        f"pass its acceptance check (score {ev.score:.2f}); it is not done:",
        *(f"- {d}" for d in ev.deficiencies),
        "Fix these, then finish again.",
    ]
    return "\n".join(lines)


def _no_output(plan_id: str, task: Any) -> str:
    return (
        f"loopcore: task {task.id} ({task.title}) of plan {plan_id} cannot be checked: this "
        "turn shows no result. Its acceptance spec needs the evidence in your reply or a "
        "tool's output (for example the test run's summary). Show it, then finish again."
    )


def _on_finish(ctx: _Ctx) -> HookReply:
    from loopcore.errors import InvalidInput
    from loopcore.plans.acceptance import runs_command
    from loopcore.plans.check import check_task, journal_check, journal_event
    from loopcore.plans.service import PlanService
    from server.runtime import factory_options

    if ctx.data.get("stop_hook_active") is True:
        return HookReply()  # the host already continued once because of us: let it stop
    store = _open(ctx)
    try:
        plans = PlanService(store, ctx.clock)
        found = _find(ctx, plans)
        if found is None:
            return HookReply()
        plan, task = found
        if task.acceptance is None:
            return HookReply()
        output = _output(ctx)
        if not output.strip() and not runs_command(task.acceptance):
            detail = {"source": f"{ctx.host} {ctx.event} hook", "passed": False, "score": None}
            detail["deficiencies"] = ["no evidence in this turn"]
            journal_event(
                store, ctx.clock, plan.project, "checked", detail, plan_id=plan.id, task_id=task.id
            )
            return HookReply(exit_code=2, message=_no_output(plan.id, task))
        options = factory_options(ctx.settings)
        try:
            check = check_task(plans, options, plan.id, task.id, output)
        except InvalidInput as exc:
            return HookReply(message=f"loopcore hook: task {task.id} not checked: {exc}")
        journal_check(store, ctx.clock, check, f"{ctx.host} {ctx.event} hook")
    finally:
        store.close()
    if check.evaluation.passed:
        return HookReply()
    return HookReply(exit_code=2, message=_blocked(check))


def _on_session(ctx: _Ctx) -> HookReply:
    from loopcore.plans.service import PlanService

    store = _open(ctx)
    try:
        plans = PlanService(store, ctx.clock)
        for plan in plans.list_plans(ctx.project, status="active", limit=20).plans:
            status = plans.status(plan.id)
            if status.complete:
                continue
            _journal(store, ctx, {"plan_id": plan.id, "action": "status"})
            return ctx.context(_status_text(status, ctx.text("session_id")))
    finally:
        store.close()
    return HookReply()


def _status_text(status: Any, session_id: str) -> str:
    plan = status.plan
    counts = ", ".join(f"{n} {s}" for s, n in status.counts.items() if n)
    lines = [
        f"loopcore plan {plan.id} is open in this project: {plan.goal.splitlines()[0][:200]}",
        f"tasks: {counts}; confidence {plan.confidence:.2f} (threshold {plan.threshold:.2f})"
        + ("; needs a replan" if plan.needs_replan else ""),
    ]
    if status.ready:
        lines.append(f"ready: {', '.join(status.ready[:10])}")
    if status.in_progress:
        lines.append(f"in progress: {', '.join(status.in_progress[:10])}")
    if session_id:
        lines.append(
            f'Claim work with agent "{session_id}" so the checks at the end of a task find it.'
        )
    return "\n".join(lines)


_HANDLERS: Mapping[str, Callable[[_Ctx], HookReply]] = {
    "prompt": _on_prompt,
    "task": _on_finish,
    "stop": _on_finish,
    "session": _on_session,
}


def _parse(raw: str) -> Mapping[str, Any] | str:
    """The event as a JSON object, or why it is not one."""
    if not raw.strip():
        return "empty input (expected the hook event's JSON on stdin)"
    try:
        data = json.loads(raw)
    except ValueError as exc:
        return f"input is not JSON ({exc})"
    if not isinstance(data, dict):
        return f"input is a JSON {type(data).__name__}, not an object"
    return data


def handle(host: str, raw: str, settings: Settings, clock: Clock) -> HookReply:
    """Handle one event's JSON from ``host``; never raises."""
    data = _parse(raw)
    if isinstance(data, str):
        return HookReply(message=f"loopcore hook {host}: {data}; ignored")
    event = data.get("hook_event_name")
    kind = EVENTS[host].get(event) if isinstance(event, str) else None
    if kind is None:
        return HookReply()  # an event loopcore has nothing to do on
    ctx = _Ctx(host=host, event=str(event), kind=kind, data=data, settings=settings, clock=clock)
    try:
        return _HANDLERS[kind](ctx)
    except Exception as exc:  # a hook must never break the host's session
        return HookReply(message=f"loopcore hook {host} {event}: {type(exc).__name__}: {exc}")


def run_hook(
    args: argparse.Namespace, settings: Settings, stdin: TextIO, out: TextIO, err: TextIO
) -> int:
    """Run ``loopcore hook <host>``: read the event, write the reply; the exit status."""
    from loopcore.clock import system_clock

    reply = handle(args.host, stdin.read(MAX_INPUT_BYTES), settings, system_clock)
    if reply.output is not None:
        out.write(json.dumps(reply.output) + "\n")
    if reply.message:
        err.write(reply.message.rstrip("\n") + "\n")
    return reply.exit_code
