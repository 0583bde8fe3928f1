"""``loopcore intercept``: the grade, issues and questions of a request; exit codes."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from server.cli import main

VAGUE = "fix it"
CLEAR = (
    "In src/parser.py, parse_date('2024-02-30') raises ValueError: day is out of range for "
    "month. It should return None for invalid dates. Add a test in tests/test_parser.py; "
    "`pytest -q tests/test_parser.py` must pass. Keep parse_date's signature. Python 3.11."
)


def test_a_vague_request_from_stdin_gets_questions(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """stdin (the default): grade, route, issues and numbered questions; exit 0."""
    monkeypatch.setattr("sys.stdin", io.StringIO(VAGUE))
    assert main(["intercept"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("grade D (score 0.38), route clarify\n")
    assert "Questions to answer first:\n1. " in out
    assert "Where should this live: which module, package or file (or a new one)?" in out


def test_json_from_a_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """FILE and --json: the fields of the intercept tool's score."""
    path = tmp_path / "req.txt"
    path.write_text(CLEAR)
    assert main(["intercept", str(path), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["grade"] in ("A", "B")
    assert result["route"] == "proceed"
    assert {"score", "dimensions", "issues", "questions", "suggested_config"} <= set(result)


def test_fail_below_exits_1_on_a_worse_grade(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """--fail-below C: a D exits 1; --fail-below F never does."""
    monkeypatch.setattr("sys.stdin", io.StringIO(VAGUE))
    assert main(["intercept", "-", "--fail-below", "C"]) == 1
    monkeypatch.setattr("sys.stdin", io.StringIO(VAGUE))
    assert main(["intercept", "-", "--fail-below", "F"]) == 0


@pytest.mark.parametrize(("text", "message"), [("   \n", "the request is empty")])
def test_an_empty_request_exits_2(
    text: str, message: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Nothing to score: exit 2 and why on stderr."""
    monkeypatch.setattr("sys.stdin", io.StringIO(text))
    assert main(["intercept"]) == 2
    assert message in capsys.readouterr().err


def test_an_unreadable_file_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A missing file: exit 2, named."""
    assert main(["intercept", str(tmp_path / "missing.txt")]) == 2
    assert "cannot read FILE" in capsys.readouterr().err
