"""Cold start, peak memory and tools/list size of loopcore next to the SDK's floor.

Issue 7, part 3. Each run spawns the server with the official client, connects
(``initialize`` with ``--modes legacy``; ``server/discover`` with ``auto``, the
client's default against a 2026-era server), lists the tools and stops the
clock; the server's peak RSS (``VmHWM`` of /proc/<pid>/status) is read just
before the client closes it. loopcore and the floor alternate run by run, after
one untimed warm-up each (which also creates and migrates loopcore's database
in a temporary directory, so timed runs are a restart on an existing database,
as a host restarting its server sees).

    .venv/bin/python bench/coldstart.py [--runs 5] [--modes legacy,auto] [--quick]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import anyio
from _common import (
    cpu_seconds,
    floor_params,
    loopcore_params,
    machine_line,
    now,
    open_stdio,
    p50_p95,
    peak_rss_bytes,
    print_command,
    print_table,
    tools_list_bytes,
    verdict,
)
from mcp import StdioServerParameters

START_RATIO = 1.1  # issue 14, part 8 (issue 7 asked for 1.2)
RSS_RATIO = 1.2
LIST_LIMITS = {"all": 20_000, "core": 8_000}
MIB = 1024 * 1024
NAMES = ("floor", "loopcore", "loopcore, LOOPCORE_TOOLS=core")


@dataclass(frozen=True)
class Start:
    """One cold start: wall and server CPU seconds to the tools/list answer, peak RSS, list."""

    wall: float
    cpu: float
    rss: int
    list_bytes: int
    tools: int


async def one_start(params: StdioServerParameters, errlog: TextIO, mode: str) -> Start:
    """Spawn, connect, list the tools; read the server's CPU time and peak RSS before closing."""
    t0 = now()
    async with open_stdio(params, errlog, mode) as server:
        listed = await server.client.list_tools()
        elapsed = now() - t0
        cpu, rss = cpu_seconds(server.pid), peak_rss_bytes(server.pid)
    return Start(elapsed, cpu, rss, tools_list_bytes(listed), len(listed.tools))


Samples = dict[str, list[Start]]


async def measure(tmp: Path, runs: int, modes: Sequence[str], errlog: TextIO) -> Samples:
    """Alternate floor, loopcore (all) and loopcore (core) ``runs`` times per mode."""
    servers = {
        "floor": floor_params(),
        "loopcore": loopcore_params(tmp / "loopcore.db", "all"),
        "loopcore, LOOPCORE_TOOLS=core": loopcore_params(tmp / "loopcore.db", "core"),
    }
    samples: Samples = defaultdict(list)
    for mode in modes:
        for params in servers.values():
            await one_start(params, errlog, mode)  # warm-up: page cache, .pyc files, the database
        for _ in range(runs):
            for name, params in servers.items():
                samples[f"{name} ({mode})"].append(await one_start(params, errlog, mode))
    return samples


def start_rows(samples: Samples, modes: Sequence[str]) -> list[list[object]]:
    """Spawn-to-tools/list wall time (and server CPU time) per server and mode, vs the floor."""
    rows: list[list[object]] = []
    for mode in modes:
        floor = samples[f"floor ({mode})"]
        floor_wall = p50_p95([s.wall for s in floor])[0]
        floor_cpu = p50_p95([s.cpu for s in floor])[0]
        for name in NAMES:
            runs = samples[f"{name} ({mode})"]
            p50, p95 = p50_p95([s.wall for s in runs])
            cpu = p50_p95([s.cpu for s in runs])[0]
            ratio = p50 / floor_wall
            if name == "floor":
                target, result = "floor", "—"
            else:
                target, result = f"<= {START_RATIO}x floor", verdict(ratio <= START_RATIO)
            rows.append(
                [
                    name,
                    mode,
                    len(runs),
                    f"{p50:.3f}",
                    f"{p95:.3f}",
                    f"{ratio:.2f}x",
                    f"{cpu:.2f}",
                    f"{cpu / floor_cpu:.2f}x",
                    target,
                    result,
                ]
            )
    return rows


def rss_rows(samples: Samples, modes: Sequence[str]) -> list[list[object]]:
    """Peak RSS per server (all modes pooled), with the ratio to the floor."""
    pooled: dict[str, list[float]] = defaultdict(list)
    for key, runs in samples.items():
        pooled[key.rsplit(" (", 1)[0]].extend(s.rss / MIB for s in runs)
    floor = p50_p95(pooled["floor"])[0]
    rows: list[list[object]] = []
    for name, xs in pooled.items():
        p50, p95 = p50_p95(xs)
        ratio = p50 / floor
        target, result = (
            ("floor", "—")
            if name == "floor"
            else (f"<= {RSS_RATIO}x floor", verdict(ratio <= RSS_RATIO))
        )
        rows.append([name, len(xs), f"{p50:.1f}", f"{p95:.1f}", f"{ratio:.2f}x", target, result])
    return rows


def list_rows(samples: Samples, modes: Sequence[str]) -> list[list[object]]:
    """Size of the tools array of tools/list for LOOPCORE_TOOLS=all and core (and the floor)."""
    mode = modes[0]
    rows: list[list[object]] = []
    for name, limit in (
        ("floor", None),
        ("loopcore", LIST_LIMITS["all"]),
        ("loopcore, LOOPCORE_TOOLS=core", LIST_LIMITS["core"]),
    ):
        last = samples[f"{name} ({mode})"][-1]
        size, count = last.list_bytes, last.tools
        if limit is None:
            rows.append([name, count, f"{size:,}", "—", "—"])
        else:
            rows.append([name, count, f"{size:,}", f"<= {limit:,}", verdict(size <= limit)])
    return rows


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Command-line options (``--quick``: one run, one mode, for the smoke test)."""
    p = argparse.ArgumentParser(description="Cold start, peak RSS and tools/list size.")
    p.add_argument("--runs", type=int, default=5, help="timed starts per server and mode (5)")
    p.add_argument("--modes", default="legacy,auto", help="client modes, comma-separated")
    p.add_argument("--quick", action="store_true", help="one run, legacy mode only")
    args = p.parse_args(argv)
    args.modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    if args.quick:
        args.runs, args.modes = 1, args.modes[:1]
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Print the command, the machine and the three tables; exit 0."""
    args = parse_args(argv)
    print_command()
    print(machine_line())
    with (
        tempfile.TemporaryDirectory(prefix="loopcore-cold-") as tmp,
        open(Path(tmp) / "servers.log", "w", encoding="utf-8") as errlog,
    ):
        samples = anyio.run(measure, Path(tmp), args.runs, args.modes, errlog)
    print_table(
        "Cold start: spawn -> connect -> tools/list (seconds)",
        [
            "server",
            "client mode",
            "runs",
            "median s",
            "p95 s",
            "x floor",
            "server CPU s",
            "CPU x floor",
            "target",
            "result",
        ],
        start_rows(samples, args.modes),
    )
    print_table(
        "Peak RSS of the server process (VmHWM, MiB)",
        ["server", "runs", "median MiB", "p95 MiB", "x floor", "target", "result"],
        rss_rows(samples, args.modes),
    )
    print_table(
        "tools/list size (the tools array as compact JSON)",
        ["server", "tools", "bytes", "target", "result"],
        list_rows(samples, args.modes),
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
