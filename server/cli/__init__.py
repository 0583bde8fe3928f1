"""The ``loopcore`` command: serve, demo, plans, doctor, install, db.

Logging is configured at import, before anything can log, so nothing but the
MCP wire ever reaches stdout in ``serve`` mode. The human commands (demo,
plans, doctor, install) print to stdout on purpose.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

from server.logs import configure_logging

configure_logging()

# Imported after logging is configured: importing the SDK may log.
from loopcore.errors import LoopcoreError  # noqa: E402
from server.cli.db import add_db_parser, run_db  # noqa: E402
from server.cli.install import add_install_parser, run_install  # noqa: E402
from server.settings import Settings, SettingsError  # noqa: E402

__all__ = ["build_parser", "main"]


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--db", help="SQLite database file or postgresql:// URL (LOOPCORE_DB)")
    p.add_argument("--project", help="project key plans are filed under (LOOPCORE_PROJECT)")
    p.add_argument(
        "--log-level", choices=["debug", "info", "warning", "error"], help="(LOOPCORE_LOG_LEVEL)"
    )


def _serve_parser(sub: Any) -> None:
    p = sub.add_parser("serve", help="run the MCP server (stdio by default)")
    _common(p)
    p.add_argument("--transport", choices=["stdio", "sse", "http"], help="default stdio")
    p.add_argument("--host", help="HTTP/SSE bind address (default 127.0.0.1)")
    p.add_argument("--port", type=int, help="HTTP/SSE port (default 8000)")
    p.add_argument("--tools", choices=["core", "all"], help="tool set (LOOPCORE_TOOLS)")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand."""
    parser = argparse.ArgumentParser(
        prog="loopcore", description="An MCP server that makes coding agents check their work."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    _serve_parser(sub)
    demo = sub.add_parser("demo", help="run a short session against a real server")
    demo.add_argument("--log-level", choices=["debug", "info", "warning", "error"])
    plans = sub.add_parser("plans", help="list, show or export the stored plans")
    _common(plans)
    plans.add_argument("action", choices=["list", "show", "export"])
    plans.add_argument("plan_id", nargs="?", help="the plan (show, export); a status for list")
    plans.add_argument("--format", choices=["json", "md"], default="md", help="export format")
    doctor = sub.add_parser("doctor", help="database, settings and host config snippets")
    _common(doctor)
    add_install_parser(sub)
    add_db_parser(sub)
    return parser


def _settings(args: argparse.Namespace) -> Settings:
    names = ("db", "project", "log_level", "transport", "host", "port", "tools")
    return Settings.load({n: getattr(args, n, None) for n in names})


def _dispatch(args: argparse.Namespace) -> int:
    if args.command == "install":
        return run_install(args)
    if args.command == "db":
        return run_db(args, sys.stdout)
    settings = _settings(args)
    configure_logging(settings.log_level)
    if args.command == "serve":
        from server.cli.serve import run_serve

        return run_serve(settings)
    if args.command == "demo":
        from server.cli.demo import run_demo

        return run_demo(sys.stdout)
    from server.cli.admin import run_doctor, run_plans

    if args.command == "doctor":
        return run_doctor(settings, sys.stdout)
    return run_plans(settings, args.action, args.plan_id, args.format, sys.stdout)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``loopcore`` console script; returns the exit status."""
    args = build_parser().parse_args(argv)
    try:
        return _dispatch(args)
    except SettingsError as exc:
        print(f"loopcore: {exc}", file=sys.stderr)
        return 2
    except (LoopcoreError, ValueError) as exc:
        print(f"loopcore {args.command}: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
