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
  and idempotence as the other hosts. ``--hooks`` also writes loopcore's hooks into
  ``~/.claude/settings.json`` (project: ``./.claude/settings.json``).
- ``gemini``: user ``~/.gemini/settings.json``, project ``./.gemini/settings.json``; key
  ``mcpServers``. ``--hooks`` writes Gemini's events (BeforeAgent, AfterAgent, SessionStart)
  under ``hooks`` in the same file.
- ``codex``: user ``~/.codex/config.toml``, project ``./.codex/config.toml``; a
  ``[mcp_servers.<name>]`` table (the rest of the file, comments included, is kept).
  ``--hooks`` writes ``hooks.json`` beside it, in Claude Code's shape, which Codex reads.

A JSON file with comments or trailing commas (VS Code's ``mcp.json`` is JSONC) is edited in
place: only loopcore's member is rewritten, every comment stays. ``--scope project`` writes a
file meant to be committed: the command is plain ``loopcore`` (found on each teammate's PATH,
never this machine's virtualenv) and ``LOOPCORE_PROJECT`` is the project directory's name, so
everyone files plans under the same key. ``loopcore uninstall <host>`` removes what install
wrote (the entry, and loopcore's hooks), with the same backup and diff.
"""

from __future__ import annotations

import argparse
import difflib
import json
import os
import re
import shlex
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from loopcore.errors import InvalidInput
from server.cli import jsonc

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
    hooks: Mapping[str, Callable[[InstallEnv], Path]] | None = None  # where --hooks writes
    toml: bool = False  # the config is TOML (Codex), not JSON


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
        hooks={
            "user": lambda e: e.home / ".claude" / "settings.json",
            "project": lambda e: e.cwd / ".claude" / "settings.json",
        },
    ),
    "gemini": Host(
        title="Gemini CLI",
        key="mcpServers",
        typed=False,
        scopes={
            "user": lambda e: e.home / ".gemini" / "settings.json",
            "project": lambda e: e.cwd / ".gemini" / "settings.json",
        },
        hooks={
            "user": lambda e: e.home / ".gemini" / "settings.json",
            "project": lambda e: e.cwd / ".gemini" / "settings.json",
        },
    ),
    "codex": Host(
        title="Codex CLI",
        key="mcp_servers",
        typed=False,
        scopes={
            "user": lambda e: e.home / ".codex" / "config.toml",
            "project": lambda e: e.cwd / ".codex" / "config.toml",
        },
        hooks={
            "user": lambda e: e.home / ".codex" / "hooks.json",
            "project": lambda e: e.cwd / ".codex" / "hooks.json",
        },
        toml=True,
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


def build_entry(
    host: str, command: list[str], db: Path | str | None, project: str | None = None
) -> dict[str, Any]:
    """loopcore's entry for ``host``: the command, ``serve``, and its environment."""
    entry: dict[str, Any] = {"type": "stdio"} if HOSTS[host].typed else {}
    entry["command"] = command[0]
    entry["args"] = [*command[1:], "serve"]
    env = {"LOOPCORE_DB": str(db)} if db is not None else {}
    if project is not None:
        env["LOOPCORE_PROJECT"] = project
    if env:
        entry["env"] = env
    return entry


def _project_key(host: str, scope: str | None, env: InstallEnv) -> str | None:
    """A project-scoped entry files plans under this project (the directory it is written
    for), whatever directory the host starts the server in; a user-wide one leaves it unset.
    """
    chosen = scope or next(iter(HOSTS[host].scopes))
    return str(env.cwd.resolve()) if chosen == "project" else None


def _merge_entry(old: Any, new: dict[str, Any]) -> dict[str, Any]:
    """``new`` over ``old``, keeping keys and environment variables the user added."""
    if not isinstance(old, dict):
        return new
    merged = {**old, **new}
    env = {**(old.get("env") or {}), **new.get("env", {})}
    if env:
        merged["env"] = env
    return merged


@dataclass(frozen=True, kw_only=True)
class _File:
    """A config file as read: its text (None when absent), its data, and its dialect."""

    path: Path
    text: str | None
    data: dict[str, Any] | None
    dialect: str  # "json" (rewritten whole), "jsonc" (edited in place), "toml"


def _refuse(path: Path, what: str, exc: Exception) -> InvalidInput:
    return InvalidInput(
        f"cannot parse {path} as {what} ({exc}); fix it or add loopcore by hand. "
        "Nothing was changed.",
    )


def _load(path: Path, toml: bool = False) -> _File:
    """The config at ``path``, parsed.

    Raises:
        InvalidInput: the file exists but does not parse, or holds something other than an
            object or table.
    """
    if not path.exists():
        return _File(path=path, text=None, data=None, dialect="toml" if toml else "json")
    text = path.read_text(encoding="utf-8")
    if toml:
        import tomllib

        try:
            return _File(path=path, text=text, data=tomllib.loads(text), dialect="toml")
        except tomllib.TOMLDecodeError as exc:
            raise _refuse(path, "TOML", exc) from exc
    if not text.strip():
        return _File(path=path, text=text, data={}, dialect="json")
    dialect = "json"
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        dialect = "jsonc"
        try:
            data = jsonc.loads(text)
        except jsonc.JsoncError as exc:
            raise _refuse(path, "JSON (comments and trailing commas allowed)", exc) from exc
    if not isinstance(data, dict):
        raise InvalidInput(f"{path} holds a JSON {type(data).__name__}, not an object")
    return _File(path=path, text=text, data=data, dialect=dialect)


def _servers(key: str, config: dict[str, Any]) -> dict[str, Any]:
    servers = config.get(key, {})
    if not isinstance(servers, dict):
        raise InvalidInput(f"the {key!r} key holds a {type(servers).__name__}, not an object")
    return servers


def merged_config(
    host: str, current: dict[str, Any] | None, name: str, entry: dict[str, Any]
) -> dict[str, Any]:
    """``current`` with loopcore's entry merged under the host's key; nothing else changes.

    Raises:
        InvalidInput: the host's key holds something other than an object.
    """
    key = HOSTS[host].key
    config = dict(current or {})
    servers = _servers(key, config)
    config[key] = {**servers, name: _merge_entry(servers.get(name), entry)}
    return config


def _dump(config: dict[str, Any] | None) -> str:
    return "" if config is None else json.dumps(config, indent=2, ensure_ascii=False) + "\n"


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)  # a JSON string is a TOML basic string
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        inner = ", ".join(f"{_toml_key(k)} = {_toml_value(v)}" for k, v in value.items())
        return "{ " + inner + " }" if inner else "{}"
    raise InvalidInput(f"cannot write {type(value).__name__} values to TOML")


def _toml_key(key: str) -> str:
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else json.dumps(key)


def toml_table(key: str, name: str, entry: dict[str, Any] | None, text: str) -> str:
    """``text`` with table ``[key.name]`` (and its sub-tables) replaced by ``entry``.

    The table is written where it was (at the end when new); ``None`` removes it. Every other
    line, comments included, is kept.
    """
    header = re.compile(
        rf"^\s*\[\s*{re.escape(key)}\s*\.\s*(?:{re.escape(name)}|\"{re.escape(name)}\")"
        r"\s*(?:\.[^\]]*)?\]\s*(?:#.*)?$"
    )
    kept: list[str] = []
    at: int | None = None
    inside = False
    lines = text.splitlines(keepends=True)
    for line in lines:
        if line.lstrip().startswith("["):
            inside = bool(header.match(line.rstrip("\n")))
            if inside and at is None:
                at = len(kept)
        if not inside:
            kept.append(line)
    if entry is None:
        return "".join(kept)
    body = [f"[{key}.{_toml_key(name)}]\n"]
    body += [f"{_toml_key(k)} = {_toml_value(v)}\n" for k, v in entry.items()]
    if at is None:
        if kept and not kept[-1].endswith("\n"):
            kept[-1] += "\n"
        prefix = "\n" if kept and kept[-1].strip() else ""
        return "".join(kept) + prefix + "".join(body)
    if at < len(kept) and kept[at].strip():
        body.append("\n")
    return "".join(kept[:at] + body + kept[at:])


def _render(file: _File, path_keys: tuple[str, ...], value: Any, new: dict[str, Any]) -> str:
    """The new text of ``file`` with ``path_keys`` set to ``value`` (None: removed)."""
    if file.dialect == "toml":
        return toml_table(path_keys[0], path_keys[1], value, file.text or "")
    if file.dialect == "jsonc" and file.text is not None:
        if value is None:
            return jsonc.remove_member(file.text, path_keys)
        return jsonc.set_member(file.text, path_keys, value)
    return _dump(new)


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
    """What to install (or, with ``remove``, uninstall) where."""

    host: str
    scope: str | None = None
    name: str = SERVER_NAME
    db: Path | None = None
    dry_run: bool = False
    command: tuple[str, ...] = ()  # empty: server_command(), or plain `loopcore` for a project
    hooks: bool = False
    remove: bool = False


def _is_project(request: InstallRequest) -> bool:
    return (request.scope or next(iter(HOSTS[request.host].scopes))) == "project"


def _command(request: InstallRequest) -> list[str]:
    """The command to write: a project's file is shared, so no path of this machine in it."""
    if request.command:
        return list(request.command)
    return [SERVER_NAME] if _is_project(request) else server_command()


def _apply(file: _File, new_text: str, verb: str, request: InstallRequest, out: TextIO) -> None:
    """Print the diff, back up the old file and write the new one (unless a dry run)."""
    path, old_text = file.path, file.text or ""
    if file.dialect == "json" and file.data is not None:
        old_text = _dump(file.data)  # the file is rewritten whole: diff what it means
    label = str(path)
    out.writelines(
        difflib.unified_diff(old_text.splitlines(True), new_text.splitlines(True), label, label)
    )
    if request.dry_run:
        out.write(f"dry run: {path} was not written.\n")
        return
    if file.text is not None:
        out.write(f"backed up the old file to {_backup(path)}\n")
    _write_atomically(path, new_text)
    title = HOSTS[request.host].title
    out.write(f"{verb} {request.name} in {path}; restart {title} to load it.\n")


def _target(path: Path) -> Path:
    return path.resolve() if path.is_symlink() else path  # a dotfiles link: write through it


def _entry_change(request: InstallRequest, env: InstallEnv, out: TextIO) -> None:
    host = HOSTS[request.host]
    path = _target(config_path(request.host, request.scope, env))
    file = _load(path, toml=host.toml)
    keys = (host.key, request.name)
    if request.remove:
        servers = _servers(host.key, dict(file.data or {}))
        if request.name not in servers:
            out.write(f"{request.name} is not registered in {path}; nothing changed.\n")
            return
        config = {**(file.data or {}), host.key: {k: v for k, v in servers.items() if k != keys[1]}}
        _apply(file, _render(file, keys, None, config), "removed", request, out)
        return
    project = env.cwd.name if _is_project(request) else None
    db = request.db
    if db is not None and not _is_project(request):
        db = (env.cwd / db).absolute()
    entry = build_entry(request.host, _command(request), db, project)
    new = merged_config(request.host, file.data, request.name, entry)
    if file.data == new:
        out.write(f"{request.name} is already registered in {path}; nothing changed.\n")
        return
    text = _render(file, keys, new[host.key][request.name], new)
    _apply(file, text, "registered", request, out)


def hook_groups(host: str, command: list[str]) -> dict[str, list[dict[str, Any]]]:
    """loopcore's hook groups for ``host``: one command per event it handles."""
    from server.cli.hook import EVENTS

    line = " ".join(shlex.quote(part) for part in [*command, "hook", host])
    return {
        event: [{"hooks": [{"type": "command", "command": line, "timeout": 600}]}]
        for event in EVENTS[host]
    }


def _ours(group: Any) -> bool:
    hooks = group.get("hooks") if isinstance(group, dict) else None
    return isinstance(hooks, list) and any(
        isinstance(h, dict)
        and " hook " in f" {h.get('command', '')} "
        and SERVER_NAME in str(h.get("command", ""))
        for h in hooks
    )


def merged_hooks(current: Any, ours: Mapping[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """``current`` hooks without loopcore's old groups, plus ``ours`` (others' hooks kept)."""
    hooks = dict(current) if isinstance(current, dict) else {}
    for event in set(hooks) | set(ours):
        groups = hooks.get(event)
        kept = [g for g in groups if not _ours(g)] if isinstance(groups, list) else []
        if not isinstance(groups, list) and groups is not None:
            continue  # not a list: the user's business, left alone
        hooks[event] = kept + list(ours.get(event, []))
        if not hooks[event]:
            del hooks[event]
    return hooks


def _hooks_change(request: InstallRequest, env: InstallEnv, out: TextIO) -> None:
    host = HOSTS[request.host]
    if host.hooks is None:
        raise InvalidInput(f"{request.host} has no hooks loopcore can install")
    scope = request.scope or next(iter(host.scopes))
    path = _target(host.hooks[scope](env))
    file = _load(path)
    ours = {} if request.remove else hook_groups(request.host, _command(request))
    hooks = merged_hooks((file.data or {}).get("hooks"), ours)
    new = {**(file.data or {}), "hooks": hooks}
    if not hooks:
        new.pop("hooks")
    if (file.data or {}) == new and (file.text is not None or request.remove):
        out.write(
            f"loopcore's hooks are {'absent from' if request.remove else 'already in'} "
            f"{path}; nothing changed.\n"
        )
        return
    text = _render(file, ("hooks",), hooks or None, new)
    _apply(file, text, "removed hooks of" if request.remove else "wrote hooks of", request, out)


def install(request: InstallRequest, env: InstallEnv, out: TextIO) -> int:
    """Merge loopcore's entry (and hooks) into the host's config, or remove them; report on
    ``out``; the exit status.

    Raises:
        InvalidInput: unknown host or scope, a bad name, or a config file that cannot be parsed
            (the file is left untouched).
    """
    if not _NAME_RE.match(request.name):
        raise InvalidInput("--name must be 1-64 letters, digits, '-' or '_'")
    config_path(request.host, request.scope, env)  # checks the host and scope first
    if request.hooks and HOSTS[request.host].hooks is None:
        raise InvalidInput(f"{request.host} has no hooks loopcore can install; drop --hooks")
    _entry_change(request, env, out)
    if request.hooks or (request.remove and HOSTS[request.host].hooks is not None):
        _hooks_change(request, env, out)
    return 0


def _host_parser(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
    verb: str,
    help: str,
    description: str,
) -> argparse.ArgumentParser:
    p = subparsers.add_parser(verb, help=help, description=description)
    p.add_argument("host", choices=list(HOSTS), help="the MCP host")
    p.add_argument(
        "--scope",
        choices=["user", "project"],
        help="user-wide or this project's config (default: user; project for vscode)",
    )
    p.add_argument("--dry-run", action="store_true", help="print the change, write nothing")
    p.add_argument("--name", default=SERVER_NAME, help="the server's name in the config")
    return p


def add_install_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``install <host> [--scope] [--dry-run] [--db] [--name] [--hooks]``."""
    p = _host_parser(
        subparsers,
        "install",
        help="register loopcore in an MCP host's config file",
        description="Merge loopcore into a host's MCP config (other entries and comments "
        "kept, old file backed up, the change printed as a diff). --scope project writes a "
        "command that works on a teammate's machine and sets LOOPCORE_PROJECT.",
    )
    p.add_argument("--db", type=Path, help="database path to pass as LOOPCORE_DB")
    p.add_argument(
        "--hooks",
        action="store_true",
        help="also install loopcore's hooks (claude-code, gemini, codex)",
    )


def add_uninstall_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``uninstall <host> [--scope] [--dry-run] [--name]``."""
    _host_parser(
        subparsers,
        "uninstall",
        help="remove loopcore (and its hooks) from a host's config",
        description="Remove loopcore's entry and hooks from a host's config (the rest kept, "
        "old file backed up, the change printed as a diff).",
    )


def run_install(args: argparse.Namespace) -> int:
    """Run ``loopcore install`` or ``uninstall``; errors go to stderr with status 1."""
    remove = args.command == "uninstall"
    request = InstallRequest(
        host=args.host,
        scope=args.scope,
        name=args.name,
        db=getattr(args, "db", None),
        dry_run=args.dry_run,
        hooks=getattr(args, "hooks", False),
        remove=remove,
    )
    try:
        return install(request, InstallEnv.current(), sys.stdout)
    except InvalidInput as exc:
        sys.stderr.write(f"loopcore {args.command}: {exc}\n")
        return 1
