"""``loopcore verify``: exit 0 passed, 1 failed, 2 bad usage or spec; text and JSON output."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest

from loopcore.plans.service import PlanService
from loopcore.store import open_store
from server.cli import main

SPEC = {"type": "regex", "required": ["tests pass"]}


def _spec(tmp_path: Path, spec: object = SPEC) -> str:
    path = tmp_path / "spec.json"
    path.write_text(json.dumps(spec))
    return str(path)


def _plan(tmp_path: Path) -> tuple[str, str]:
    db = tmp_path / "lc.db"
    store, _ = open_store(db)
    try:
        tasks: list[dict[str, Any]] = [
            {"id": "t1", "title": "Fix it", "acceptance": SPEC},
            {"id": "t2", "title": "x"},
        ]
        return str(db), PlanService(store).create("p", "goal", tasks).plan.id
    finally:
        store.close()


def test_a_passing_output_file_exits_0(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """An output file that passes: exit 0, 'passed' and the score."""
    out = tmp_path / "out.txt"
    out.write_text("3 tests pass")
    assert main(["verify", "--spec", _spec(tmp_path), str(out)]) == 0
    assert capsys.readouterr().out == "passed: score 1.000\n"


def test_a_failing_stdin_exits_1_with_deficiencies(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Output on stdin ('-') that fails: exit 1, FAILED and each deficiency."""
    monkeypatch.setattr("sys.stdin", io.StringIO("all done"))
    assert main(["verify", "--spec", _spec(tmp_path), "-"]) == 1
    assert capsys.readouterr().out == (
        "FAILED: score 0.000\n- missing required pattern 'tests pass'\n"
    )


def test_json_prints_the_full_result(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """--json: the fields verify_output returns."""
    monkeypatch.setattr("sys.stdin", io.StringIO("nope"))
    assert main(["verify", "--spec", _spec(tmp_path), "-", "--json"]) == 1
    result = json.loads(capsys.readouterr().out)
    assert result["passed"] is False
    assert set(result) == {"score", "passed", "deficiencies", "sub_scores", "details"}


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["verify", "-"], "give either --spec FILE.json or --plan P --task T"),
        (["verify", "--plan", "pl_x", "-"], "--plan and --task go together"),
        (["verify", "--spec", "/nonexistent/spec.json", "-"], "cannot read --spec"),
    ],
)
def test_bad_usage_exits_2(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Missing or contradictory flags, an unreadable spec: exit 2 and why on stderr."""
    assert main(argv) == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("{not json", "is not json"),
        ([1, 2], "must hold a json object"),
        ({"type": "nope"}, "unknown evaluator type"),
        ({"type": "regex", "required": ["("]}, "invalid"),
    ],
)
def test_a_bad_spec_exits_2(
    tmp_path: Path, spec: object, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A spec that is not JSON, not an object, or not a valid evaluator: exit 2."""
    path = tmp_path / "spec.json"
    path.write_text(spec if isinstance(spec, str) else json.dumps(spec))
    out = tmp_path / "out.txt"
    out.write_text("x")
    assert main(["verify", "--spec", str(path), str(out)]) == 2
    assert message in capsys.readouterr().err.lower()


def test_an_empty_output_needs_a_command_spec(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """No output with a spec that runs no command: exit 2."""
    assert main(["verify", "--spec", _spec(tmp_path)]) == 2
    assert "only a command spec needs none" in capsys.readouterr().err


def test_a_plan_task_is_checked_and_nothing_recorded(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """--plan/--task runs the task's acceptance spec; the task stays unscored."""
    db, pid = _plan(tmp_path)
    monkeypatch.setattr("sys.stdin", io.StringIO("all done"))
    assert main(["verify", "--db", db, "--plan", pid, "--task", "t1", "-"]) == 1
    assert "missing required pattern 'tests pass'" in capsys.readouterr().out
    monkeypatch.setattr("sys.stdin", io.StringIO("tests pass"))
    assert main(["verify", "--db", db, "--plan", pid, "--task", "t1", "-"]) == 0
    store, _ = open_store(db)
    try:
        task = PlanService(store).task(pid, "t1")
    finally:
        store.close()
    assert (task.status, task.output_score, task.confidence) == ("pending", None, None)


@pytest.mark.parametrize(
    ("task", "message"),
    [
        ("t9", "has no task 't9'; `loopcore plans show pl_"),
        ("t2", "--task: task 't2' has no acceptance spec"),
    ],
)
def test_plan_task_errors_name_cli_commands(
    tmp_path: Path, task: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Unknown task or no spec: exit 2, worded for the command line (no tool names)."""
    db, pid = _plan(tmp_path)
    out = tmp_path / "o.txt"
    out.write_text("x")
    assert main(["verify", "--db", db, "--plan", pid, "--task", task, str(out)]) == 2
    err = capsys.readouterr().err
    assert message in err
    assert "call plan" not in err


def test_an_unknown_plan_points_to_plans_list(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Unknown plan: exit 2 and `loopcore plans list`."""
    db, _ = _plan(tmp_path)
    out = tmp_path / "o.txt"
    out.write_text("x")
    assert main(["verify", "--db", db, "--plan", "pl_nope", "--task", "t1", str(out)]) == 2
    assert "`loopcore plans list`" in capsys.readouterr().err


def test_a_command_spec_needs_no_output_and_the_allowlist(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A command spec runs with no OUTPUT_FILE when allowed (exit 0/1); unallowed: exit 2."""
    ok, bad = _spec(tmp_path, {"type": "command", "run": ["true"]}), tmp_path / "bad.json"
    bad.write_text(json.dumps({"type": "command", "run": ["false"]}))
    monkeypatch.setenv("LOOPCORE_ALLOW_COMMANDS", "true,false")
    assert main(["verify", "--spec", ok]) == 0
    assert main(["verify", "--spec", str(bad)]) == 1
    monkeypatch.setenv("LOOPCORE_ALLOW_COMMANDS", "")
    capsys.readouterr()
    assert main(["verify", "--spec", ok]) == 2
    assert "LOOPCORE_ALLOW_COMMANDS" in capsys.readouterr().err
