"""The command evaluator through the tools: real pytest runs in a throwaway project.

plan_record with nothing but ids runs a task's acceptance command, loop_step
keeps the baseline failing set across steps (and a restart), verify_output
runs a command spec, and the allowlist and the project root are enforced.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from server.app import build_server
from server.settings import Settings
from tests.server.helpers import err, make_settings, new_plan, ok

pytestmark = pytest.mark.slow

PY = sys.executable
# Plugins of this venv (timeout, asyncio, hypothesis) only slow the child run down.
ENV = {**os.environ, "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
PYTEST: dict[str, Any] = {
    "type": "command",
    "run": [PY, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
    "env": ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"],
}
CALC = """\
def add(a, b):
    return a + b

def mul(a, b):
    return a * b

def neg(a):
    return -a
"""
TESTS = """\
from calc import add, mul, neg

def test_add():
    assert add(1, 2) == 3

def test_mul():
    assert mul(2, 3) == 6

def test_neg():
    assert neg(2) == -2
"""
ADD, MUL, NEG = (f"tests/test_calc.py::test_{n}" for n in ("add", "mul", "neg"))


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A tiny module with three passing tests."""
    root = tmp_path / "proj"
    (root / "tests").mkdir(parents=True)
    (root / "pytest.ini").write_text("[pytest]\npythonpath = .\n")
    (root / "calc.py").write_text(CALC)
    (root / "tests" / "test_calc.py").write_text(TESTS)
    return root


def _settings(tmp_path: Path, project: Path, allow: frozenset[str] = frozenset({PY})) -> Settings:
    return make_settings(
        tmp_path,
        project=str(project),
        allow_commands=allow,
        command_environ=ENV,
        command_timeout_s=60.0,
    )


def _break(project: Path, *names: str) -> None:
    """Rewrite calc.py with the named functions broken (the others correct)."""
    wrong = {"add": ("a + b", "a - b"), "mul": ("a * b", "a ** b"), "neg": ("-a", "a")}
    text = CALC
    for name in names:
        text = text.replace(*wrong[name])
    (project / "calc.py").write_text(text)


def _task(acceptance: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"id": "t", "title": "Make the tests pass", "acceptance": acceptance}]


@pytest.mark.anyio
async def test_plan_record_without_output_runs_the_command_and_passes(
    tmp_path: Path, project: Path
) -> None:
    """All tests pass: the task is done with output score 1.0 and no failing tests."""
    async with Client(build_server(_settings(tmp_path, project))) as c:
        plan_id = await new_plan(c, _task(PYTEST))
        res = await ok(c, "plan_record", {"plan_id": plan_id, "task_id": "t"})
    assert (res["task"]["status"], res["task"]["output_score"]) == ("done", 1.0)
    assert res["evaluation"]["details"]["failing"] == []
    assert res["evaluation"]["details"]["passed"] == 3


@pytest.mark.anyio
async def test_plan_record_without_output_records_failures(tmp_path: Path, project: Path) -> None:
    """Two broken functions: the task fails and the deficiencies name both failing tests."""
    _break(project, "add", "mul")
    async with Client(build_server(_settings(tmp_path, project))) as c:
        plan_id = await new_plan(c, _task(PYTEST))
        res = await ok(c, "plan_record", {"plan_id": plan_id, "task_id": "t"})
    assert res["task"]["status"] == "failed"
    assert res["evaluation"]["details"]["failing"] == [ADD, MUL]
    named = [d for d in res["evaluation"]["deficiencies"] if d.startswith("failing: ")]
    assert [d.split(" - ")[0] for d in named] == [f"failing: {ADD}", f"failing: {MUL}"]


@pytest.mark.anyio
async def test_plan_record_tracks_the_tasks_failing_tests_across_records_and_a_restart(
    tmp_path: Path, project: Path
) -> None:
    """First record: add and mul fail. After a restart, both fixed but neg broken: regression."""
    _break(project, "add", "mul")
    async with Client(build_server(_settings(tmp_path, project))) as c:
        plan_id = await new_plan(c, _task(PYTEST))
        await ok(c, "plan_record", {"plan_id": plan_id, "task_id": "t"})
    _break(project, "neg")
    async with Client(build_server(_settings(tmp_path, project))) as c:
        res = await ok(c, "plan_record", {"plan_id": plan_id, "task_id": "t"})
    details = res["evaluation"]["details"]
    assert (details["regression"], details["newly_failing"]) == (True, [NEG])
    assert res["evaluation"]["score"] == 0.5  # (2 fixed - 1 newly broken) / 2 failing at first
    assert f"regression: newly failing: {NEG}" in res["evaluation"]["deficiencies"]


@pytest.mark.anyio
async def test_plan_record_runs_the_command_part_of_a_composite_acceptance(
    tmp_path: Path, project: Path
) -> None:
    """A composite acceptance with a command part is run too; its parts are reported."""
    no_todo = {"type": "regex", "forbidden": ["TODO"]}
    spec = {"type": "composite", "parts": [{"weight": 3, "spec": PYTEST}, {"spec": no_todo}]}
    async with Client(build_server(_settings(tmp_path, project))) as c:
        plan_id = await new_plan(c, _task(spec))
        res = await ok(c, "plan_record", {"plan_id": plan_id, "task_id": "t"})
    assert res["task"]["status"] == "done"
    assert res["evaluation"]["sub_scores"] == {"0:command": 1.0, "1:regex": 1.0}


@pytest.mark.anyio
async def test_plan_record_with_nothing_and_no_command_acceptance_is_refused(
    tmp_path: Path, project: Path
) -> None:
    """Without output or scores, a task whose acceptance runs no command has nothing to record."""
    async with Client(build_server(_settings(tmp_path, project))) as c:
        plan_id = await new_plan(c, _task({"type": "length", "min_words": 3}))
        text = await err(c, "plan_record", {"plan_id": plan_id, "task_id": "t"})
        status = await ok(c, "plan_status", {"plan_id": plan_id, "verbose": True})
    assert "nothing to record" in text
    assert "runs a command" in text
    assert "output_score" not in status["tasks"][0]


@pytest.mark.anyio
async def test_loop_step_keeps_the_baseline_failing_set_across_steps_and_a_restart(
    tmp_path: Path, project: Path
) -> None:
    """Baseline: 2 failing; one fixed: score rises; then a new failure: regression flagged."""
    _break(project, "add", "mul")
    start = {"goal": "make the tests pass", "evaluator": PYTEST, "quality_threshold": 0.99}
    async with Client(build_server(_settings(tmp_path, project))) as c:
        loop_id = (await ok(c, "loop_start", {**start, "max_iterations": 5}))["loop_id"]
        first = await ok(c, "loop_step", {"loop_id": loop_id})
    _break(project, "mul")
    async with Client(build_server(_settings(tmp_path, project))) as c:  # a restart
        second = await ok(c, "loop_step", {"loop_id": loop_id})
        _break(project, "neg")
        third = await ok(c, "loop_step", {"loop_id": loop_id, "output": "fixed mul"})
    assert (first["failing"], first["regression"]) == ([ADD, MUL], False)
    assert (second["failing"], second["regression"]) == ([MUL], False)
    assert second["decision"] == "continue"  # two empty outputs are not a repeated output
    assert second["score"] > first["score"]
    assert (third["failing"], third["regression"]) == ([NEG], True)
    assert f"regression: newly failing: {NEG}" in third["feedback"]


@pytest.mark.anyio
async def test_loop_step_without_output_needs_a_command_evaluator(
    tmp_path: Path, project: Path
) -> None:
    """A loop judged on its output refuses an empty step and records nothing."""
    async with Client(build_server(_settings(tmp_path, project))) as c:
        start = {"goal": "write a function", "evaluator": {"type": "regex", "required": ["def"]}}
        loop_id = (await ok(c, "loop_start", start))["loop_id"]
        text = await err(c, "loop_step", {"loop_id": loop_id})
        status = await ok(c, "loop_status", {"loop_id": loop_id})
    assert "output: must not be empty" in text
    assert "scores" not in status


@pytest.mark.anyio
async def test_verify_output_runs_an_allowlisted_command_spec(
    tmp_path: Path, project: Path
) -> None:
    """verify_output with a command spec and no output runs it and reports the failing test."""
    _break(project, "neg")
    async with Client(build_server(_settings(tmp_path, project))) as c:
        res = await ok(c, "verify_output", {"evaluator": PYTEST})
    assert (res["passed"], res["details"]["failing"], res["details"]["exit_code"]) == (
        False,
        [NEG],
        1,
    )


@pytest.mark.anyio
async def test_program_not_on_the_allowlist_is_a_clear_tool_error(
    tmp_path: Path, project: Path
) -> None:
    """A spec naming another program is refused, saying LOOPCORE_ALLOW_COMMANDS must name it."""
    spec = {"type": "command", "run": ["bash", "-c", "echo hi"]}
    async with Client(build_server(_settings(tmp_path, project))) as c:
        text = await err(c, "verify_output", {"evaluator": spec})
    assert "program 'bash' is not allowed" in text
    assert "LOOPCORE_ALLOW_COMMANDS does not name it" in text


@pytest.mark.anyio
async def test_commands_are_off_when_the_allowlist_is_empty(tmp_path: Path, project: Path) -> None:
    """With no allowlist, verify_output and plan_record both refuse to run the command."""
    async with Client(build_server(_settings(tmp_path, project, allow=frozenset()))) as c:
        verify = await err(c, "verify_output", {"evaluator": PYTEST})
        plan_id = await new_plan(c, _task(PYTEST))
        record = await err(c, "plan_record", {"plan_id": plan_id, "task_id": "t"})
        status = await ok(c, "plan_status", {"plan_id": plan_id, "verbose": True})
    for text in (verify, record):
        assert "LOOPCORE_ALLOW_COMMANDS is empty, so commands are off" in text
    assert status["tasks"][0]["status"] == "pending"


@pytest.mark.anyio
async def test_an_argument_escaping_the_project_root_is_refused(
    tmp_path: Path, project: Path
) -> None:
    """A test path outside the project root is refused before anything runs."""
    (tmp_path / "outside_test.py").write_text("def test_x():\n    assert True\n")
    spec = {**PYTEST, "run": [*PYTEST["run"], "../outside_test.py"]}
    async with Client(build_server(_settings(tmp_path, project))) as c:
        text = await err(c, "verify_output", {"evaluator": spec})
    assert "is a path outside the project root" in text


@pytest.mark.anyio
async def test_verify_output_on_a_task_compares_with_the_tasks_recorded_runs(
    tmp_path: Path, project: Path
) -> None:
    """verify_output on a task runs its acceptance against the failing set plan_record kept,
    and records nothing (the task keeps the status plan_record gave it)."""
    _break(project, "add")
    async with Client(build_server(_settings(tmp_path, project))) as c:
        plan_id = await new_plan(c, _task(PYTEST))
        recorded = await ok(c, "plan_record", {"plan_id": plan_id, "task_id": "t"})
        _break(project, "mul")
        res = await ok(c, "verify_output", {"plan_id": plan_id, "task_id": "t"})
        status = await ok(c, "plan_status", {"plan_id": plan_id, "verbose": True})
    assert (res["details"]["regression"], res["details"]["newly_failing"]) == (True, [MUL])
    assert status["tasks"][0]["output_score"] == recorded["task"]["output_score"]


@pytest.mark.anyio
async def test_verify_output_without_output_needs_a_command_spec(
    tmp_path: Path, project: Path
) -> None:
    """An evaluator that scores the output refuses to score nothing."""
    async with Client(build_server(_settings(tmp_path, project))) as c:
        text = await err(c, "verify_output", {"evaluator": {"type": "regex", "required": ["x"]}})
    assert "output: must not be empty" in text


@pytest.mark.anyio
async def test_a_spec_cannot_read_the_servers_own_secrets(tmp_path: Path, project: Path) -> None:
    """Naming LOOPCORE_PROVIDER_API_KEY in a spec's env is refused: the key never comes back."""
    secret_env = {**ENV, "LOOPCORE_PROVIDER_API_KEY": "sk-do-not-leak"}
    settings = make_settings(
        tmp_path, project=str(project), allow_commands=frozenset({PY}), command_environ=secret_env
    )
    spec = {
        "type": "command",
        "run": [
            PY,
            "-c",
            "import os; print(os.environ.get('LOOPCORE_PROVIDER_API_KEY', 'absent'))",
        ],
        "env": ["LOOPCORE_PROVIDER_API_KEY"],
    }
    async with Client(build_server(settings)) as c:
        result = await c.call_tool("verify_output", {"evaluator": spec})
    dumped = str(result.structured_content) + str(result.content)
    assert "sk-do-not-leak" not in dumped
    assert result.is_error and "never passed to commands" in dumped
