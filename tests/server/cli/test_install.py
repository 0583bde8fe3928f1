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
    path.write_text('{"mcpServers": {"memory": {"command": "npx",}  // unclosed\n')
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
    assert data == {
        "servers": {
            "loopcore": {
                "type": "stdio",
                "command": CMD[0],
                "args": ["serve"],
                "env": {"LOOPCORE_PROJECT": "project"},
            }
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
    _run(env, "claude-code", db=Path("data/lc.db"))
    entry = json.loads((env.home / ".claude.json").read_text())["mcpServers"]["loopcore"]
    assert entry["env"] == {"LOOPCORE_DB": str(env.cwd / "data" / "lc.db")}


def test_project_scope_is_portable_and_sets_the_project(tmp_path: Path) -> None:
    """--scope project: plain `loopcore`, a relative --db kept relative, LOOPCORE_PROJECT."""
    env = _env(tmp_path)
    out = io.StringIO()
    request = InstallRequest(host="claude-code", scope="project", db=Path("data/lc.db"))
    assert install(request, env, out) == 0
    entry = json.loads((env.cwd / ".mcp.json").read_text())["mcpServers"]["loopcore"]
    assert entry == {
        "type": "stdio",
        "command": "loopcore",
        "args": ["serve"],
        "env": {"LOOPCORE_DB": "data/lc.db", "LOOPCORE_PROJECT": "project"},
    }
    assert sys.prefix not in (env.cwd / ".mcp.json").read_text()


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


def _cli(tmp_path: Path, *args: str, verb: str = "install") -> subprocess.CompletedProcess[str]:
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    env = {"HOME": str(home), "PATH": os.environ.get("PATH", ""), "XDG_CONFIG_HOME": ""}
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[3])  # this checkout's code
    return subprocess.run(
        [str(LOOPCORE), verb, *args],
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


def test_gemini_user_and_project_settings(tmp_path: Path) -> None:
    """gemini: ~/.gemini/settings.json (user), ./.gemini/settings.json (project), mcpServers."""
    env = _env(tmp_path)
    _write(env.home / ".gemini" / "settings.json", {"theme": "dark"})
    _run(env, "gemini")
    data = json.loads((env.home / ".gemini" / "settings.json").read_text())
    assert data == {
        "theme": "dark",
        "mcpServers": {"loopcore": {"command": CMD[0], "args": ["serve"]}},
    }
    assert config_path("gemini", "project", env) == env.cwd / ".gemini" / "settings.json"


CODEX = """\
# my codex config
model = "o4-mini"

[mcp_servers.memory]  # the memory server
command = "npx"
args = ["-y", "@modelcontextprotocol/server-memory"]

[profiles.fast]
model = "o4-mini"
"""


def test_codex_toml_gets_a_table_and_keeps_comments(tmp_path: Path) -> None:
    """codex: a [mcp_servers.loopcore] table appended; comments and other tables kept."""
    import tomllib

    env = _env(tmp_path)
    path = env.home / ".codex" / "config.toml"
    path.parent.mkdir(parents=True)
    path.write_text(CODEX)
    out = _run(env, "codex", db=Path("/data/lc.db"))
    text = path.read_text()
    assert text.startswith(CODEX)
    assert text.endswith(
        '\n[mcp_servers.loopcore]\ncommand = "/opt/venv/bin/loopcore"\nargs = ["serve"]\n'
        'env = { LOOPCORE_DB = "/data/lc.db" }\n'
    )
    data = tomllib.loads(text)
    assert data["mcp_servers"]["memory"]["command"] == "npx"
    assert data["mcp_servers"]["loopcore"]["env"] == {"LOOPCORE_DB": "/data/lc.db"}
    assert "+[mcp_servers.loopcore]" in out
    assert "nothing changed" in _run(env, "codex", db=Path("/data/lc.db"))


def test_codex_update_rewrites_the_table_in_place(tmp_path: Path) -> None:
    """A second install rewrites loopcore's table where it is, once, keeping the user's keys."""
    import tomllib

    env = _env(tmp_path)
    path = env.home / ".codex" / "config.toml"
    path.parent.mkdir(parents=True)
    old = '[mcp_servers.loopcore]\ncommand = "/old"\nstartup_timeout_sec = 20\n\n'
    head, tail = CODEX.split("[profiles.fast]")
    path.write_text(head + old + "[profiles.fast]" + tail)
    _run(env, "codex")
    text = path.read_text()
    assert text.count("[mcp_servers.loopcore]") == 1
    assert text.startswith(head + "[mcp_servers.loopcore]\n")
    assert text.endswith("[profiles.fast]" + tail)
    entry = tomllib.loads(text)["mcp_servers"]["loopcore"]
    assert entry == {"command": CMD[0], "args": ["serve"], "startup_timeout_sec": 20}


def test_codex_bad_toml_is_refused_untouched(tmp_path: Path) -> None:
    """A config.toml that does not parse: refused, bytes kept."""
    env = _env(tmp_path)
    path = env.home / ".codex" / "config.toml"
    path.parent.mkdir(parents=True)
    path.write_text("[mcp_servers\n")
    with pytest.raises(InvalidInput, match=r"cannot parse .* as TOML"):
        _run(env, "codex")
    assert path.read_text() == "[mcp_servers\n"


VSCODE_JSONC = """\
// Workspace MCP servers
{
  "servers": {
    // the memory server, keep it
    "memory": {"command": "npx", "args": ["-y", "@modelcontextprotocol/server-memory",],},
  },
  /* inputs for secrets */
  "inputs": [],
}
"""


def test_jsonc_config_is_merged_with_its_comments_kept(tmp_path: Path) -> None:
    """VS Code's mcp.json with comments and trailing commas: loopcore added, comments kept."""
    from server.cli import jsonc

    env = _env(tmp_path)
    path = env.cwd / ".vscode" / "mcp.json"
    path.parent.mkdir(parents=True)
    path.write_text(VSCODE_JSONC)
    out = _run(env, "vscode")
    text = path.read_text()
    for comment in ("// Workspace MCP servers", "// the memory server, keep it", "/* inputs"):
        assert comment in text
    data = jsonc.loads(text)
    assert data["servers"]["loopcore"]["command"] == CMD[0]
    assert data["servers"]["memory"]["command"] == "npx"
    assert data["inputs"] == []
    assert '+    "loopcore": {' in out
    assert len(_backups(path)) == 1
    assert "nothing changed" in _run(env, "vscode")


def test_uninstall_jsonc_gives_back_the_original_text(tmp_path: Path) -> None:
    """install then uninstall on a JSONC file: byte for byte what the user had."""
    env = _env(tmp_path)
    path = env.cwd / ".vscode" / "mcp.json"
    path.parent.mkdir(parents=True)
    path.write_text(VSCODE_JSONC)
    _run(env, "vscode")
    out = io.StringIO()
    assert install(InstallRequest(host="vscode", remove=True), env, out) == 0
    assert path.read_text() == VSCODE_JSONC
    assert "removed loopcore" in out.getvalue()


@pytest.mark.parametrize("host", ["claude-desktop", "cursor", "vscode", "claude-code", "gemini"])
def test_uninstall_removes_only_loopcore(tmp_path: Path, host: str) -> None:
    """uninstall <host>: loopcore's entry goes, the other server stays; a second run is a no-op."""
    env = _env(tmp_path)
    path = config_path(host, None, env)
    key = "servers" if host == "vscode" else "mcpServers"
    _write(path, {key: {"memory": OTHER}, "other": 1})
    _run(env, host)
    out = io.StringIO()
    assert install(InstallRequest(host=host, remove=True), env, out) == 0
    assert json.loads(path.read_text()) == {key: {"memory": OTHER}, "other": 1}
    again = io.StringIO()
    assert install(InstallRequest(host=host, remove=True), env, again) == 0
    assert "is not registered" in again.getvalue()


def test_uninstall_codex_removes_the_table_only(tmp_path: Path) -> None:
    """uninstall codex: the [mcp_servers.loopcore] table goes, the file is as it was."""
    env = _env(tmp_path)
    path = env.home / ".codex" / "config.toml"
    path.parent.mkdir(parents=True)
    path.write_text(CODEX)
    _run(env, "codex")
    assert install(InstallRequest(host="codex", remove=True), env, io.StringIO()) == 0
    assert path.read_text().rstrip("\n") == CODEX.rstrip("\n")


def test_claude_code_hooks_go_to_settings_beside_the_users_own(tmp_path: Path) -> None:
    """install claude-code --hooks: every event loopcore handles, the user's hooks kept."""
    env = _env(tmp_path)
    settings = env.home / ".claude" / "settings.json"
    mine = {"hooks": [{"type": "command", "command": "echo mine"}]}
    _write(settings, {"model": "opus", "hooks": {"Stop": [mine]}})
    _run(env, "claude-code", hooks=True)
    data = json.loads(settings.read_text())
    assert data["model"] == "opus"
    assert set(data["hooks"]) == {"UserPromptSubmit", "TaskCompleted", "Stop", "SessionStart"}
    assert data["hooks"]["Stop"][0] == mine
    command = data["hooks"]["Stop"][1]["hooks"][0]["command"]
    assert command == f"{CMD[0]} hook claude-code"
    assert "nothing changed" in _run(env, "claude-code", hooks=True)
    install(InstallRequest(host="claude-code", remove=True), env, io.StringIO())
    assert json.loads(settings.read_text()) == {"model": "opus", "hooks": {"Stop": [mine]}}


def test_project_hooks_use_the_plain_command(tmp_path: Path) -> None:
    """--scope project --hooks: ./.claude/settings.json with `loopcore hook claude-code`."""
    env = _env(tmp_path)
    request = InstallRequest(host="claude-code", scope="project", hooks=True)
    assert install(request, env, io.StringIO()) == 0
    data = json.loads((env.cwd / ".claude" / "settings.json").read_text())
    assert data["hooks"]["TaskCompleted"][0]["hooks"][0]["command"] == "loopcore hook claude-code"


def test_gemini_and_codex_hooks_use_their_own_events(tmp_path: Path) -> None:
    """gemini --hooks: BeforeAgent/AfterAgent/SessionStart; codex: hooks.json, Claude's shape."""
    env = _env(tmp_path)
    _run(env, "gemini", hooks=True)
    _run(env, "codex", hooks=True)
    gemini = json.loads((env.home / ".gemini" / "settings.json").read_text())
    assert set(gemini["hooks"]) == {"BeforeAgent", "AfterAgent", "SessionStart"}
    assert "loopcore" in gemini["mcpServers"]
    codex = json.loads((env.home / ".codex" / "hooks.json").read_text())
    assert set(codex["hooks"]) == {"UserPromptSubmit", "Stop", "SessionStart"}
    assert codex["hooks"]["Stop"][0]["hooks"][0]["command"] == f"{CMD[0]} hook codex"


def test_hooks_for_a_host_without_hooks_are_refused(tmp_path: Path) -> None:
    """--hooks for cursor: a clear error, nothing written."""
    env = _env(tmp_path)
    with pytest.raises(InvalidInput, match="cursor has no hooks"):
        _run(env, "cursor", hooks=True)
    assert not (env.home / ".cursor").exists()


@pytest.mark.slow
@pytest.mark.parametrize(
    ("host", "path"),
    [
        ("gemini", ".gemini/settings.json"),
        ("codex", ".codex/config.toml"),
        ("cursor", ".cursor/mcp.json"),
        ("claude-code", ".claude.json"),
    ],
)
def test_cli_install_and_uninstall_in_a_temporary_home(
    tmp_path: Path, host: str, path: str
) -> None:
    """`loopcore install HOST` then `loopcore uninstall HOST` in a temporary HOME."""
    proc = _cli(tmp_path, host)
    assert proc.returncode == 0, proc.stderr
    target = tmp_path / "home" / path
    assert str(LOOPCORE) in target.read_text()
    gone = _cli(tmp_path, host, verb="uninstall")
    assert gone.returncode == 0, gone.stderr
    assert "loopcore" not in target.read_text().replace(str(LOOPCORE), "")
