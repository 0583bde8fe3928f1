"""Cheap-call latency with N slow evaluations in flight, as a ratio to idle (issue 16, part 3).

One ``loopcore serve`` over stdio (spawned by the official client, as a host does) on a
fresh database, its project a temporary directory holding ``slow.py``: a program that
runs until ``--slow-s`` seconds pass or the benchmark creates ``go``. For each N, the
client starts N ``verify_output`` calls with a ``command`` spec running ``slow.py`` (the
allowlist names this interpreter), waits until the first of them run, then times
``--calls`` ``plan_status`` calls one after another while all N are still in flight;
then it lets them finish. The floor (``bench/floor_server.py``'s ``echo``, idle) is
measured in the same run.

    .venv/bin/python bench/starvation.py [--inflight 0,10,45] [--calls 50] [--slow-s 15] [--quick]

To measure another checkout (e.g. the code before the fix):
``PYTHONPATH=<checkout> python bench/starvation.py``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import anyio
from _common import (
    LOOPCORE_BIN,
    checked,
    floor_params,
    machine_line,
    ms,
    now,
    open_stdio,
    p50_p95,
    print_command,
    print_table,
    server_env,
    verdict,
)
from mcp import Client, StdioServerParameters

TARGET_S = 0.100  # a cheap call answers in under 100 ms with the slow ones in flight
SLOW = """\
import os, pathlib, sys, time
pathlib.Path("started", str(os.getpid())).touch()
end = time.monotonic() + float(sys.argv[1])
while time.monotonic() < end and not pathlib.Path("go").exists():
    time.sleep(0.05)
print("1 passed")
"""


def loopcore_params(tmp: Path) -> StdioServerParameters:
    """``loopcore serve`` with a project whose ``slow.py`` the allowlist lets run."""
    project = tmp / "project"
    (project / "started").mkdir(parents=True)
    (project / "slow.py").write_text(SLOW)
    env = server_env(tmp / "loopcore.db")
    env |= {"LOOPCORE_PROJECT": str(project), "LOOPCORE_ALLOW_COMMANDS": sys.executable}
    return StdioServerParameters(command=LOOPCORE_BIN, args=["serve"], env=env)


async def timed(client: Client, tool: str, args: dict[str, Any], calls: int) -> list[float]:
    """``calls`` serial calls of ``tool``; each one's round trip in seconds."""
    samples = []
    for _ in range(calls):
        start = now()
        checked(await client.call_tool(tool, args), tool)
        samples.append(now() - start)
    return samples


async def under_load(
    client: Client, project: Path, plan_id: str, inflight: int, calls: int, slow_s: float
) -> list[float]:
    """plan_status timings while ``inflight`` slow evaluations are in flight."""
    started, go = project / "started", project / "go"
    for marker in started.iterdir():
        marker.unlink()
    go.unlink(missing_ok=True)
    spec = {"type": "command", "run": [sys.executable, "slow.py", str(slow_s)]}

    async def slow() -> None:
        checked(await client.call_tool("verify_output", {"evaluator": spec}), "verify_output")

    async with anyio.create_task_group() as tg:
        for _ in range(inflight):
            tg.start_soon(slow)
        # Every call is sent once the first ones run (4 at least: a session's share).
        while len(list(started.iterdir())) < min(inflight, 4):
            await anyio.sleep(0.01)
        await anyio.sleep(0.2)
        samples = await timed(client, "plan_status", {"plan_id": plan_id}, calls)
        go.touch()
    return samples


async def measure(
    tmp: Path, inflights: Sequence[int], calls: int, slow_s: float, errlog: Any
) -> tuple[list[float], dict[int, list[float]]]:
    """The floor's idle echo, and plan_status per number of slow evaluations in flight."""
    async with open_stdio(floor_params(), errlog) as floor:
        floor_samples = await timed(floor.client, "echo", {"text": "x"}, calls)
    params = loopcore_params(tmp)
    project = Path(params.env["LOOPCORE_PROJECT"]) if params.env else tmp
    rows: dict[int, list[float]] = {}
    async with open_stdio(params, errlog) as server:
        tasks = [{"id": "t", "title": "t"}]
        plan = checked(
            await server.client.call_tool("plan_create", {"goal": "g", "tasks": tasks}),
            "plan_create",
        )
        await timed(server.client, "plan_status", {"plan_id": plan["plan_id"]}, 5)  # warm-up
        for n in inflights:
            rows[n] = await under_load(server.client, project, plan["plan_id"], n, calls, slow_s)
    return floor_samples, rows


def report(floor: list[float], rows: dict[int, list[float]], slow_s: float) -> None:
    """Print the table: p50/p95/max per N, as ratios to idle and to the floor; every call of a
    row must answer under 100 ms (max: a starved call is one call, which p95 would hide)."""
    floor_p50, floor_p95 = p50_p95(floor)
    idle_p50 = p50_p95(rows[min(rows)])[0]
    table = [
        ["echo (floor), idle", 0, len(floor), ms(floor_p50), ms(floor_p95), ms(max(floor)),
         "", "1.0", "", ""]
    ]  # fmt: skip
    for n, samples in sorted(rows.items()):
        p50, p95 = p50_p95(samples)
        table.append(
            [
                "plan_status",
                n,
                len(samples),
                ms(p50),
                ms(p95),
                ms(max(samples)),
                f"{p50 / idle_p50:.1f}",
                f"{p50 / floor_p50:.1f}",
                "< 100 ms (max)",
                verdict(max(samples) < TARGET_S),
            ]
        )
    headers = ["call", "slow in flight", "calls", "p50 ms", "p95 ms", "max ms", "x idle p50",
               "x floor p50", "target", "result"]  # fmt: skip
    print_table(f"Cheap call with N slow evaluations in flight ({slow_s:g} s each)", headers, table)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The command line."""
    p = argparse.ArgumentParser(description="Cheap-call latency with slow evaluations in flight.")
    p.add_argument("--inflight", default="0,10,45", help="slow evaluations in flight (0,10,45)")
    p.add_argument("--calls", type=int, default=50, help="timed plan_status calls per row (50)")
    p.add_argument("--slow-s", type=float, default=15.0, help="how long each slow one runs (15)")
    p.add_argument("--quick", action="store_true", help="0 and 6 in flight, 5 calls, 3 s")
    args = p.parse_args(argv)
    if args.quick:
        args.inflight, args.calls, args.slow_s = "0,6", 5, 3.0
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark and print its table."""
    args = parse_args(argv)
    inflights = sorted({0, *(int(n) for n in args.inflight.split(","))})
    print_command()
    print(machine_line())
    with tempfile.TemporaryDirectory() as tmp, (Path(tmp) / "server.log").open("w") as errlog:
        floor, rows = anyio.run(measure, Path(tmp), inflights, args.calls, args.slow_s, errlog)
    report(floor, rows, args.slow_s)
    return 0


if __name__ == "__main__":
    sys.exit(main())
