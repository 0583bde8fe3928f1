"""The ``loopcore`` command in process: doctor, plans, and refusals with exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from mcp import Client

import loopcore
from loopcore.store.migrations import MIGRATIONS
from server.app import build_server
from server.cli import build_parser, main
from tests.server.helpers import make_settings, new_plan

REPO = Path(__file__).resolve().parents[3]


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
    """serve, demo, plans, doctor, (un)install, db, dashboard, verify, intercept, hook."""
    sub = next(a for a in build_parser()._actions if a.dest == "command")
    assert set(sub.choices or {}) == {
        "serve",
        "demo",
        "plans",
        "doctor",
        "install",
        "uninstall",
        "db",
        "dashboard",
        "verify",
        "intercept",
        "hook",
    }


def test_version_and_bare_help(capsys: pytest.CaptureFixture[str]) -> None:
    """--version prints the version; a bare `loopcore` prints help and exits 0."""
    with pytest.raises(SystemExit) as exited:
        main(["--version"])
    assert exited.value.code == 0
    assert capsys.readouterr().out == f"loopcore {loopcore.__version__}\n"
    assert main([]) == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: loopcore")
    for verb in ("serve", "verify", "intercept", "hook", "install", "uninstall"):
        assert verb in out


def test_serve_help_explains_transports_token_and_project(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """serve --help says what each transport is, when a token is needed, how projects work."""
    with pytest.raises(SystemExit):
        main(["serve", "--help"])
    out = capsys.readouterr().out
    for words in ("streamable HTTP", "LOOPCORE_TOKEN", "LOOPCORE_PROJECT", "stdin/stdout"):
        assert words in out


@pytest.mark.parametrize(
    ("argv", "stdin"),
    [
        (["intercept", "-"], "fix it"),
        (["verify", "--spec", "SPEC", "-"], "tests pass"),
        (["hook", "claude-code"], '{"hook_event_name": "UserPromptSubmit", "prompt": "fix it"}'),
    ],
)
def test_quick_verbs_never_import_the_mcp_stack(
    tmp_path: Path, argv: list[str], stdin: str
) -> None:
    """verify, intercept and hook in a real process: no mcp, starlette or uvicorn module."""
    spec = tmp_path / "spec.json"
    spec.write_text('{"type": "regex", "required": ["tests pass"]}')
    argv = [str(spec) if a == "SPEC" else a for a in argv]
    probe = (
        "import runpy, sys\n"
        f"sys.argv = ['loopcore', *{argv!r}]\n"
        "try:\n    runpy.run_module('server.cli', run_name='__main__')\n"
        "except SystemExit as e:\n    code = e.code\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in "
        "('mcp', 'starlette', 'uvicorn', 'sse_starlette'))\n"
        "print('HEAVY', heavy, file=sys.stderr)\n"
    )
    env = {**os.environ, "LOOPCORE_DB": str(tmp_path / "lc.db"), "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        [sys.executable, "-c", probe],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=60,
    )
    assert "HEAVY []" in done.stderr, done.stderr


def test_plans_import_then_export_md(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`plans import FILE.md` creates the plan; `plans export --format md` then imports back."""
    doc = tmp_path / "plan.md"
    doc.write_text(
        "# Ship it\n\n- [ ] a: Build\n  ```json acceptance\n"
        '  {"type": "length", "min_words": 2}\n  ```\n- [ ] b: Test\n  depends on: a\n'
    )
    base = ["--db", str(tmp_path / "lc.db"), "--project", "cli"]
    assert main(["plans", "import", str(doc), *base]) == 0
    first = capsys.readouterr().out
    assert first.startswith("imported plan pl_")
    plan_id = first.split()[2].rstrip(":")
    assert main(["plans", "export", plan_id, "--format", "md", *base]) == 0
    exported = tmp_path / "export.md"
    exported.write_text(capsys.readouterr().out)
    assert main(["plans", "import", str(exported), *base]) == 0
    assert ": 2 tasks (0 done)" in capsys.readouterr().out


def test_plans_import_refuses_a_bad_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A missing file or a document without items: exit 1 and why."""
    base = ["--db", str(tmp_path / "lc.db"), "--project", "cli"]
    assert main(["plans", "import", str(tmp_path / "missing.md"), *base]) == 1
    assert "cannot read" in capsys.readouterr().err
    doc = tmp_path / "empty.md"
    doc.write_text("# just a goal\n")
    assert main(["plans", "import", str(doc), *base]) == 1
    assert "no checklist items" in capsys.readouterr().err


def test_not_found_errors_name_cli_commands(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`plans show` of an unknown plan: exit 1, pointing to `loopcore plans list`, no tool."""
    assert main(["plans", "show", "pl_nope", "--db", str(tmp_path / "lc.db")]) == 1
    err = capsys.readouterr().err
    assert "no plan with id 'pl_nope'; `loopcore plans list`" in err
    assert "plan_list" not in err


def _two_projects(db: Path) -> tuple[str, str]:
    """A done plan in project 'cli' and an active one in project 'other', on one database."""
    from loopcore.plans.service import PlanService
    from loopcore.store import open_store

    store, _ = open_store(db)
    try:
        plans = PlanService(store)
        done = plans.create("cli", "finished work", [{"id": "a", "title": "A"}]).plan.id
        plans.record(done, "a", output_score=1.0)
        other = plans.create("other", "their work", [{"id": "a", "title": "A"}]).plan.id
    finally:
        store.close()
    return done, other


def test_plans_list_done_and_other_projects(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """plans list done lists done plans, and says other projects have plans and how to see them."""
    db = tmp_path / "loopcore.db"
    done, other = _two_projects(db)
    base = ["--db", str(db), "--project", "cli"]
    assert main(["plans", "list", "done", *base]) == 0
    listed = capsys.readouterr().out
    assert main(["plans", "list", "active", *base]) == 0
    active = capsys.readouterr().out
    assert main(["plans", "list", "--all-projects", "--db", str(db)]) == 0
    every = capsys.readouterr().out
    assert main(["plans", "list", "finished", *base]) == 1
    refused = capsys.readouterr().err
    assert done in listed and " done " in listed and other not in listed
    assert "1 plan(s) of 1 other project(s) in this database (other)" in listed
    assert "--project KEY or --all-projects" in listed
    assert "no active plans in project cli" in active
    assert done in every and other in every and "project other:" in every
    assert "active, done, archived" in refused
