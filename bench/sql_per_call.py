"""SQL statements per tool call: how much store work one call of each hot tool costs.

The real server runs in process (``build_server`` and the official ``Client``) on a
store this script opens itself, with ``sqlite3``'s ``set_trace_callback`` on every
connection the store opens (one per thread), so every statement SQLite runs is
counted: ``BEGIN``/``COMMIT`` and savepoints included, from any thread. Statements
a call leaves to run after its answer (a write queued for a background writer) are
counted with it: the script waits for the store to go quiet before it reads the
count. The plan rows run twice: with a client that declares no elicitation (plan_record
then asks nobody and takes its resolver-free twin) and with one that can be asked (its
questions are first decided from a read of the task). Run it on another checkout with
``PYTHONPATH=<checkout>``.

    python bench/sql_per_call.py [--calls 20] [--show]
"""

from __future__ import annotations

import argparse
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
from _common import checked, in_process, machine_line, print_command, print_table
from mcp import Client

from loopcore.clock import system_clock
from loopcore.store import open_store
from server.app import build_server
from server.settings import Settings

SPEC = {"type": "length", "min_words": 3}
TASKS: list[dict[str, Any]] = [
    {"id": f"t{i}", "title": f"task {i}", "acceptance": SPEC} for i in range(40)
]
PROMPT = (
    "Add a --json flag to `loopcore plans list` that prints the plans as a JSON array; keep "
    "the table output as the default. Done when tests/server/cli pass and the README says it."
)


class Tracer:
    """Counts the statements run on every traced connection, by their first word."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.count = 0
        self.kinds: Counter[str] = Counter()
        self.last = time.monotonic()
        self.statements: list[str] = []
        self.shown: list[str] = []  # the statements of the last measured call

    def __call__(self, sql: str) -> None:
        with self._lock:
            self.count += 1
            self.kinds[sql.split(None, 1)[0].upper() if sql.strip() else "?"] += 1
            self.statements.append(" ".join(sql.split()))
            self.last = time.monotonic()

    def take(self) -> int:
        with self._lock:
            n, self.count = self.count, 0
            self.statements = []
            return n

    async def quiet(self, idle_s: float = 0.02) -> None:
        """Wait until no statement has run for ``idle_s`` (a queued write has landed)."""
        while time.monotonic() - self.last < idle_s:
            await anyio.sleep(idle_s)


def traced_store(db: Path, tracer: Tracer) -> Any:
    """The store on ``db``, every connection (open or opened later) traced."""
    store, _ = open_store(db, system_clock)
    opener = store._open

    def traced_open(*args: Any) -> sqlite3.Connection:  # (busy_ms) on newer checkouts
        conn: sqlite3.Connection = opener(*args)
        conn.set_trace_callback(tracer)
        return conn

    setattr(store, "_open", traced_open)  # noqa: B010 - a bench patches the store's opener
    for conn in list(store._conns):
        conn.set_trace_callback(tracer)
    return store


async def _new_plan(client: Client) -> tuple[str, list[str]]:
    plan = checked(await client.call_tool("plan_create", {"goal": "ship", "tasks": TASKS}), "")
    return str(plan["plan_id"]), [str(t["id"]) for t in TASKS]


async def measure(
    tracer: Tracer,
    calls: int,
    call: Callable[[int], Awaitable[None]],
    settle: Callable[[], object] = lambda: None,
) -> list[int]:
    """Statements of each of ``calls`` calls (set-up inside ``call`` is not counted);
    ``settle`` waits for writes a call queued behind its answer."""
    counts = []
    for i in range(calls):
        await call(i)
        await anyio.to_thread.run_sync(settle)
        await tracer.quiet()
        tracer.shown = list(tracer.statements)
        counts.append(tracer.take())
    return counts


async def run(calls: int, show: bool = False) -> list[list[object]]:
    tracer = Tracer()
    with tempfile.TemporaryDirectory() as tmp:
        store = traced_store(Path(tmp) / "bench.db", tracer)
        settings = Settings(db=Path(tmp) / "bench.db", project="bench")
        try:
            server = build_server(settings, store=store)
            async with in_process(server) as client:
                # The project's services write intercepts behind the answer (flush() waits
                # for them); a checkout that does not writes them before answering.
                history = server.deps.services().history
                settle = getattr(history, "flush", lambda: None)
                rows = await _cases(client, tracer, calls, settle, show)
            # A host that can be asked (form elicitation): plan_record's questions are
            # decided from a read of the task first (nobody is asked: no task needs it).
            async with Client(server, cache=None, elicitation_callback=_never) as client:
                rows += await _record_cases(client, tracer, calls, show, " (host can be asked)")
            return rows
        finally:
            store.close()


def _show(label: str, statements: list[str]) -> None:
    print(f"\n{label}, the last call's statements:", file=sys.stderr)
    for sql in statements:
        print(f"  {sql[:160]}", file=sys.stderr)


async def _never(context: Any, params: Any) -> Any:
    raise RuntimeError(f"the server asked a question: {params}")


def _row(label: str, counts: list[int], tracer: Tracer, show: bool) -> list[object]:
    if show:
        _show(label, tracer.shown)
    return [label, len(counts), statistics.median(counts), min(counts), max(counts)]


async def _record_cases(
    client: Client, tracer: Tracer, calls: int, show: bool, host: str
) -> list[list[object]]:
    """plan_next_task, then plan_record with a score and with an output, on a new plan."""
    plan_id, _ = await _new_plan(client)
    claimed: list[str] = []

    async def next_task(_: int) -> None:
        res = checked(await client.call_tool("plan_next_task", {"plan_id": plan_id}), "next")
        if res.get("kind") != "task":
            raise RuntimeError(f"plan_next_task: {res}")
        claimed.append(str(res["task"]["id"]))

    async def record(args: dict[str, Any]) -> None:
        args = {"plan_id": plan_id, "task_id": claimed.pop(0), **args}
        checked(await client.call_tool("plan_record", args), "plan_record")

    async def record_score(_: int) -> None:
        await record({"output_score": 0.9})

    async def record_output(i: int) -> None:
        await record({"output": f"the output of task number {i}, done"})

    return [
        _row(f"plan_next_task{host}", await measure(tracer, calls, next_task), tracer, show),
        _row(
            f"plan_record (output_score){host}",
            await measure(tracer, calls // 2, record_score),
            tracer,
            show,
        ),
        _row(
            f"plan_record (output, scored by acceptance){host}",
            await measure(tracer, calls // 2, record_output),
            tracer,
            show,
        ),
    ]


async def _cases(
    client: Client, tracer: Tracer, calls: int, settle: Callable[[], object], show: bool
) -> list[list[object]]:
    async def tool(name: str, args: dict[str, Any]) -> dict[str, Any]:
        return checked(await client.call_tool(name, args), name)

    rows = await _record_cases(client, tracer, calls, show, "")
    loop: dict[str, Any] = {}

    goal = {"goal": "write it", "evaluator": SPEC, "max_iterations": 100, "quality_threshold": 1}

    async def loop_step(i: int) -> None:
        if loop.get("stopped", True):  # a new loop when the last one stopped: set-up, not counted
            loop["id"] = (await tool("loop_start", goal))["loop_id"]
            await tracer.quiet()
            tracer.take()
        res = await tool("loop_step", {"loop_id": loop["id"], "output": f"attempt {i} " * (i + 3)})
        loop["stopped"] = res["decision"] == "stop"

    async def verify(i: int) -> None:
        await tool("verify_output", {"output": f"output number {i}", "evaluator": SPEC})

    async def intercept(i: int) -> None:
        await tool("intercept", {"prompt": f"{PROMPT} ({i})"})

    def row(label: str, counts: list[int]) -> None:
        rows.append(_row(label, counts, tracer, show))

    row("loop_step", await measure(tracer, calls, loop_step))
    row("verify_output (no plan)", await measure(tracer, calls, verify))
    row("intercept", await measure(tracer, calls, intercept, settle))
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=20)
    parser.add_argument("--quick", action="store_true", help="4 calls per tool")
    parser.add_argument(
        "--show", action="store_true", help="print each row's last call's statements on stderr"
    )
    args = parser.parse_args(argv)
    calls = 4 if args.quick else args.calls
    print_command()
    print(machine_line())
    print(f"sqlite {sqlite3.sqlite_version}; loopcore from {sys.modules['server'].__file__}")
    rows = anyio.run(run, calls, args.show)
    print_table(
        "SQL statements per call (in process, every connection traced)",
        ["tool call", "calls", "median", "min", "max"],
        rows,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
