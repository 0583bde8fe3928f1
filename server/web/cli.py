"""``loopcore dashboard [--db] [--host] [--port]``: one read-only web UI per machine.

- Binds 127.0.0.1 by default and prints its URL on stdout.
- A second start for the same database finds the running one (a state file in the
  user data directory records pid, host and port per database; an HTTP probe of
  ``/api/health`` confirms it is alive and shows that database) and prints its URL
  instead of failing on the port.
- When the port is taken by something else and was not asked for explicitly, an
  ephemeral port is used instead; an explicit ``--port`` that is taken is an error.
- Binding anything but loopback needs ``LOOPCORE_TOKEN``, as ``serve`` does; then
  every request must carry the token (``server.web.auth``).
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import json
import os
import socket
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

import platformdirs
import structlog

from loopcore.store import default_db_path, open_store
from server.settings import Settings, SettingsError, is_loopback

__all__ = ["DEFAULT_PORT", "add_dashboard_parser", "run_dashboard", "state_file"]

log = structlog.get_logger(__name__)

DEFAULT_PORT = 8377
_PROBE_S = 1.0
_LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1", "[::1]")


def add_dashboard_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``dashboard [--db] [--host] [--port]`` to the CLI's subcommands."""
    p = subparsers.add_parser(
        "dashboard",
        help="the read-only web dashboard of every project in the database",
        description="Serve plans, loops and intercepts as live web pages (one per machine).",
    )
    p.add_argument("--db", help="SQLite database file (LOOPCORE_DB)")
    p.add_argument("--host", default="127.0.0.1", help="bind address (default 127.0.0.1)")
    p.add_argument("--port", type=int, help=f"port (default {DEFAULT_PORT})")
    p.add_argument("--log-level", choices=["debug", "info", "warning", "error"])


def state_file() -> Path:
    """Where running dashboards are recorded: ``<user data dir>/dashboard.json``."""
    return Path(platformdirs.user_data_dir("loopcore", appauthor=False)) / "dashboard.json"


def _read_state() -> dict[str, Any]:
    try:
        data = json.loads(state_file().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _write_state(data: dict[str, Any]) -> None:
    path = state_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=1), encoding="utf-8")
    tmp.replace(path)


def _url(host: str, port: int) -> str:
    shown = f"[{host}]" if ":" in host and not host.startswith("[") else host
    return f"http://{shown}:{port}/"


def _probe(host: str, port: int, db: Path, token: str | None) -> bool:
    """True when a dashboard of this database answers at host:port."""
    if host in ("0.0.0.0", "::"):  # noqa: S104 - a wildcard bind is reached on loopback
        host = "127.0.0.1"
    req = urllib.request.Request(_url(host, port) + "api/health")  # noqa: S310 - http only
    if token is not None:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=_PROBE_S) as resp:  # noqa: S310
            body = json.loads(resp.read())
    except (OSError, ValueError):
        return False
    from server.web.routes import HEALTH_APP  # the web stack only when a dashboard is probed

    if not isinstance(body, dict) or body.get("app") != HEALTH_APP:
        return False
    return Path(str(body.get("db"))).resolve() == db


def _running(db: Path, token: str | None) -> str | None:
    """The URL of a live dashboard of this database recorded in the state file."""
    entry = _read_state().get(str(db))
    if not isinstance(entry, dict):
        return None
    host, port = str(entry.get("host")), int(entry.get("port", 0))
    return _url(host, port) if port and _probe(host, port, db, token) else None


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host.strip("[]"), port))
    except OSError:
        sock.close()
        raise
    sock.listen(128)
    return sock


def _claim_port(host: str, port: int | None, db: Path, token: str | None) -> socket.socket | str:
    """A bound socket, or the URL of the dashboard of this database already on the port.

    Raises:
        SettingsError: an explicitly requested port is taken by something else.
    """
    wanted = DEFAULT_PORT if port is None else port
    try:
        return _bind(host, wanted)
    except OSError as exc:
        if exc.errno != errno.EADDRINUSE:
            raise SettingsError(f"cannot bind {host}:{wanted}: {exc.strerror}") from exc
    for _ in range(20):  # the other start may still be coming up
        if _probe(host, wanted, db, token):
            return _url(host, wanted)
        time.sleep(0.15)
    if port is not None:
        raise SettingsError(f"port {wanted} on {host} is in use by another program; pick --port")
    return _bind(host, 0)


@contextlib.contextmanager
def _recorded(db: Path, host: str, port: int) -> Iterator[None]:
    state = _read_state()
    state[str(db)] = {"pid": os.getpid(), "host": host, "port": port, "url": _url(host, port)}
    _write_state(state)
    try:
        yield
    finally:
        state = _read_state()
        if state.get(str(db), {}).get("pid") == os.getpid():
            del state[str(db)]
            _write_state(state)


def _allowed_hosts(host: str) -> list[str]:
    names = [*_LOOPBACK_NAMES, host.strip("[]")]
    if host in ("0.0.0.0", "::"):  # noqa: S104 - any name reaches a wildcard bind
        return ["*"]
    return list(dict.fromkeys(names))


def run_dashboard(args: argparse.Namespace, out: TextIO = sys.stdout) -> int:
    """Serve the dashboard until interrupted (or print the URL of the running one).

    Raises:
        SettingsError: a non-loopback bind without a token, or a taken ``--port``.
        StoreError: the database cannot be opened.
    """
    settings = Settings.load({"db": args.db, "log_level": args.log_level})
    host: str = args.host
    token = settings.token.get_secret_value() if settings.token is not None else None
    if not is_loopback(host) and token is None:
        raise SettingsError(
            f"refusing to bind {host}: it is reachable from other machines; set LOOPCORE_TOKEN "
            "so every request must carry the token, or bind 127.0.0.1"
        )
    db = Path(settings.db if settings.db is not None else default_db_path()).resolve()
    found = _running(db, token)
    claimed = found if found is not None else _claim_port(host, args.port, db, token)
    if isinstance(claimed, str):
        print(f"loopcore dashboard already running: {claimed}", file=out, flush=True)
        return 0
    return _serve(claimed, host, db, token, out)


def _serve(sock: socket.socket, host: str, db: Path, token: str | None, out: TextIO) -> int:
    port = int(sock.getsockname()[1])
    # Imported here: `loopcore verify|intercept|hook` build this parser and must stay quick.
    import uvicorn

    from server.web.auth import TokenGate
    from server.web.routes import dashboard_app

    store, _ = open_store(db)
    app: Any = dashboard_app(lambda: store, allowed_hosts=_allowed_hosts(host))
    if token is not None:
        app = TokenGate(app, token)
    config = uvicorn.Config(app, log_config=None, access_log=False, lifespan="off")
    server = uvicorn.Server(config)
    url = _url(host, port)
    try:
        with _recorded(db, host, port):
            hint = f" (open {url}login?token=... once in a browser)" if token else ""
            print(f"loopcore dashboard: {url}{hint}", file=out, flush=True)
            log.info("dashboard_serving", url=url, db=str(db))
            server.run(sockets=[sock])
    finally:
        sock.close()
        store.close()
    return 0
