"""Tool latency and throughput of loopcore next to the SDK's floor, over stdio and in process.

What it measures (issue 7, part 2), each over ``--calls`` calls:

- p50 / p95 round trip of ``intercept`` (a 2 KB prompt) with 10 and with
  ``--history`` (10,000) intercepts already stored, ``verify_output`` (a
  composite spec: regex + length + json_schema), ``plan_next_task`` and
  ``plan_record`` on plans of 10 and of 500 tasks, ``loop_step``, and the
  floor's ``echo`` (``bench/floor_server.py``);
- serial and concurrent (``--inflight`` calls in flight on one session)
  throughput of one session, in ``--rounds`` rounds that alternate the two modes
  (the median rate is shown, and the concurrent rate over the serial one: target
  at least 1.0x, issue 14 part 8).

Over stdio each server is ``loopcore serve`` (or ``python bench/floor_server.py``)
spawned by the official client, on a fresh database in a temporary directory;
in process it is ``Client(build_server(settings))``. All cases run
round-robin in blocks of ``--block`` calls, so load from other processes on
the machine falls on every row alike. The history is pre-populated through
the store API (the same ``insert_intercept`` row the intercept tool writes).

Targets (stdio rows): p50 at most 1.6x the floor's echo p50 for intercept and
1.4x for plan_record (issue 14 part 8), 1.5x for the others (issue 7). "Flat"
means the p50 at the large size (history or plan) is within 1.25x of the p50 at
the small size. In-process rows show the server's own overhead over the floor,
for information.

    .venv/bin/python bench/latency.py [--calls 200] [--history 10000] [--quick]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any, TextIO

import anyio
from _cases import (
    Case,
    Clients,
    all_cases,
    echo_case,
    intercept_case,
    populate_history,
    verify_case,
)
from _common import (
    PROJECT,
    floor_params,
    in_process,
    loopcore_params,
    machine_line,
    ms,
    now,
    open_stdio,
    p50_p95,
    print_command,
    print_table,
    verdict,
)
from floor_server import build_floor

from server.app import build_server
from server.logs import configure_logging
from server.settings import Settings

FLAT_RATIO = 1.25  # "flat": p50 at the large size within 25 % of the small size's


async def run_round_robin(
    cases: Sequence[Case], calls: int, block: int, warmup: int
) -> dict[str, list[float]]:
    """Run every case ``calls`` times, in blocks, round-robin; samples per row label."""
    for case in cases:
        for _ in range(warmup):
            await case.once()
    samples: dict[str, list[float]] = defaultdict(list)
    done = 0
    while done < calls:
        n = min(block, calls - done)
        for case in cases:
            for _ in range(n):
                for label, seconds in await case.once():
                    samples[label].append(seconds)
        done += n
    return samples


async def throughput(
    fn: Callable[[], Awaitable[Any]], total: int, inflight: int
) -> tuple[float, list[float]]:
    """Wall time of ``total`` calls with at most ``inflight`` in flight, and each call's time."""
    limiter = anyio.CapacityLimiter(inflight)
    lat: list[float] = []

    async def one() -> None:
        """One call, timed from when it got its slot."""
        async with limiter:
            t = now()
            await fn()
            lat.append(now() - t)

    t0 = now()
    async with anyio.create_task_group() as tg:
        for _ in range(total):
            tg.start_soon(one)
    return now() - t0, lat


@asynccontextmanager
async def stdio_clients(
    tmp: Path, history: int, errlog: TextIO, mode: str
) -> AsyncIterator[Clients]:
    """The floor and two loopcore servers over stdio (10 and ``history`` stored intercepts)."""
    small, big = tmp / "small.db", tmp / "big.db"
    populate_history(small, 10)
    populate_history(big, history)
    async with AsyncExitStack() as stack:
        floor = await stack.enter_async_context(open_stdio(floor_params(), errlog, mode))
        lc = await stack.enter_async_context(open_stdio(loopcore_params(small), errlog, mode))
        lcb = await stack.enter_async_context(open_stdio(loopcore_params(big), errlog, mode))
        yield Clients(floor.client, lc.client, lcb.client)


@asynccontextmanager
async def inproc_clients(tmp: Path, history: int, mode: str) -> AsyncIterator[Clients]:
    """The floor and two loopcore servers in this process, on their own databases."""
    small, big = tmp / "ip-small.db", tmp / "ip-big.db"
    populate_history(small, 10)
    populate_history(big, history)
    servers = [
        build_floor(),
        build_server(Settings(db=small, project=PROJECT)),
        build_server(Settings(db=big, project=PROJECT)),
    ]
    async with AsyncExitStack() as stack:
        clients = [await stack.enter_async_context(in_process(s, mode)) for s in servers]
        yield Clients(*clients)


# Issue 14 part 8: intercept at most 1.6x the floor, plan_record 1.4x; the rest 1.5x (issue 7).
_BOUNDS = {"intercept": 1.6, "plan_record": 1.4}


def latency_rows(transport: str, samples: dict[str, list[float]]) -> list[list[object]]:
    """One table row per label: p50, p95, ratio to the floor's echo, target, verdict."""
    floor_p50 = p50_p95(samples["echo (floor)"])[0]
    rows: list[list[object]] = []
    for label, xs in samples.items():
        p50, p95 = p50_p95(xs)
        ratio = p50 / floor_p50
        if label == "echo (floor)":
            target, result = "floor", "—"
        elif transport != "stdio":
            target, result = "info (targets are over stdio)", "—"
        else:
            bound = _BOUNDS.get(label.split(" ", 1)[0], 1.5)
            target, met = f"p50 <= {bound}x floor", ratio <= bound
            result = verdict(met)
        rows.append([transport, label, len(xs), ms(p50), ms(p95), f"{ratio:.2f}x", target, result])
    return rows


def flat_rows(transport: str, samples: dict[str, list[float]], history: int) -> list[list[object]]:
    """Whether intercept stays flat in history size and plan_record in plan size."""
    pairs = [
        ("intercept", "intercept (10 stored)", f"intercept ({history:,} stored)"),
        ("plan_record", "plan_record (10-task plan)", "plan_record (500-task plan)"),
        ("plan_next_task", "plan_next_task (10-task plan)", "plan_next_task (500-task plan)"),
    ]
    rows: list[list[object]] = []
    for name, small, big in pairs:
        a, b = p50_p95(samples[small])[0], p50_p95(samples[big])[0]
        ratio = b / a
        rows.append(
            [
                transport,
                name,
                ms(a),
                ms(b),
                f"{ratio:.2f}x",
                f"<= {FLAT_RATIO}x",
                verdict(ratio <= FLAT_RATIO),
            ]
        )
    return rows


async def throughput_rows(
    transport: str, clients: Clients, calls: int, inflight: int, rounds: int
) -> list[list[object]]:
    """Serial and concurrent throughput of one session, per (server, tool).

    Serial and concurrent runs alternate ``rounds`` times, so load from other processes
    falls on both modes alike; each row shows the median rate of its rounds.
    """
    cases: list[tuple[str, Case]] = [
        ("floor", echo_case(clients.floor)),
        ("loopcore", verify_case(clients.loopcore)),
        ("loopcore", intercept_case(clients.loopcore, 10)),
    ]
    rows: list[list[object]] = []
    floor_rate: dict[int, float] = {}
    for server, case in cases:
        rates: dict[int, list[float]] = defaultdict(list)
        lats: dict[int, list[float]] = defaultdict(list)
        for _ in range(rounds):
            for flight in (1, inflight):
                wall, lat = await throughput(case.once, calls, flight)
                rates[flight].append(calls / wall)
                lats[flight].extend(lat)
        serial = p50_p95(rates[1])[0]
        for flight in (1, inflight):
            rate = p50_p95(rates[flight])[0]
            floor_rate.setdefault(flight, rate)
            p50, p95 = p50_p95(lats[flight])
            mode = "serial" if flight == 1 else f"{flight} in flight"
            label = case.label.split(" (")[0]
            x_serial, result = "—", "—"
            if flight != 1:
                x_serial = f"{rate / serial:.2f}x"
                result = "—" if server == "floor" else verdict(rate >= serial)
            rows.append(
                [
                    transport,
                    server,
                    label,
                    mode,
                    f"{rounds} x {calls}",
                    f"{rate:,.0f}",
                    f"{rate / floor_rate[flight]:.2f}x",
                    x_serial,
                    result,
                    ms(p50),
                    ms(p95),
                ]
            )
    return rows


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Command-line options (``--quick``: tiny counts for the smoke test)."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--calls", type=int, default=200, help="calls per row (default 200)")
    p.add_argument("--history", type=int, default=10_000, help="stored intercepts (10,000)")
    p.add_argument("--inflight", type=int, default=50, help="concurrent calls (default 50)")
    p.add_argument(
        "--rounds", type=int, default=5, help="throughput rounds per mode, alternated (5)"
    )
    p.add_argument("--block", type=int, default=25, help="calls per round-robin block")
    p.add_argument("--transport", choices=["stdio", "inproc", "both"], default="both")
    p.add_argument("--mode", default="auto", help="client mode: auto (default) or legacy")
    p.add_argument("--quick", action="store_true", help="tiny counts (smoke test)")
    args = p.parse_args(argv)
    if args.quick:
        args.calls, args.history, args.block = min(args.calls, 10), min(args.history, 100), 5
        args.inflight, args.rounds = min(args.inflight, 5), 1
    return args


async def bench_transport(
    transport: str, clients: Clients, args: argparse.Namespace
) -> tuple[list[list[object]], list[list[object]], list[list[object]]]:
    """Latency, flatness and throughput rows of one transport."""
    cases = all_cases(clients, args.history)
    warmup = 2 if args.quick else 10
    samples = await run_round_robin(cases, args.calls, args.block, warmup)
    lat = latency_rows(transport, samples)
    flat = flat_rows(transport, samples, args.history)
    tput = await throughput_rows(
        transport, clients, max(args.calls, 2 * args.inflight), args.inflight, args.rounds
    )
    return lat, flat, tput


async def main_async(args: argparse.Namespace) -> None:
    """Run the selected transports and print the three tables."""
    lat: list[list[object]] = []
    flat: list[list[object]] = []
    tput: list[list[object]] = []
    with (
        tempfile.TemporaryDirectory(prefix="loopcore-bench-") as tmp,
        open(Path(tmp) / "servers.log", "w", encoding="utf-8") as errlog,
    ):
        if args.transport in ("stdio", "both"):
            async with stdio_clients(Path(tmp), args.history, errlog, args.mode) as clients:
                parts = await bench_transport("stdio", clients, args)
            lat, flat, tput = lat + parts[0], flat + parts[1], tput + parts[2]
        if args.transport in ("inproc", "both"):
            async with inproc_clients(Path(tmp), args.history, args.mode) as clients:
                parts = await bench_transport("in process", clients, args)
            lat, flat, tput = lat + parts[0], flat + parts[1], tput + parts[2]
    print_table(
        "Tool round trip (ms)",
        ["transport", "tool", "calls", "p50 ms", "p95 ms", "x floor p50", "target", "result"],
        lat,
    )
    print_table(
        "Flat in history and plan size (p50 ms)",
        ["transport", "tool", "small", "large", "large/small", "target", "result"],
        flat,
    )
    print_table(
        "Throughput of one session",
        [
            "transport",
            "server",
            "tool",
            "mode",
            "calls",
            "calls/s (median)",
            "x floor",
            "x serial (>= 1.0x)",
            "result",
            "p50 ms",
            "p95 ms",
        ],
        tput,
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: print the command, the machine, the tables; exit 0."""
    args = parse_args(argv)
    configure_logging("warning")  # in-process servers: keep their logs off the tables
    print_command()
    print(machine_line())
    print(f"client mode: {args.mode}; calls per row: {args.calls}; blocks of {args.block}")
    anyio.run(main_async, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
