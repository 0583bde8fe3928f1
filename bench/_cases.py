"""The workload of ``bench/latency.py``: the request, the spec, and one timed case per tool.

Each case's ``once()`` makes the calls of one step and returns (row label,
seconds) for every call it timed; set-up calls (a new plan when one is done, a
new loop when one stopped) are made but not timed.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from _common import PROJECT, checked, now
from mcp import Client

from loopcore.ids import new_id
from loopcore.intercept import prompt_hash, score_prompt
from loopcore.store import open_store
from loopcore.store.records import InterceptRecord


@dataclass(frozen=True)
class Clients:
    """The three sessions every case runs on."""

    floor: Client
    loopcore: Client
    loopcore_big: Client  # a database holding ``--history`` intercepts


PROMPT_BYTES = 2048
_REQUEST = (
    "The nightly export job in services/export/runner.py times out on accounts with more than "
    "50,000 invoices. It loads every invoice into memory, renders one CSV row per invoice with "
    "render_row(), and uploads the file to the bucket named in EXPORT_BUCKET. Since the 2.4 "
    "release the job takes 40 minutes instead of 6 and the worker is killed at 30 minutes, so "
    "large customers get no export at all. Change the runner to stream invoices in pages of "
    "1,000 with the existing InvoiceRepository.page() method and write rows to a temporary "
    "file as they come, so memory stays flat. Keep the CSV columns, their order and the "
    "header exactly as they are: downstream importers parse them by position. Add a test in "
    "tests/export/test_runner.py that exports 120,000 synthetic invoices with the fake "
    "repository in tests/fakes.py and asserts that peak memory stays under 200 MB and that "
    "the file has 120,001 lines. Do not add dependencies; Python 3.11 and the standard "
    "library only. The job must still report progress every 10,000 rows through "
    "report_progress(). Acceptance: pytest -q tests/export passes, ruff check is clean, and "
    "running python -m services.export --account demo-large finishes in under 10 minutes on "
    "the staging worker. "
)
PROMPT = (_REQUEST * 3)[:PROMPT_BYTES]
SPEC: dict[str, Any] = {
    "type": "composite",
    "pass": "all",
    "parts": [
        {
            "weight": 1,
            "spec": {
                "type": "regex",
                "required": [r"\"status\"", r"\d+ passed"],
                "forbidden": [r"Traceback", r"\d+ failed"],
            },
        },
        {"weight": 1, "spec": {"type": "length", "min_words": 5, "max_words": 400}},
        {
            "weight": 2,
            "spec": {
                "type": "json_schema",
                "schema": {
                    "type": "object",
                    "required": ["status", "tests"],
                    "properties": {
                        "status": {"enum": ["ok", "failed"]},
                        "tests": {"type": "integer", "minimum": 0},
                        "notes": {"type": "string"},
                    },
                },
            },
        },
    ],
}


def output_text(i: int) -> str:
    """An agent's report for verify_output and loop_step (``i`` makes each one unique)."""
    return (
        f"Streamed the export in pages of 1,000; run {i}: 12 passed in 3.{i % 10}s.\n\n"
        f'```json\n{{"status": "ok", "tests": 12, "notes": "run {i}"}}\n```\n'
    )


class Case(Protocol):
    """One timed operation; ``once`` returns (row label, seconds) for each call it timed."""

    label: str

    async def once(self) -> list[tuple[str, float]]:
        """Make one step's calls; (row label, seconds) for each call timed."""
        ...


class ToolCase:
    """One tool call per ``once``; ``args()`` gives each call's arguments."""

    def __init__(self, label: str, client: Client, tool: str, args: Callable[[], dict[str, Any]]):
        self.label, self.client, self.tool, self.args = label, client, tool, args

    async def once(self) -> list[tuple[str, float]]:
        """One timed tool call."""
        args = self.args()
        t = now()
        result = await self.client.call_tool(self.tool, args)
        elapsed = now() - t
        checked(result, self.tool)
        return [(self.label, elapsed)]


class PlanCase:
    """``plan_next_task`` then ``plan_record`` on plans of ``size`` tasks (a new one when done)."""

    def __init__(self, client: Client, size: int) -> None:
        self.label = f"plan ({size}-task plan)"
        self.client, self.size = client, size
        self.plan_id: str | None = None

    async def _new_plan(self) -> str:
        # Four chains: task i depends on task i-4, so readiness changes as work is recorded.
        tasks = [
            {"id": f"t{i}", "title": f"Task {i}", "depends_on": [f"t{i - 4}"] if i >= 4 else []}
            for i in range(self.size)
        ]
        res = await self.client.call_tool("plan_create", {"goal": "Benchmark plan", "tasks": tasks})
        return str(checked(res, "plan_create")["plan_id"])

    async def once(self) -> list[tuple[str, float]]:
        """Claim a task (a fresh plan when this one is complete), then record a score on it."""
        while True:
            if self.plan_id is None:
                self.plan_id = await self._new_plan()
            t = now()
            res = await self.client.call_tool("plan_next_task", {"plan_id": self.plan_id})
            t_next = now() - t
            nxt = checked(res, "plan_next_task")
            if nxt["kind"] == "task":
                break
            self.plan_id = None  # complete: the next claim goes to a fresh plan (untimed)
        args = {
            "plan_id": self.plan_id,
            "task_id": nxt["task"]["id"],
            "output_score": 0.9,
            "prompt_score": 0.8,
        }
        t = now()
        res = await self.client.call_tool("plan_record", args)
        t_rec = now() - t
        checked(res, "plan_record")
        return [
            (f"plan_next_task ({self.size}-task plan)", t_next),
            (f"plan_record ({self.size}-task plan)", t_rec),
        ]


class LoopCase:
    """``loop_step`` on an open loop; a stopped loop is ended and a new one started (untimed)."""

    label = "loop_step"

    def __init__(self, client: Client) -> None:
        self.client = client
        self.loop_id: str | None = None
        self.i = 0

    async def once(self) -> list[tuple[str, float]]:
        """One timed loop_step (an untimed loop_start first when no loop is open)."""
        if self.loop_id is None:
            res = await self.client.call_tool(
                "loop_start", {"goal": "Stream the export job", "evaluator": SPEC}
            )
            self.loop_id = str(checked(res, "loop_start")["loop_id"])
        self.i += 1
        t = now()
        res = await self.client.call_tool(
            "loop_step", {"loop_id": self.loop_id, "output": output_text(self.i)}
        )
        elapsed = now() - t
        if checked(res, "loop_step")["decision"] == "stop":
            checked(await self.client.call_tool("loop_end", {"loop_id": self.loop_id}), "loop_end")
            self.loop_id = None
        return [("loop_step", elapsed)]


def _counter() -> Callable[[], int]:
    n = itertools.count(1)
    return lambda: next(n)


def echo_case(client: Client) -> ToolCase:
    """The floor's trivial tool."""
    return ToolCase("echo (floor)", client, "echo", lambda: {"text": "ping"})


def intercept_case(client: Client, stored: int) -> ToolCase:
    """intercept on the 2 KB request (numbered, so no two prompts are identical)."""
    nxt = _counter()
    return ToolCase(
        f"intercept ({stored:,} stored)",
        client,
        "intercept",
        lambda: {"prompt": f"{PROMPT} #{nxt()}"},
    )


def verify_case(client: Client) -> ToolCase:
    """verify_output with the composite spec."""
    nxt = _counter()
    return ToolCase(
        "verify_output (composite)",
        client,
        "verify_output",
        lambda: {"output": output_text(nxt()), "evaluator": SPEC},
    )


def all_cases(clients: Clients, history: int) -> list[Case]:
    """Every latency case of one transport, the floor first."""
    lc = clients.loopcore
    return [
        echo_case(clients.floor),
        intercept_case(lc, 10),
        intercept_case(clients.loopcore_big, history),
        verify_case(lc),
        PlanCase(lc, 10),
        PlanCase(lc, 500),
        LoopCase(lc),
    ]


def populate_history(db: Path, count: int) -> None:
    """Store ``count`` intercepts of project ``bench`` in ``db`` through the store API.

    One transaction of the same ``insert_intercept`` rows the intercept tool writes
    (scores taken from scoring ``PROMPT`` once), so 10,000 take a second, not minutes.
    """
    score = score_prompt(PROMPT)
    store, _ = open_store(db)
    try:
        with store.write() as tx:
            for i in range(count):
                tx.insert_intercept(
                    InterceptRecord(
                        id=new_id("ih_"),
                        project=PROJECT,
                        prompt_hash=prompt_hash(f"{PROMPT} #{i}"),
                        score=score.score,
                        grade=score.grade,
                        dimensions=dict(score.dimensions),
                        route=score.route,
                        created_at=float(i),
                    )
                )
    finally:
        store.close()
