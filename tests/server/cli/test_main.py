"""The ``loopcore`` command in process: doctor, plans, and refusals with exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from mcp import Client

from loopcore.store.migrations import MIGRATIONS
from server.app import build_server
from server.cli import build_parser, main
from tests.server.helpers import make_settings, new_plan


async def _plan(tmp_path: Path) -> str:
    async with Client(build_server(make_settings(tmp_path, project="cli"))) as c:
        return await new_plan(c)


def test_doctor_on_a_missing_database(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """doctor says a missing database is not created yet, and does not create it."""
    db = tmp_path / "loopcore.db"
    assert main(["doctor", "--db", str(db), "--project", "p"]) == 0
    out = capsys.readouterr().out
    assert f"database: {db}" in out
    assert "not created yet" in out
    assert not db.exists()


@pytest.mark.anyio
async def test_doctor_reports_counts_and_snippets(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """doctor shows the schema version, the project's counts and host config snippets."""
    await _plan(tmp_path)
    db = tmp_path / "loopcore.db"
    assert main(["doctor", "--db", str(db), "--project", "cli"]) == 0
    out = capsys.readouterr().out
    assert f"schema version: {len(MIGRATIONS)}" in out
    assert "this project: plans {'active': 1}, tasks {'pending': 3}" in out
    assert '"mcpServers"' in out
    assert "claude mcp add loopcore -e LOOPCORE_DB=" in out
    # The suite runs from the editable install: the scorer's sources, not a compiled wheel.


@pytest.mark.anyio
async def test_plans_list_show_export(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """plans list shows the plan; show lists its tasks; export json is the whole plan."""
    plan_id = await _plan(tmp_path)
    base = ["--db", str(tmp_path / "loopcore.db"), "--project", "cli"]
    assert main(["plans", "list", *base]) == 0
    listed = capsys.readouterr().out
    assert main(["plans", "show", plan_id, *base]) == 0
    shown = capsys.readouterr().out
    assert main(["plans", "export", plan_id, "--format", "json", *base]) == 0
    exported = json.loads(capsys.readouterr().out)
    assert plan_id in listed
    assert "created with 3 tasks" in shown
    assert "[pending    ] a" in shown
    assert [t["id"] for t in exported["tasks"]] == ["a", "b", "c"]


@pytest.mark.anyio
async def test_plans_export_markdown(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """plans export --format md writes a Markdown document with the goal."""
    plan_id = await _plan(tmp_path)
    args = ["plans", "export", plan_id, "--db", str(tmp_path / "loopcore.db"), "--project", "cli"]
    assert main(args) == 0
    assert "ship it" in capsys.readouterr().out


def test_plans_show_unknown_id_fails_cleanly(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An unknown plan id exits 1 with the domain's message on stderr."""
    code = main(["plans", "show", "pl_nope", "--db", str(tmp_path / "x.db"), "--project", "p"])
    assert code == 1
    assert "no plan with id 'pl_nope'" in capsys.readouterr().err


def test_serve_refuses_public_bind_without_token(capsys: pytest.CaptureFixture[str]) -> None:
    """serve on 0.0.0.0 without a token exits 2 before opening anything."""
    code = main(["serve", "--transport", "sse", "--host", "0.0.0.0", "--port", "1"])
    assert code == 2
    assert "refusing to bind 0.0.0.0" in capsys.readouterr().err


def test_bad_setting_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    """An out-of-range flag is reported with the flag's name and exit status 2."""
    assert main(["serve", "--port", "70000"]) == 2
    assert "--port" in capsys.readouterr().err


def test_parser_knows_every_command() -> None:
    """serve, demo, plans, doctor, install and db are all subcommands."""
    sub = next(a for a in build_parser()._actions if a.dest == "command")
    assert set(sub.choices or {}) == {"serve", "demo", "plans", "doctor", "install", "db"}
