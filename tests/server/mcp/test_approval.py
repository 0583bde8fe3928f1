"""Approval before done through the host (both eras), and the token path without it."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from mcp import Client
from mcp.client.context import ClientRequestContext
from mcp.types import ElicitRequestParams, ElicitResult

from loopcore.clock import FixedClock
from server.app import build_server
from server.cli import main
from server.settings import Settings
from tests.server.helpers import MODES, err, ok

SPEC = {"type": "regex", "required": ["tests pass"]}
TASKS: list[dict[str, Any]] = [
    {"id": "ship", "title": "Ship it", "acceptance": SPEC, "approval": "before_done"}
]


@dataclass
class Person:
    """An elicitation callback that answers approve / decline / cancel, and keeps what it saw."""

    action: str = "accept"
    approve: bool = True
    reason: str = ""
    seen: list[ElicitRequestParams] = field(default_factory=list)

    async def __call__(
        self, context: ClientRequestContext, params: ElicitRequestParams
    ) -> ElicitResult:
        self.seen.append(params)
        if self.action != "accept":
            return ElicitResult(action=self.action)  # type: ignore[arg-type]
        return ElicitResult(
            action="accept", content={"approve": self.approve, "reason": self.reason}
        )


def _settings(tmp_path: Path, **extra: Any) -> Settings:
    return Settings(db=tmp_path / "lc.db", project="approvals", **extra)


async def _record(c: Client, plan_id: str, agent: str = "agent") -> dict[str, Any]:
    args = {"plan_id": plan_id, "task_id": "ship", "output": "tests pass", "agent": agent}
    return await ok(c, "plan_record", args)


@pytest.mark.anyio
@pytest.mark.parametrize("mode", MODES)
async def test_the_person_approves_through_the_host(tmp_path: Path, mode: str) -> None:
    """Accepted with approve: the task is done in the same call; the journal says who."""
    person = Person(reason="checked the diff")
    async with Client(
        build_server(_settings(tmp_path)), mode=mode, elicitation_callback=person
    ) as c:
        plan_id = (await ok(c, "plan_create", {"goal": "release", "tasks": TASKS}))["plan_id"]
        out = await _record(c, plan_id)
        lines = (await ok(c, "plan_explain", {"plan_id": plan_id}))["lines"]
    assert out["task"]["status"] == "done"
    assert out.get("awaiting_approval") is None
    assert "needs your approval" in person.seen[0].message
    assert any("approved by user through the host: checked the diff" in line for line in lines)


@pytest.mark.anyio
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    ("person", "expected"),
    [
        (Person(approve=False, reason="not before the freeze"), "not before the freeze"),
        (Person(action="decline"), "declined through the host"),
    ],
)
async def test_a_declined_approval_keeps_the_task_in_progress(
    tmp_path: Path, mode: str, person: Person, expected: str
) -> None:
    """Declined (in the form or by the host's decline): the task stays; no token; reason kept."""
    async with Client(
        build_server(_settings(tmp_path)), mode=mode, elicitation_callback=person
    ) as c:
        plan_id = (await ok(c, "plan_create", {"goal": "release", "tasks": TASKS}))["plan_id"]
        await ok(c, "plan_next_task", {"plan_id": plan_id, "agent": "a1"})
        out = await _record(c, plan_id, agent="a1")
        lines = (await ok(c, "plan_explain", {"plan_id": plan_id}))["lines"]
    assert out["task"]["status"] == "in_progress"
    assert out["awaiting_approval"].get("token") is None
    assert any(expected in line for line in lines)


@pytest.mark.anyio
@pytest.mark.parametrize("mode", MODES)
async def test_a_cancelled_question_leaves_a_token(tmp_path: Path, mode: str) -> None:
    """Cancelled: the task waits, and a token lets a person approve later."""
    person = Person(action="cancel")
    async with Client(
        build_server(_settings(tmp_path)), mode=mode, elicitation_callback=person
    ) as c:
        plan_id = (await ok(c, "plan_create", {"goal": "release", "tasks": TASKS}))["plan_id"]
        out = await _record(c, plan_id)
    assert out["task"]["status"] == "pending"
    assert str(out["awaiting_approval"]["token"]).startswith(f"{plan_id}~")


@pytest.mark.anyio
@pytest.mark.parametrize("mode", MODES)
async def test_without_elicitation_a_person_approves_with_the_cli(
    tmp_path: Path, mode: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """No elicitation: awaiting_approval with a token; `loopcore approve TOKEN` marks it done."""
    settings = _settings(tmp_path)
    async with Client(build_server(settings), mode=mode) as c:
        plan_id = (await ok(c, "plan_create", {"goal": "release", "tasks": TASKS}))["plan_id"]
        out = await _record(c, plan_id)
        waiting = out["awaiting_approval"]
        assert "loopcore approve" in waiting["how"]
        assert main(["approve", waiting["token"], "--db", str(settings.db), "--by", "ann"]) == 0
        assert "approved: task is done" in capsys.readouterr().out
        status = await ok(c, "plan_status", {"plan_id": plan_id, "verbose": True})
        lines = (await ok(c, "plan_explain", {"plan_id": plan_id}))["lines"]
    assert [t["status"] for t in status["tasks"]] == ["done"]
    assert any("approved by ann with a token" in line for line in lines)


@pytest.mark.anyio
async def test_a_void_or_expired_token_is_refused_by_the_cli(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A token issued before the task changed is void; one past its time to live expired."""
    settings = _settings(tmp_path, approval_ttl_s=60.0)
    clock = FixedClock(1_000_000.0)
    async with Client(build_server(settings, clock=clock), mode="legacy") as c:
        plan_id = (await ok(c, "plan_create", {"goal": "release", "tasks": TASKS}))["plan_id"]
        first = (await _record(c, plan_id))["awaiting_approval"]["token"]
        clock.advance(1.0)
        second = (await _record(c, plan_id))["awaiting_approval"]["token"]
    db = str(settings.db)
    assert main(["approve", first, "--db", db]) == 1
    assert "void" in capsys.readouterr().err
    # The CLI runs on the real clock, far past the FixedClock's expiry.
    assert main(["approve", second, "--db", db]) == 1
    assert "expired" in capsys.readouterr().err


@pytest.mark.anyio
async def test_agents_answer_tokens_only_when_the_server_allows_it(tmp_path: Path) -> None:
    """approval_decide is not listed by default; with LOOPCORE_AGENT_APPROVALS it answers."""
    async with Client(build_server(_settings(tmp_path)), mode="2026-07-28") as c:
        names = {t.name for t in (await c.list_tools()).tools}
    assert "approval_decide" not in names
    async with Client(
        build_server(_settings(tmp_path, agent_approvals=True)), mode="2026-07-28"
    ) as c:
        plan_id = (await ok(c, "plan_create", {"goal": "release", "tasks": TASKS}))["plan_id"]
        token = (await _record(c, plan_id))["awaiting_approval"]["token"]
        task = await ok(c, "approval_decide", {"token": token, "approve": True, "reason": "ok"})
        assert task["status"] == "done"
        text = await err(c, "approval_decide", {"token": token, "approve": True})
    assert "already answered" in text


@pytest.mark.anyio
async def test_a_manual_edit_cannot_skip_the_approval(tmp_path: Path) -> None:
    """plan_update_task(status=done) on a task that needs approval is refused."""
    async with Client(build_server(_settings(tmp_path)), mode="legacy") as c:
        plan_id = (await ok(c, "plan_create", {"goal": "release", "tasks": TASKS}))["plan_id"]
        args = {"plan_id": plan_id, "task_id": "ship", "status": "done"}
        text = await err(c, "plan_update_task", args)
    assert "needs a person's approval" in text


# ---- a command spec that asks for approval before it runs ---------------------------------------

PY = sys.executable
MARK = "import pathlib; pathlib.Path('ran.txt').write_text('x'); print('1 passed')"


def _command_settings(tmp_path: Path) -> Settings:
    project = tmp_path / "proj"
    project.mkdir(exist_ok=True)
    return Settings(
        db=tmp_path / "lc.db",
        project=str(project),
        allow_commands=frozenset({PY}),
        command_timeout_s=60.0,
    )


HELD = {"type": "command", "run": [PY, "-c", MARK], "approval": True}


@dataclass
class Runner:
    """An elicitation callback answering the run question (and anything else: approve)."""

    allow: bool
    seen: list[str] = field(default_factory=list)

    async def __call__(
        self, context: ClientRequestContext, params: ElicitRequestParams
    ) -> ElicitResult:
        self.seen.append(params.message)
        return ElicitResult(action="accept", content={"run": self.allow})


@pytest.mark.slow
@pytest.mark.anyio
@pytest.mark.parametrize("mode", MODES)
async def test_a_held_command_runs_only_when_the_person_lets_it(tmp_path: Path, mode: str) -> None:
    """verify_output asks first: yes runs it (the file appears); no refuses and runs nothing."""
    settings = _command_settings(tmp_path)
    ran = Path(str(settings.project)) / "ran.txt"
    no = Runner(allow=False)
    async with Client(build_server(settings), mode=mode, elicitation_callback=no) as c:
        text = await err(c, "verify_output", {"evaluator": HELD})
    assert "did not let the command run" in text and not ran.exists()
    assert "wants to run" in no.seen[0]
    yes = Runner(allow=True)
    async with Client(build_server(settings), mode=mode, elicitation_callback=yes) as c:
        out = await ok(c, "verify_output", {"evaluator": HELD})
    assert out["passed"] is True and ran.exists()


@pytest.mark.slow
@pytest.mark.anyio
async def test_without_elicitation_a_held_command_is_refused_or_waits_for_a_token(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """No elicitation: verify_output refuses; plan_record answers a token; once a person
    approves with `loopcore approve`, the next plan_record runs it (once)."""
    settings = _command_settings(tmp_path)
    ran = Path(str(settings.project)) / "ran.txt"
    task = [{"id": "ship", "title": "Ship it", "acceptance": HELD}]
    async with Client(build_server(settings), mode="2026-07-28") as c:
        text = await err(c, "verify_output", {"evaluator": HELD})
        assert "needs a person's approval" in text
        plan_id = (await ok(c, "plan_create", {"goal": "release", "tasks": task}))["plan_id"]
        args = {"plan_id": plan_id, "task_id": "ship"}
        waiting = (await ok(c, "plan_record", args))["awaiting_approval"]
        assert not ran.exists()
        assert main(["approve", waiting["token"], "--db", str(settings.db)]) == 0
        capsys.readouterr()
        done = await ok(c, "plan_record", args)
        assert done["task"]["status"] == "done" and ran.exists()
        again = await ok(c, "plan_record", args)  # the approval was used: a new token
    assert again["awaiting_approval"]["token"] != waiting["token"]
