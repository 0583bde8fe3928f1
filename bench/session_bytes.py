"""Bytes an agent reads in a typical session: the README's workflow, call by call.

The session (in process, official client, a fresh database): plan_create with two
tasks that carry acceptance specs; for each task plan_next_task, verify_output of
a draft, verify_output of the fix, plan_record; plan_status (verbose), plan_list;
then a loop: loop_start, two loop_step, loop_end. Each row is the size of the
tools/call result as compact wire JSON (structured content and its text copy).

Run from the repository root: ``python bench/session_bytes.py``. To compare with
another checkout: ``PYTHONPATH=<checkout> python bench/session_bytes.py``.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path
from typing import Any

import anyio
from _common import checked, in_process, print_command, print_table
from mcp import Client
from mcp.types import CallToolResult

from server.app import build_server
from server.logs import configure_logging
from server.settings import Settings

SPEC_CODE = {"type": "regex", "required": [r"def slugify\("], "forbidden": ["TODO"]}
SPEC_JSON = {"type": "json_schema", "schema": {"type": "object", "required": ["slug"]}}
TASKS = [
    {
        "id": "code",
        "title": "Write slugify()",
        "description": "lowercase, hyphens",
        "acceptance": SPEC_CODE,
    },
    {"id": "api", "title": "Answer as JSON", "depends_on": ["code"], "acceptance": SPEC_JSON},
]
DRAFTS = {
    "code": ("# TODO slug", "def slugify(title):\n    return title.lower().replace(' ', '-')"),
    # Fenced, so the same session also runs on versions that JSON-decoded bare JSON text.
    "api": ('```json\n{"name": "x"}\n```', '```json\n{"slug": "hello-world"}\n```'),
}
LOOP_SPEC = {"type": "length", "min_words": 8}


def _bytes(result: CallToolResult) -> int:
    wire = result.model_dump(by_alias=True, exclude_none=True, mode="json")
    return len(json.dumps(wire, separators=(",", ":"), ensure_ascii=False).encode())


class _Session:
    def __init__(self, client: Client) -> None:
        self.client = client
        self.rows: list[tuple[str, int]] = []

    async def call(self, tool: str, args: dict[str, Any]) -> dict[str, Any]:
        result = await self.client.call_tool(tool, args)
        self.rows.append((tool, _bytes(result)))
        return checked(result, tool)


async def _plan(s: _Session) -> None:
    plan = await s.call("plan_create", {"goal": "Slugs for the blog", "tasks": TASKS})
    plan_id = plan["plan_id"]
    while (nxt := await s.call("plan_next_task", {"plan_id": plan_id}))["kind"] == "task":
        ids = {"plan_id": plan_id, "task_id": nxt["task"]["id"]}
        draft, fixed = DRAFTS[ids["task_id"]]
        await s.call("verify_output", {**ids, "output": draft})
        await s.call("verify_output", {**ids, "output": fixed})
        await s.call("plan_record", {**ids, "output": fixed})
    await s.call("plan_status", {"plan_id": plan_id, "verbose": True})
    await s.call("plan_list", {})


async def _loop(s: _Session) -> None:
    start = await s.call("loop_start", {"goal": "Summarise the change", "evaluator": LOOP_SPEC})
    for output in (
        "Added a helper.",
        "Added slugify(), which turns titles into URL slugs, with tests.",
    ):
        step = await s.call("loop_step", {"loop_id": start["loop_id"], "output": output})
        if step["decision"] == "stop":
            break
    await s.call("loop_end", {"loop_id": start["loop_id"]})


async def _run() -> list[tuple[str, int]]:
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(db=Path(tmp) / "bench.db", project="bench")
        async with in_process(build_server(settings)) as client:
            session = _Session(client)
            await _plan(session)
            await _loop(session)
    return session.rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="the same session (it is small)")
    parser.parse_args()
    configure_logging("warning")  # the in-process server: keep its logs off the table
    print_command()
    rows = anyio.run(_run)
    totals: dict[str, list[int]] = {}
    for tool, size in rows:
        totals.setdefault(tool, []).append(size)
    table: list[tuple[str, int, int, int | str]] = [
        (tool, len(sizes), sum(sizes), sum(sizes) // len(sizes)) for tool, sizes in totals.items()
    ]
    table.append(("**session**", len(rows), sum(s for _, s in rows), ""))
    print_table(
        "Bytes of tools/call results in one session", ["tool", "calls", "bytes", "per call"], table
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
