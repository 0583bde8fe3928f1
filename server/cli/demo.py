"""``loopcore demo``: a short real session against ``loopcore serve`` over stdio.

It starts the server as a subprocess on a temporary database, connects with
the official MCP client and walks through what an agent would do: score a
request (when ``intercept`` is available), run a three-task plan with
``verify_output`` and ``plan_record``, and an agent-driven loop. Every call
and what it returned is printed for a person to read.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any, TextIO

import anyio
from mcp import Client, StdioServerParameters

from server.cli.install import server_command

__all__ = ["run_demo"]

GOAL = "Add a slugify(title) helper to utils.py, with tests"
TASKS = [
    {
        "id": "spec",
        "title": "Describe slugify's behaviour",
        "acceptance": {"type": "completeness", "aspects": ["lowercase", "hyphens", "accents"]},
    },
    {
        "id": "code",
        "title": "Write slugify",
        "depends_on": ["spec"],
        "acceptance": {
            "type": "regex",
            "required": [r"def slugify\(", r"return "],
            "forbidden": ["TODO", r"\bpass\b"],
        },
    },
    {
        "id": "tests",
        "title": "Run the tests",
        "depends_on": ["code"],
        "acceptance": {"type": "evidence", "preset": "tests"},
    },
]
DRAFTS = {
    "spec": [
        "slugify turns a title into a URL part.",
        "slugify lowercases the title, replaces runs of spaces and punctuation with single "
        "hyphens, and strips accents (é -> e).",
    ],
    "code": [
        "def slugify(title):\n    pass  # TODO",
        "def slugify(title: str) -> str:\n    text = unidecode(title).lower()\n"
        "    return re.sub(r'[^a-z0-9]+', '-', text).strip('-')",
    ],
    "tests": [
        "FAILED tests/test_utils.py::test_accents - AssertionError\n1 failed, 3 passed in 0.02s",
        "tests/test_utils.py ....\n4 passed in 0.02s",
    ],
}
SUMMARY_SPEC = {
    "type": "composite",
    "parts": [
        {"spec": {"type": "length", "min_words": 8, "max_words": 25}},
        {"spec": {"type": "regex", "required": ["slugify"]}},
    ],
    "pass": "all",
}


class _Printer:
    """Writes each call and a readable digest of its result."""

    def __init__(self, out: TextIO) -> None:
        self.out = out

    def section(self, title: str) -> None:
        self.out.write(f"\n=== {title} ===\n")

    def call(
        self, tool: str, args: dict[str, Any], result: dict[str, Any], keys: list[str]
    ) -> None:
        shown = {k: (v if len(json.dumps(v)) <= 60 else "...") for k, v in args.items()}
        self.out.write(f"\n> {tool}({json.dumps(shown, ensure_ascii=False)[1:-1]})\n")
        for key in keys:
            if key in result and result[key] not in (None, [], {}, ""):
                self.out.write(f"    {key}: {_fmt(result[key])}\n")

    def note(self, text: str) -> None:
        self.out.write(f"  {text}\n")


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.2f}"
    if isinstance(value, str):
        return value if len(value) <= 160 else value[:157] + "..."
    if isinstance(value, list) and value and isinstance(value[0], float):
        return "[" + ", ".join(f"{v:.2f}" for v in value) + "]"
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 160 else text[:157] + "..."


async def _call(client: Client, tool: str, args: dict[str, Any]) -> dict[str, Any]:
    result = await client.call_tool(tool, args)
    if result.is_error:
        text = " ".join(getattr(c, "text", "") for c in result.content)
        raise RuntimeError(f"{tool} failed: {text}")
    return dict(result.structured_content or {})


async def _intercept(client: Client, names: set[str], p: _Printer) -> None:
    p.section("1. Score the request before acting (intercept)")
    if "intercept" not in names:
        p.note("intercept is not in this server's tool list yet; skipping this step.")
        return
    args = {"prompt": f"{GOAL}. It should lowercase, use hyphens and strip accents."}
    res = await _call(client, "intercept", args)
    p.call("intercept", args, res, ["score", "grade", "route", "questions"])


async def _plan(client: Client, p: _Printer) -> str:
    p.section("2. A scored three-task plan")
    args = {"goal": GOAL, "tasks": TASKS}
    plan = await _call(client, "plan_create", args)
    p.call("plan_create", args, plan, ["plan_id", "ready", "threshold"])
    plan_id = str(plan["plan_id"])
    while True:
        nxt = await _call(client, "plan_next_task", {"plan_id": plan_id})
        p.call("plan_next_task", {"plan_id": plan_id}, nxt, ["kind", "reason"])
        if nxt["kind"] != "task":
            return plan_id
        task_id = nxt["task"]["id"]
        p.note(f"working on {task_id!r}: {nxt['task']['title']}")
        first, final = DRAFTS[task_id]
        ids = {"plan_id": plan_id, "task_id": task_id}
        check = await _call(client, "verify_output", {"output": first, **ids})
        p.call(
            "verify_output", {"output": first, **ids}, check, ["score", "passed", "deficiencies"]
        )
        p.note("checking records nothing: fixing what verify_output reported, checking again")
        again = await _call(client, "verify_output", {"output": final, **ids})
        p.call("verify_output", {"output": final, **ids}, again, ["score", "passed"])
        rec = await _call(client, "plan_record", {"output": final, **ids})
        p.call(
            "plan_record", {"output": final, **ids}, rec, ["confidence", "needs_replan", "changes"]
        )


async def _loop(client: Client, p: _Printer) -> None:
    p.section("3. An agent-driven refinement loop")
    args = {"goal": "Summarise the change in one sentence", "evaluator": SUMMARY_SPEC}
    start = await _call(client, "loop_start", args)
    p.call("loop_start", args, start, ["loop_id", "config"])
    attempts = [
        "Added a helper.",
        "Added slugify(), which turns any title into a lowercase, hyphenated, accent-free "
        "URL slug, with tests.",
    ]
    for output in attempts:
        step_args = {"loop_id": start["loop_id"], "output": output}
        step = await _call(client, "loop_step", step_args)
        p.call("loop_step", step_args, step, ["score", "decision", "feedback", "exit_reason"])
        if step["decision"] == "stop":
            break
    end = await _call(client, "loop_end", {"loop_id": start["loop_id"]})
    p.call("loop_end", {"loop_id": start["loop_id"]}, end, ["scores", "converged", "best_output"])


async def _session(params: StdioServerParameters, p: _Printer) -> None:
    async with Client(params) as client:
        names = {t.name for t in (await client.list_tools()).tools}
        p.note(f"connected; {len(names)} tools: {', '.join(sorted(names))}")
        await _intercept(client, names, p)
        plan_id = await _plan(client, p)
        await _loop(client, p)
        p.section("4. Where the plan ended up")
        status = await _call(client, "plan_status", {"plan_id": plan_id})
        p.call("plan_status", {"plan_id": plan_id}, status, ["status", "confidence", "counts"])


def run_demo(out: TextIO) -> int:
    """Run the demo session, printing to ``out``; 0 when every step worked."""
    with tempfile.TemporaryDirectory(prefix="loopcore-demo-") as tmp:
        db = Path(tmp) / "demo.db"
        keep = ("PATH", "HOME", "SYSTEMROOT", "PYTHONPATH")  # PYTHONPATH: run these sources
        env = {k: v for k, v in os.environ.items() if k in keep}
        env |= {"LOOPCORE_DB": str(db), "LOOPCORE_PROJECT": "demo", "LOOPCORE_LOG_LEVEL": "warning"}
        command = server_command()
        params = StdioServerParameters(
            command=command[0], args=[*command[1:], "serve"], env=env, cwd=tmp
        )
        printer = _Printer(out)
        out.write(f"loopcore demo: starting `{' '.join([*command, 'serve'])}` on {db}\n")
        anyio.run(_session, params, printer)
        out.write("\nDone. Register the server in your editor with `loopcore install <host>`.\n")
    return 0
