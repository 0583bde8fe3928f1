"""``loopcore install``: merging into host configs in temporary home directories."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from loopcore.errors import InvalidInput
from server.cli.install import InstallEnv, InstallRequest, config_path, install, server_command

REPO = Path(__file__).resolve().parents[2]
LOOPCORE = Path(sys.executable).parent / "loopcore"
CMD = ("/opt/venv/bin/loopcore",)

OTHER = {"command": "npx", "args": ["-y", "@modelcontextprotocol/server-memory"], "env": {"K": "V"}}


def _env(tmp_path: Path, platform: str = "linux", **environ: str) -> InstallEnv:
    home, cwd = tmp_path / "home", tmp_path / "project"
    home.mkdir(exist_ok=True)
    cwd.mkdir(exist_ok=True)
    return InstallEnv(home=home, cwd=cwd, platform=platform, environ=environ)


def _run(env: InstallEnv, host: str, **kw: Any) -> str:
    out = io.StringIO()
    assert install(InstallRequest(host=host, command=CMD, **kw), env, out) == 0
    return out.getvalue()


def _write(path: Path, data: Any) -> bytes:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(data, indent=4).encode()
    path.write_bytes(text)
    return text


def _backups(path: Path) -> list[Path]:
    return sorted(path.parent.glob(f"{path.name}.bak-*"))


def test_claude_desktop_path_on_linux_follows_xdg(tmp_path: Path) -> None:
    """Linux: $XDG_CONFIG_HOME/Claude, else ~/.config/Claude."""
    env = _env(tmp_path)
    assert config_path("claude-desktop", None, env) == (
        env.home / ".config" / "Claude" / "claude_desktop_config.json"
    )
    xdg = _env(tmp_path, XDG_CONFIG_HOME=str(tmp_path / "xdg"))
    assert config_path("claude-desktop", "user", xdg) == (
        tmp_path / "xdg" / "Claude" / "claude_desktop_config.json"
    )


def test_claude_desktop_path_on_macos_and_windows(tmp_path: Path) -> None:
    """macOS: ~/Library/Application Support/Claude; Windows: %APPDATA%\\Claude."""
    mac = _env(tmp_path, platform="darwin")
    assert config_path("claude-desktop", None, mac) == (
        mac.home / "Library" / "Application Support" / "Claude" / "claude_desktop_config.json"
    )
    win = _env(tmp_path, platform="win32", APPDATA=str(tmp_path / "Roaming"))
    assert config_path("claude-desktop", None, win) == (
        tmp_path / "Roaming" / "Claude" / "claude_desktop_config.json"
    )


def test_default_scopes_and_paths_of_each_host(tmp_path: Path) -> None:
    """Cursor and Claude Code default to the user file, VS Code to the workspace file."""
    env = _env(tmp_path)
    assert config_path("cursor", None, env) == env.home / ".cursor" / "mcp.json"
    assert config_path("cursor", "project", env) == env.cwd / ".cursor" / "mcp.json"
    assert config_path("vscode", None, env) == env.cwd / ".vscode" / "mcp.json"
    assert config_path("vscode", "user", env) == env.home / ".config" / "Code" / "User" / "mcp.json"
    assert config_path("claude-code", None, env) == env.home / ".claude.json"
    assert config_path("claude-code", "project", env) == env.cwd / ".mcp.json"


def test_project_scope_is_refused_for_claude_desktop(tmp_path: Path) -> None:
    """Claude Desktop has no project config: a clear error names the scope to use."""
    with pytest.raises(InvalidInput, match="no project-scoped configuration; use --scope user"):
        config_path("claude-desktop", "project", _env(tmp_path))


def test_new_file_is_created_with_the_entry_and_no_backup(tmp_path: Path) -> None:
    """No config yet: the file and its directories are created, nothing is backed up."""
    env = _env(tmp_path)
    out = _run(env, "claude-desktop")
    path = env.home / ".config" / "Claude" / "claude_desktop_config.json"
    assert json.loads(path.read_text()) == {
        "mcpServers": {"loopcore": {"command": CMD[0], "args": ["serve"]}}
    }
    assert _backups(path) == []
    assert f"registered loopcore in {path}" in out


def test_other_servers_and_keys_are_kept(tmp_path: Path) -> None:
    """Every other server and top-level key survives the merge unchanged."""
    env = _env(tmp_path)
    path = env.home / ".cursor" / "mcp.json"
    _write(path, {"mcpServers": {"memory": OTHER}, "theme": {"dark": True}})
    _run(env, "cursor")
    assert json.loads(path.read_text()) == {
        "mcpServers": {"memory": OTHER, "loopcore": {"command": CMD[0], "args": ["serve"]}},
        "theme": {"dark": True},
    }


def test_old_file_is_backed_up_byte_for_byte(tmp_path: Path) -> None:
    """The previous file is copied to <file>.bak-<timestamp> before it is replaced."""
    env = _env(tmp_path)
    path = env.home / ".cursor" / "mcp.json"
    before = _write(path, {"mcpServers": {"memory": OTHER}})
    out = _run(env, "cursor")
    (backup,) = _backups(path)
    assert backup.read_bytes() == before
    assert f"backed up the old file to {backup}" in out


def test_second_run_changes_nothing_and_says_so(tmp_path: Path) -> None:
    """Idempotent: the second run leaves the bytes alone, adds no backup, and says so."""
    env = _env(tmp_path)
    path = env.home / ".cursor" / "mcp.json"
    _write(path, {"mcpServers": {"memory": OTHER}})
    _run(env, "cursor")
    after_first = path.read_bytes()
    out = _run(env, "cursor")
    assert out == f"loopcore is already registered in {path}; nothing changed.\n"
    assert path.read_bytes() == after_first
    assert len(_backups(path)) == 1


def test_malformed_file_is_refused_and_left_untouched(tmp_path: Path) -> None:
    """A file that is not JSON raises a clear error; its bytes stay, no backup is made."""
    env = _env(tmp_path)
    path = env.home / ".cursor" / "mcp.json"
    path.parent.mkdir(parents=True)
    path.write_text('{"mcpServers": {"memory": {"command": "npx",}}  // trailing comma\n')
    before = path.read_bytes()
    with pytest.raises(
        InvalidInput, match=r"cannot parse .*mcp\.json as JSON.*Nothing was changed"
    ):
        _run(env, "cursor")
    assert path.read_bytes() == before
    assert _backups(path) == []
    assert sorted(p.name for p in path.parent.iterdir()) == ["mcp.json"]


def test_servers_key_that_is_not_an_object_is_refused(tmp_path: Path) -> None:
    """``mcpServers`` holding a list is refused rather than overwritten."""
    env = _env(tmp_path)
    path = env.home / ".cursor" / "mcp.json"
    before = _write(path, {"mcpServers": ["memory"]})
    with pytest.raises(InvalidInput, match="'mcpServers' key holds a list"):
        _run(env, "cursor")
    assert path.read_bytes() == before


def test_dry_run_prints_the_diff_and_writes_nothing(tmp_path: Path) -> None:
    """--dry-run shows the change it would make; no file, directory or backup appears."""
    env = _env(tmp_path)
    out = _run(env, "vscode", dry_run=True)
    assert '+    "loopcore": {' in out
    assert "dry run:" in out
    assert not (env.cwd / ".vscode").exists()


def test_dry_run_leaves_an_existing_file_alone(tmp_path: Path) -> None:
    """--dry-run on an existing config keeps its bytes and makes no backup."""
    env = _env(tmp_path)
    path = env.cwd / ".cursor" / "mcp.json"
    before = _write(path, {"mcpServers": {"memory": OTHER}})
    _run(env, "cursor", scope="project", dry_run=True)
    assert path.read_bytes() == before
    assert _backups(path) == []


def test_vscode_entry_uses_servers_and_stdio_type(tmp_path: Path) -> None:
    """VS Code: top-level ``servers``, each entry carries ``"type": "stdio"``; its default
    scope is the project, so the entry names the project too."""
    env = _env(tmp_path)
    _run(env, "vscode")
    data = json.loads((env.cwd / ".vscode" / "mcp.json").read_text())
    project = {"LOOPCORE_PROJECT": str(env.cwd.resolve())}
    assert data == {
        "servers": {
            "loopcore": {"type": "stdio", "command": CMD[0], "args": ["serve"], "env": project}
        }
    }


def test_claude_code_user_scope_keeps_the_state_file_and_its_mode(tmp_path: Path) -> None:
    """~/.claude.json keeps its other keys and its 0600 permissions."""
    env = _env(tmp_path)
    path = env.home / ".claude.json"
    _write(path, {"numStartups": 3, "projects": {"/x": {"mcpServers": {}}}})
    path.chmod(0o600)
    _run(env, "claude-code")
    data = json.loads(path.read_text())
    assert data["numStartups"] == 3
    assert data["projects"] == {"/x": {"mcpServers": {}}}
    assert data["mcpServers"]["loopcore"] == {"type": "stdio", "command": CMD[0], "args": ["serve"]}
    assert path.stat().st_mode & 0o777 == 0o600


def test_db_becomes_an_absolute_loopcore_db(tmp_path: Path) -> None:
    """--db relative to the working directory is written as an absolute LOOPCORE_DB."""
    env = _env(tmp_path)
    _run(env, "claude-code", scope="project", db=Path("data/lc.db"))
    entry = json.loads((env.cwd / ".mcp.json").read_text())["mcpServers"]["loopcore"]
    assert entry["env"]["LOOPCORE_DB"] == str(env.cwd / "data" / "lc.db")


def test_project_scope_files_plans_under_the_project(tmp_path: Path) -> None:
    """--scope project writes LOOPCORE_PROJECT (the directory); user scope leaves it unset."""
    env = _env(tmp_path)
    _run(env, "cursor", scope="project")
    _run(env, "cursor", scope="user")
    project = json.loads((env.cwd / ".cursor" / "mcp.json").read_text())["mcpServers"]["loopcore"]
    user = json.loads((env.home / ".cursor" / "mcp.json").read_text())["mcpServers"]["loopcore"]
    assert project["env"] == {"LOOPCORE_PROJECT": str(env.cwd.resolve())}
    assert "env" not in user


def test_update_keeps_what_the_user_added_to_the_entry(tmp_path: Path) -> None:
    """A stale entry gets the new command; the user's extra env vars and keys stay."""
    env = _env(tmp_path)
    path = env.home / ".cursor" / "mcp.json"
    old = {"command": "/old/loopcore", "args": ["serve"], "env": {"LOOPCORE_TOOLS": "core"}}
    _write(path, {"mcpServers": {"loopcore": {**old, "disabled": False}}})
    out = _run(env, "cursor", db=Path("/data/lc.db"))
    assert json.loads(path.read_text())["mcpServers"]["loopcore"] == {
        "command": CMD[0],
        "args": ["serve"],
        "env": {"LOOPCORE_TOOLS": "core", "LOOPCORE_DB": "/data/lc.db"},
        "disabled": False,
    }
    assert '-      "command": "/old/loopcore",' in out


def test_custom_name_is_used_and_checked(tmp_path: Path) -> None:
    """--name picks the key; a name with spaces is refused."""
    env = _env(tmp_path)
    _run(env, "cursor", name="loopcore-dev")
    assert (
        "loopcore-dev" in json.loads((env.home / ".cursor" / "mcp.json").read_text())["mcpServers"]
    )
    with pytest.raises(InvalidInput, match="--name must be"):
        _run(env, "cursor", name="loop core")


def test_symlinked_config_is_written_through_the_link(tmp_path: Path) -> None:
    """A config that is a symlink (dotfiles) stays a symlink; its target gets the entry."""
    env = _env(tmp_path)
    target = tmp_path / "dotfiles" / "mcp.json"
    _write(target, {"mcpServers": {}})
    link = env.home / ".cursor" / "mcp.json"
    link.parent.mkdir(parents=True)
    link.symlink_to(target)
    _run(env, "cursor")
    assert link.is_symlink()
    assert "loopcore" in json.loads(target.read_text())["mcpServers"]


def test_server_command_is_an_absolute_existing_program() -> None:
    """Without a loopcore argv[0], the venv's console script beside the interpreter is used."""
    (command,) = server_command()
    assert Path(command).is_absolute()
    assert Path(command) == LOOPCORE


def _cli(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    env = {"HOME": str(home), "PATH": os.environ.get("PATH", ""), "XDG_CONFIG_HOME": ""}
    return subprocess.run(
        [str(LOOPCORE), "install", *args],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.slow
def test_cli_install_writes_the_running_console_script(tmp_path: Path) -> None:
    """``loopcore install claude-desktop`` in a temporary HOME names this venv's loopcore."""
    proc = _cli(tmp_path, "claude-desktop", "--db", "lc.db")
    assert proc.returncode == 0, proc.stderr
    path = tmp_path / "home" / ".config" / "Claude" / "claude_desktop_config.json"
    entry = json.loads(path.read_text())["mcpServers"]["loopcore"]
    assert entry == {
        "command": str(LOOPCORE),
        "args": ["serve"],
        "env": {"LOOPCORE_DB": str(tmp_path / "lc.db")},
    }
    again = _cli(tmp_path, "claude-desktop", "--db", "lc.db")
    assert again.returncode == 0
    assert "nothing changed" in again.stdout


@pytest.mark.slow
def test_cli_install_refuses_a_malformed_file_with_status_1(tmp_path: Path) -> None:
    """A malformed config: exit status 1, the reason on stderr, the file untouched."""
    path = tmp_path / ".cursor" / "mcp.json"
    path.parent.mkdir(parents=True)
    path.write_text("{not json")
    proc = _cli(tmp_path, "cursor", "--scope", "project")
    assert proc.returncode == 1
    assert proc.stderr.startswith("loopcore install: cannot parse")
    assert path.read_text() == "{not json"
