"""A real host: the Claude Code CLI registers loopcore and reports it connected."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.node_tools import node_env

REPO = Path(__file__).resolve().parents[2]
LOOPCORE = Path(sys.executable).parent / "loopcore"

pytestmark = [pytest.mark.slow, pytest.mark.node]


def _sandbox(tmp_path: Path) -> tuple[dict[str, str], Path]:
    """An environment whose HOME is a fresh directory, and a project directory to run in."""
    env = node_env()
    home, project = tmp_path / "home", tmp_path / "project"
    home.mkdir()
    project.mkdir()
    env.update(
        HOME=str(home),
        XDG_CONFIG_HOME="",
        # No telemetry, update checks or other calls home from a test.
        DISABLE_TELEMETRY="1",
        DISABLE_AUTOUPDATER="1",
        CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC="1",
    )
    env.pop("CLAUDE_CONFIG_DIR", None)
    return env, project


def _claude(env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    claude = shutil.which("claude", path=env["PATH"])
    if claude is None:
        pytest.fail("claude is not installed: run `source .ci/node.sh`")
    return subprocess.run(
        [claude, *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=100
    )


def _status_line(listing: str, name: str) -> str:
    lines = [ln for ln in listing.splitlines() if ln.startswith(f"{name}:")]
    assert len(lines) == 1, listing
    return lines[0]


def test_claude_mcp_add_then_list_reports_loopcore_connected(tmp_path: Path) -> None:
    """``claude mcp add loopcore -e LOOPCORE_DB=... -- <loopcore> serve``; list says Connected."""
    env, project = _sandbox(tmp_path)
    db = f"LOOPCORE_DB={tmp_path / 'lc.db'}"
    added = _claude(env, project, "mcp", "add", "loopcore", "-e", db, "--", str(LOOPCORE), "serve")
    assert added.returncode == 0, added.stdout + added.stderr
    listed = _claude(env, project, "mcp", "list")
    assert listed.returncode == 0, listed.stdout + listed.stderr
    line = _status_line(listed.stdout, "loopcore")
    assert f"{LOOPCORE} serve" in line
    assert line.endswith("✔ Connected"), listed.stdout


def test_loopcore_install_claude_code_is_what_claude_connects_to(tmp_path: Path) -> None:
    """``loopcore install claude-code`` (user scope) writes an entry Claude Code connects to."""
    env, project = _sandbox(tmp_path)
    installed = subprocess.run(
        [str(LOOPCORE), "install", "claude-code", "--db", str(tmp_path / "lc.db")],
        env=env,
        cwd=project,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert installed.returncode == 0, installed.stderr
    listed = _claude(env, project, "mcp", "list")
    assert listed.returncode == 0, listed.stdout + listed.stderr
    assert _status_line(listed.stdout, "loopcore").endswith("✔ Connected"), listed.stdout
