"""The ``loopcore`` command: serve, demo, plans, doctor, install, db, dashboard, verify, intercept,
hook.

Logging is configured at import, before anything can log, so nothing but the
MCP wire ever reaches stdout in ``serve`` mode. The human commands (demo,
plans, doctor, install, verify, intercept) print to stdout on purpose.

Each verb imports what it needs when it runs: ``verify``, ``intercept`` and
``hook`` never import the MCP stack (a host runs ``hook`` on every event, so
its start-up time is the user's wait). ``serve`` builds only its own parser, so
starting a server imports none of the other verbs' modules.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import Any

from server.logs import configure_logging
from server.startup import paused_gc

configure_logging()

# Imported after logging is configured: importing the SDK may log. The collector is off
# meanwhile (server.startup): the imports allocate much and free little; what they built is
# frozen on leaving, or the first allocation after would walk all of it (a young collection).
with paused_gc(freeze=True):
    from loopcore import __version__
    from loopcore.errors import LoopcoreError, PlanNotFound
    from server.settings import Settings, SettingsError, forget_secrets

__all__ = ["CLI_HINTS", "build_parser", "main"]

# What to run next, by error class (the domain's messages name no command; see loopcore.errors).
CLI_HINTS: dict[type[LoopcoreError], str] = {PlanNotFound: "see loopcore plans list"}


def _cli_message(exc: Exception) -> str:
    hint = next((CLI_HINTS[c] for c in type(exc).__mro__ if c in CLI_HINTS), None)
    return f"{exc}; {hint}" if hint else str(exc)


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--db", help="SQLite database file or postgresql:// URL (LOOPCORE_DB)")
    p.add_argument("--project", help="project key plans are filed under (LOOPCORE_PROJECT)")
    p.add_argument(
        "--log-level", choices=["debug", "info", "warning", "error"], help="(LOOPCORE_LOG_LEVEL)"
    )


_SERVE_HELP = """\
transports:
  stdio (default)  the host starts `loopcore serve` and speaks MCP on stdin/stdout;
                   nothing else is written to stdout (logs go to stderr)
  http             streamable HTTP at http://HOST:PORT/mcp
  sse              the older HTTP+SSE transport

token:
  HTTP and SSE bind 127.0.0.1 unless --host says otherwise; binding anything else
  requires a bearer token in LOOPCORE_TOKEN that every request must carry.

project:
  plans, loops and prompt history are filed under a project key: --project or
  LOOPCORE_PROJECT, else the host's first root, else the working directory.
  The database is --db or LOOPCORE_DB, else the user data directory.
"""


def _serve_parser(sub: Any) -> None:
    p = sub.add_parser(
        "serve",
        help="run the MCP server (stdio by default)",
        description="Run loopcore as an MCP server.",
        epilog=_SERVE_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _common(p)
    p.add_argument("--transport", choices=["stdio", "sse", "http"], help="default stdio")
    p.add_argument("--host", help="HTTP/SSE bind address (default 127.0.0.1)")
    p.add_argument("--port", type=int, help="HTTP/SSE port (default 8000)")
    p.add_argument("--tools", choices=["core", "all"], help="tool set (LOOPCORE_TOOLS)")


def _root_parser() -> tuple[argparse.ArgumentParser, Any]:
    parser = argparse.ArgumentParser(
        prog="loopcore", description="An MCP server that makes coding agents check their work."
    )
    parser.add_argument("--version", action="version", version=f"loopcore {__version__}")
    sub = parser.add_subparsers(dest="command")
    _serve_parser(sub)
    return parser, sub


def _serve_only_parser() -> argparse.ArgumentParser:
    """The parser of ``loopcore serve``: a host starts the server this way, and waits for it,
    so the other verbs' modules are not imported to build their parsers."""
    return _root_parser()[0]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand."""
    from server.cli.approve import add_approve_parser
    from server.cli.db import add_db_parser
    from server.cli.hook import add_hook_parser
    from server.cli.install import add_install_parser, add_uninstall_parser
    from server.cli.intercept import add_intercept_parser
    from server.cli.members import add_members_parser
    from server.cli.verify import add_verify_parser
    from server.web.cli import add_dashboard_parser

    parser, sub = _root_parser()
    demo = sub.add_parser("demo", help="run a short session against a real server")
    demo.add_argument("--log-level", choices=["debug", "info", "warning", "error"])
    plans = sub.add_parser("plans", help="list, show, export or import (Markdown) plans")
    _common(plans)
    plans.add_argument("action", choices=["list", "show", "export", "import"])
    plans.add_argument(
        "plan_id",
        nargs="?",
        help="the plan (show, export); a status for list; a Markdown file for import",
    )
    plans.add_argument("--format", choices=["json", "md"], default="md", help="export format")
    plans.add_argument(
        "--all-projects", action="store_true", help="list: the plans of every project"
    )
    doctor = sub.add_parser("doctor", help="database, settings and host config snippets")
    _common(doctor)
    add_install_parser(sub)
    add_db_parser(sub)
    add_dashboard_parser(sub)
    add_uninstall_parser(sub)
    _common(add_approve_parser(sub))
    for add in (add_verify_parser, add_intercept_parser, add_hook_parser):
        _common(add(sub))
    add_members_parser(sub)
    return parser


def _settings(args: argparse.Namespace) -> Settings:
    names = ("db", "project", "log_level", "transport", "host", "port", "tools")
    settings = Settings.load({n: getattr(args, n, None) for n in names})
    forget_secrets(os.environ)  # held by the settings now; children must not inherit them
    return settings


def _quick(args: argparse.Namespace, settings: Settings) -> int | None:
    """The verbs that never touch the MCP stack: verify, intercept, hook."""
    if args.command == "verify":
        from server.cli.verify import run_verify

        return run_verify(args, settings, sys.stdout, sys.stderr, sys.stdin)
    if args.command == "intercept":
        from server.cli.intercept import run_intercept

        return run_intercept(args, sys.stdout, sys.stderr, sys.stdin)
    if args.command == "approve":
        from server.cli.approve import run_approve

        return run_approve(args, settings, sys.stdout, sys.stderr)
    if args.command == "hook":
        from server.cli.hook import run_hook

        return run_hook(args, settings, sys.stdin, sys.stdout, sys.stderr)
    return None


def _admin(args: argparse.Namespace) -> int | None:
    """The verbs that need no settings: install, uninstall, db, dashboard, members."""
    if args.command in ("install", "uninstall"):
        from server.cli.install import run_install

        return run_install(args)
    if args.command == "db":
        from server.cli.db import run_db

        return run_db(args, sys.stdout)
    if args.command == "dashboard":
        from server.web.cli import run_dashboard

        return run_dashboard(args)
    if args.command == "members":
        from server.cli.members import run_members

        return run_members(args, sys.stdout)
    return None


def _dispatch(args: argparse.Namespace) -> int:
    admin = _admin(args)
    if admin is not None:
        return admin
    settings = _settings(args)
    configure_logging(settings.log_level)
    quick = _quick(args, settings)
    if quick is not None:
        return quick
    if args.command == "serve":
        with paused_gc(freeze=True):  # run_serve pauses it again while it builds the server
            from server.cli.serve import run_serve

        return run_serve(settings)
    if args.command == "demo":
        from server.cli.demo import run_demo

        return run_demo(sys.stdout)
    from server.cli.admin import run_doctor, run_plans

    if args.command == "doctor":
        return run_doctor(settings, sys.stdout)
    return run_plans(
        settings, args.action, args.plan_id, args.format, sys.stdout, all_projects=args.all_projects
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``loopcore`` console script; returns the exit status."""
    given = sys.argv[1:] if argv is None else list(argv)
    parser = _serve_only_parser() if given[:1] == ["serve"] else build_parser()
    args = parser.parse_args(given)
    if args.command is None:
        parser.print_help()
        return 0
    try:
        return _dispatch(args)
    except SettingsError as exc:
        print(f"loopcore: {exc}", file=sys.stderr)
        return 2
    except (LoopcoreError, ValueError) as exc:
        from server.cli.verify import cli_error

        print(f"loopcore {args.command}: {cli_error(exc)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
