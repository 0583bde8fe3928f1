"""``loopcore install <host>``: register loopcore in an MCP host's configuration file.

The entry is merged into the host's documented config file: every other server and key is
kept, the old file is backed up next to it (``<file>.bak-<timestamp>``), the new one is written
atomically (temporary file + ``os.replace``), and a unified diff of the change goes to stdout.
A second run finds nothing to change and says so; a file that is not valid JSON is refused
and left untouched.

Hosts and files (``--scope``; the first listed is the default):

- ``claude-desktop``: user only. macOS ``~/Library/Application Support/Claude/``, Windows
  ``%APPDATA%\\Claude\\``, Linux ``$XDG_CONFIG_HOME/Claude/`` (``~/.config``);
  ``claude_desktop_config.json``, key ``mcpServers``.
- ``cursor``: user ``~/.cursor/mcp.json``, project ``./.cursor/mcp.json``; key ``mcpServers``.
- ``vscode``: project ``./.vscode/mcp.json``, user ``mcp.json`` in the default profile's
  ``Code/User/`` directory; key ``servers``, entries carry ``"type": "stdio"``.
- ``claude-code``: user ``~/.claude.json``, project ``./.mcp.json``; key ``mcpServers``,
  entries carry ``"type": "stdio"``. These are the files ``claude mcp add --scope user|project``
  writes; writing them ourselves needs no ``claude`` on PATH and gets the same backup, diff
  and idempotence as the other hosts.
"""

from __future__ import annotations

import argparse
import difflib
import json
import os
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from loopcore.errors import InvalidInput

SERVER_NAME = "loopcore"
_NAME_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


@dataclass(frozen=True, kw_only=True)
class InstallEnv:
    """Where the installer looks: read from the process once, passed in explicitly by tests."""

    home: Path
    cwd: Path
    platform: str
    environ: Mapping[str, str]

    @classmethod
    def current(cls) -> InstallEnv:
        """The running process's home directory, working directory, platform and environment."""
        return cls(home=Path.home(), cwd=Path.cwd(), platform=sys.platform, environ=os.environ)


def _app_data(env: InstallEnv, app: str) -> Path:
    """The per-user application data directory an Electron app named ``app`` uses."""
    if env.platform == "darwin":
        return env.home / "Library" / "Application Support" / app
    if env.platform == "win32":
        return Path(env.environ.get("APPDATA", str(env.home / "AppData" / "Roaming"))) / app
    return Path(env.environ.get("XDG_CONFIG_HOME") or env.home / ".config") / app


@dataclass(frozen=True, kw_only=True)
class Host:
    """One MCP host: where its config lives per scope, and the shape of its entries."""

    title: str
    key: str
    typed: bool  # entries need "type": "stdio"
    scopes: Mapping[str, Callable[[InstallEnv], Path]]  # the first scope is the default


HOSTS: Mapping[str, Host] = {
    "claude-desktop": Host(
        title="Claude Desktop",
        key="mcpServers",
        typed=False,
        scopes={"user": lambda e: _app_data(e, "Claude") / "claude_desktop_config.json"},
    ),
    "cursor": Host(
        title="Cursor",
        key="mcpServers",
        typed=False,
        scopes={
            "user": lambda e: e.home / ".cursor" / "mcp.json",
            "project": lambda e: e.cwd / ".cursor" / "mcp.json",
        },
    ),
    "vscode": Host(
        title="VS Code",
        key="servers",
        typed=True,
        scopes={
            "project": lambda e: e.cwd / ".vscode" / "mcp.json",
            "user": lambda e: _app_data(e, "Code") / "User" / "mcp.json",
        },
    ),
    "claude-code": Host(
        title="Claude Code",
        key="mcpServers",
        typed=True,
        scopes={
            "user": lambda e: e.home / ".claude.json",
            "project": lambda e: e.cwd / ".mcp.json",
        },
    ),
}


def config_path(host: str, scope: str | None, env: InstallEnv) -> Path:
    """The config file ``host`` reads for ``scope`` (``None``: the host's default scope).

    Raises:
        InvalidInput: the host is unknown or does not have that scope.
    """
    if host not in HOSTS:
        raise InvalidInput(f"unknown host {host!r}; known: {', '.join(HOSTS)}")
    scopes = HOSTS[host].scopes
    chosen = scope or next(iter(scopes))
    if chosen not in scopes:
        raise InvalidInput(
            f"{host} has no {chosen}-scoped configuration; use --scope {' or '.join(scopes)}",
        )
    return scopes[chosen](env)


def server_command() -> list[str]:
    """The absolute command that starts this installation's server, without ``serve``.

    The ``loopcore`` console script being run wins (another one may come first on PATH), then
    the one beside this interpreter (a venv's ``bin/``), then PATH, then the interpreter itself.
    """
    argv0 = Path(sys.argv[0]) if sys.argv and sys.argv[0] else None
    if argv0 is not None and argv0.stem == SERVER_NAME and argv0.is_file():
        return [str(argv0.absolute())]
    exe_dir = Path(sys.executable).parent
    for candidate in (exe_dir / SERVER_NAME, exe_dir / f"{SERVER_NAME}.exe"):
        if candidate.is_file():
            return [str(candidate)]
    found = shutil.which(SERVER_NAME)
    if found:
        return [str(Path(found).absolute())]
    return [sys.executable, "-m", "server.cli"]


def build_entry(host: str, command: list[str], db: Path | str | None) -> dict[str, Any]:
    """loopcore's entry for ``host``: the command, ``serve``, and ``LOOPCORE_DB`` if given."""
    entry: dict[str, Any] = {"type": "stdio"} if HOSTS[host].typed else {}
    entry["command"] = command[0]
    entry["args"] = [*command[1:], "serve"]
    if db is not None:
        entry["env"] = {"LOOPCORE_DB": str(db)}
    return entry


def _merge_entry(old: Any, new: dict[str, Any]) -> dict[str, Any]:
    """``new`` over ``old``, keeping keys and environment variables the user added."""
    if not isinstance(old, dict):
        return new
    merged = {**old, **new}
    env = {**(old.get("env") or {}), **new.get("env", {})}
    if env:
        merged["env"] = env
    return merged


def _load(path: Path) -> dict[str, Any] | None:
    """The parsed config at ``path`` (``None`` if there is none).

    Raises:
        InvalidInput: the file exists but is not a JSON object.
    """
    if not path.exists():
        return None
    text = path.read_text(encoding="utf-8")
    if not text.strip():
        return {}
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidInput(
            f"cannot parse {path} as JSON ({exc}); fix it or add loopcore by hand "
            "(comments and trailing commas are not supported). Nothing was changed.",
        ) from exc
    if not isinstance(data, dict):
        raise InvalidInput(f"{path} holds a JSON {type(data).__name__}, not an object")
    return data


def merged_config(
    host: str, current: dict[str, Any] | None, name: str, entry: dict[str, Any]
) -> dict[str, Any]:
    """``current`` with loopcore's entry merged under the host's key; nothing else changes.

    Raises:
        InvalidInput: the host's key holds something other than an object.
    """
    key = HOSTS[host].key
    config = dict(current or {})
    servers = config.get(key, {})
    if not isinstance(servers, dict):
        raise InvalidInput(f"the {key!r} key holds a {type(servers).__name__}, not an object")
    config[key] = {**servers, name: _merge_entry(servers.get(name), entry)}
    return config


def _dump(config: dict[str, Any] | None) -> str:
    return "" if config is None else json.dumps(config, indent=2, ensure_ascii=False) + "\n"


def _write_atomically(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` via a temporary file in the same directory and os.replace."""
    path.parent.mkdir(parents=True, exist_ok=True)
    mode = path.stat().st_mode & 0o777 if path.exists() else None
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        if mode is not None:
            os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _backup(path: Path) -> Path:
    """Copy ``path`` to ``<path>.bak-<timestamp>`` (never over an existing backup)."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    backup = path.with_name(f"{path.name}.bak-{stamp}")
    n = 1
    while backup.exists():
        n += 1
        backup = path.with_name(f"{path.name}.bak-{stamp}-{n}")
    shutil.copy2(path, backup)
    return backup


@dataclass(frozen=True, kw_only=True)
class InstallRequest:
    """What to install where."""

    host: str
    scope: str | None = None
    name: str = SERVER_NAME
    db: Path | None = None
    dry_run: bool = False
    command: tuple[str, ...] = ()  # empty: server_command()


def install(request: InstallRequest, env: InstallEnv, out: TextIO) -> int:
    """Merge loopcore's entry into the host's config, report on ``out``; the exit status.

    Raises:
        InvalidInput: unknown host or scope, a bad name, or a config file that cannot be parsed
            (the file is left untouched).
    """
    if not _NAME_RE.match(request.name):
        raise InvalidInput("--name must be 1-64 letters, digits, '-' or '_'")
    path = config_path(request.host, request.scope, env)
    if path.is_symlink():  # a dotfiles manager's link: write through it, not over it
        path = path.resolve()
    command = list(request.command) or server_command()
    db = None if request.db is None else (env.cwd / request.db).absolute()
    current = _load(path)
    new = merged_config(request.host, current, request.name, build_entry(request.host, command, db))
    if current == new:
        out.write(f"{request.name} is already registered in {path}; nothing changed.\n")
        return 0
    old_text, new_text = _dump(current), _dump(new)
    label = str(path)
    out.writelines(
        difflib.unified_diff(old_text.splitlines(True), new_text.splitlines(True), label, label)
    )
    if request.dry_run:
        out.write(f"dry run: {path} was not written.\n")
        return 0
    if current is not None:
        out.write(f"backed up the old file to {_backup(path)}\n")
    _write_atomically(path, new_text)
    title = HOSTS[request.host].title
    out.write(f"registered {request.name} in {path}; restart {title} to load it.\n")
    return 0


def add_install_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``install <host> [--scope] [--dry-run] [--db] [--name]`` to the CLI's subcommands."""
    p = subparsers.add_parser(
        "install",
        help="register loopcore in an MCP host's config file",
        description="Merge loopcore into a host's MCP config (other entries kept, old file "
        "backed up, the change printed as a diff).",
    )
    p.add_argument("host", choices=list(HOSTS), help="the MCP host to register loopcore in")
    p.add_argument(
        "--scope",
        choices=["user", "project"],
        help="user-wide or this project's config (default: user; project for vscode)",
    )
    p.add_argument("--dry-run", action="store_true", help="print the change, write nothing")
    p.add_argument("--db", type=Path, help="database path to pass as LOOPCORE_DB")
    p.add_argument("--name", default=SERVER_NAME, help="the server's name in the config")


def run_install(args: argparse.Namespace) -> int:
    """Run ``loopcore install`` from parsed arguments; errors go to stderr with status 1."""
    request = InstallRequest(
        host=args.host, scope=args.scope, name=args.name, db=args.db, dry_run=args.dry_run
    )
    try:
        return install(request, InstallEnv.current(), sys.stdout)
    except InvalidInput as exc:
        sys.stderr.write(f"loopcore install: {exc}\n")
        return 1
