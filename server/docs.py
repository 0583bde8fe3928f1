"""The README's tool table, generated from the live server.

``python -m server.docs --write`` rewrites the block between ``<!-- tools:start -->`` and
``<!-- tools:end -->`` in README.md (adding it under a "## Tools" heading at the end when it is
missing); ``--check`` exits 1 and prints a diff when the README and the server disagree. The
table comes from ``tools/list`` of an in-memory server: once with ``LOOPCORE_TOOLS=all`` for
the rows, once with ``core`` to mark which tools the small set keeps.
"""

from __future__ import annotations

import argparse
import difflib
import re
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

import anyio
from mcp import Client
from mcp.types import Tool

from server.app import build_server
from server.logs import configure_logging
from server.settings import Settings

START, END = "<!-- tools:start -->", "<!-- tools:end -->"
README = Path(__file__).resolve().parents[1] / "README.md"
_BLOCK = re.compile(re.escape(START) + r".*?" + re.escape(END), re.DOTALL)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s")


async def _list_tools(tools: str, db: Path) -> list[Tool]:
    """``tools/list`` of an in-memory server built with ``LOOPCORE_TOOLS=tools``."""
    settings = Settings(db=db, tools=tools, project="readme")  # type: ignore[arg-type]
    async with Client(build_server(settings)) as client:
        return list((await client.list_tools()).tools)


async def live_tools() -> tuple[list[Tool], set[str]]:
    """Every tool of the live server, and the names of the ``core`` set."""
    with tempfile.TemporaryDirectory(prefix="loopcore-docs-") as tmp:
        every = await _list_tools("all", Path(tmp) / "all.db")
        core = await _list_tools("core", Path(tmp) / "core.db")
    return every, {t.name for t in core}


def summary(description: str | None) -> str:
    """The first sentence of a tool description, on one line, safe inside a table cell."""
    text = " ".join((description or "").split())
    first = _SENTENCE_END.split(text, maxsplit=1)[0]
    return first.replace("|", "\\|")


def _flag(value: bool) -> str:
    return "yes" if value else "no"


def render_table(tools: Sequence[Tool], core: set[str]) -> str:
    """The Markdown table: name, what it does, read-only, destructive, idempotent, set."""
    rows = [
        "| tool | what it does | read-only | destructive | idempotent | set |",
        "|---|---|---|---|---|---|",
    ]
    for tool in tools:  # server order: grouped the way the tools were registered
        ann = tool.annotations
        read_only = bool(ann and ann.read_only_hint)
        # MCP defaults: destructiveHint true, idempotentHint false; both mean something only
        # for a tool that writes, so a read-only tool shows a dash.
        destructive = _flag(ann is None or ann.destructive_hint is not False)
        idempotent = _flag(bool(ann and ann.idempotent_hint))
        if read_only:
            destructive = idempotent = "—"
        rows.append(
            f"| `{tool.name}` | {summary(tool.description)} | {_flag(read_only)} | "
            f"{destructive} | {idempotent} | "
            f"{'core' if tool.name in core else 'all'} |"
        )
    return "\n".join(rows)


def render_block(tools: Sequence[Tool], core: set[str]) -> str:
    """The whole marked block, markers included."""
    note = (
        "Generated from the live server by `python -m server.docs --write`; "
        "`LOOPCORE_TOOLS=core` keeps only the tools marked core."
    )
    return f"{START}\n{note}\n\n{render_table(tools, core)}\n{END}"


def updated_readme(readme: str, block: str) -> str:
    """``readme`` with its tool block replaced (or appended under "## Tools")."""
    if _BLOCK.search(readme):
        return _BLOCK.sub(lambda _: block, readme, count=1)
    return readme.rstrip("\n") + f"\n\n## Tools\n\n{block}\n"


def main(argv: list[str] | None = None) -> int:
    """``python -m server.docs --check|--write [--readme PATH]``."""
    parser = argparse.ArgumentParser(prog="python -m server.docs", description=__doc__)
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--check", action="store_true", help="exit 1 if README is out of date")
    mode.add_argument("--write", action="store_true", help="rewrite the README's tool table")
    parser.add_argument("--readme", type=Path, default=README)
    args = parser.parse_args(argv)
    configure_logging("warning")  # stdout carries the diff; the store's info lines are noise
    tools, core = anyio.run(live_tools)
    current = args.readme.read_text(encoding="utf-8")
    wanted = updated_readme(current, render_block(tools, core))
    if args.write:
        if wanted != current:
            args.readme.write_text(wanted, encoding="utf-8")
        sys.stdout.write(f"{args.readme}: {len(tools)} tools\n")
        return 0
    if wanted == current:
        return 0
    diff = difflib.unified_diff(
        current.splitlines(True), wanted.splitlines(True), "README.md", "live server"
    )
    sys.stdout.writelines(diff)
    sys.stdout.write("README's tool table is out of date: run python -m server.docs --write\n")
    return 1


if __name__ == "__main__":
    sys.exit(main())
