"""Shared helpers of the loopcore benchmarks: percentiles, tables, stdio servers.

Scripts in ``bench/`` run as ``python bench/<name>.py``, so this module (and
``floor_server``) import as top-level modules. They time the installed
``loopcore`` (the README's install command); where none is installed, the
repository root is put on ``sys.path`` so a fresh clone runs as it is.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shlex
import statistics
import sys
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from shutil import which
from typing import Any, TextIO

from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.types import CallToolResult, ListToolsResult

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"
# An installed loopcore is timed as installed (a regular wheel runs the scorer compiled);
# without one, the repository's sources.
if importlib.util.find_spec("loopcore") is None and str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

# The console script next to this interpreter (a venv), else the one on PATH.
_NEXT_TO_PYTHON = Path(sys.executable).parent / "loopcore"
LOOPCORE_BIN = (
    str(_NEXT_TO_PYTHON) if _NEXT_TO_PYTHON.exists() else (which("loopcore") or "loopcore")
)
FLOOR_SCRIPT = str(BENCH / "floor_server.py")
PROJECT = "bench"


# ---------------------------------------------------------------- statistics and tables


def percentile(xs: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0..100) of ``xs``, linear between closest ranks."""
    if not xs:
        raise ValueError("no samples")
    data = sorted(xs)
    pos = (len(data) - 1) * q / 100
    lo = int(pos)
    hi = min(lo + 1, len(data) - 1)
    return data[lo] + (data[hi] - data[lo]) * (pos - lo)


def p50_p95(xs: Sequence[float]) -> tuple[float, float]:
    """Median and 95th percentile of ``xs``."""
    return statistics.median(xs), percentile(xs, 95)


def ms(seconds: float) -> str:
    """Seconds as milliseconds with two decimals."""
    return f"{seconds * 1000:.2f}"


def verdict(met: bool) -> str:
    """``MET`` or ``MISSED``."""
    return "MET" if met else "MISSED"


def print_command() -> None:
    """Print the command line this script was started with (relative to the repo root)."""
    script = Path(sys.argv[0]).resolve()
    shown = script.relative_to(ROOT) if script.is_relative_to(ROOT) else script
    print(f"command: python {shlex.join([str(shown), *sys.argv[1:]])}")


def print_table(title: str, headers: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    """Print a titled markdown table."""
    print()
    print(f"### {title}")
    print()
    print("| " + " | ".join(headers) + " |")
    print("|" + "|".join("---" for _ in headers) + "|")
    for row in rows:
        print("| " + " | ".join(str(c) for c in row) + " |")
    sys.stdout.flush()


# ---------------------------------------------------------------- servers over stdio


def server_env(db: Path | None, tools: str = "all") -> dict[str, str]:
    """The small environment hosts give a stdio server, plus loopcore's settings.

    ``PYTHONPATH`` is passed on when set, so a patched checkout can be measured
    with ``PYTHONPATH=<checkout> python <checkout>/bench/<script>.py``.
    """
    keep = ("PATH", "HOME", "LANG", "PYTHONPATH")
    env = {k: os.environ[k] for k in keep if k in os.environ}
    if db is not None:
        env |= {"LOOPCORE_DB": str(db), "LOOPCORE_PROJECT": PROJECT, "LOOPCORE_TOOLS": tools}
    return env


def loopcore_params(db: Path, tools: str = "all") -> StdioServerParameters:
    """``loopcore serve`` on ``db``, as a host starts it."""
    return StdioServerParameters(command=LOOPCORE_BIN, args=["serve"], env=server_env(db, tools))


def floor_params() -> StdioServerParameters:
    """``python bench/floor_server.py``."""
    return StdioServerParameters(
        command=sys.executable, args=[FLOOR_SCRIPT], env=server_env(None), cwd=str(ROOT)
    )


def _children() -> set[int]:
    """Pids of this process's live children (read from /proc)."""
    me, out = os.getpid(), set()
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
        except OSError:
            continue
        # "pid (comm) state ppid ...": comm may hold spaces and parentheses.
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[1]) == me:
            out.add(int(entry.name))
    return out


def peak_rss_bytes(pid: int) -> int:
    """The process's peak resident set size (``VmHWM`` in /proc/<pid>/status)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmHWM for pid {pid}")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time the process has used so far (/proc/<pid>/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    # After the ")" field 0 is state; utime and stime are fields 11 and 12 (stat's 14 and 15).
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class StdioServer:
    """An open official client on a stdio server process, and that process's pid."""

    client: Client
    pid: int


@asynccontextmanager
async def open_stdio(
    params: StdioServerParameters, errlog: TextIO, mode: str = "auto"
) -> AsyncIterator[StdioServer]:
    """Spawn the server with the official client and connect (``mode``: handshake era).

    The server's stderr goes to ``errlog`` so its logs stay out of the tables.
    """
    before = _children()
    transport = stdio_client(params, errlog=errlog)
    async with Client(transport, mode=mode, cache=None) as client:
        spawned = _children() - before
        if len(spawned) != 1:
            raise RuntimeError(f"expected one new server process, found {sorted(spawned)}")
        yield StdioServer(client=client, pid=spawned.pop())


def in_process(server: Any, mode: str = "auto") -> Client:
    """The official client on an in-process ``MCPServer`` (runs its lifespan)."""
    return Client(server, mode=mode, cache=None)


def checked(result: CallToolResult, tool: str) -> dict[str, Any]:
    """The structured result of a tool call; a tool error stops the benchmark."""
    if result.is_error:
        text = " ".join(getattr(c, "text", "") for c in result.content)
        raise RuntimeError(f"{tool} answered an error: {text}")
    return dict(result.structured_content or {})


def tools_list_bytes(result: ListToolsResult) -> int:
    """Bytes of the ``tools`` array of a tools/list result as compact wire JSON."""
    tools = [t.model_dump(by_alias=True, exclude_none=True, mode="json") for t in result.tools]
    return len(json.dumps(tools, separators=(",", ":"), ensure_ascii=False).encode())


def now() -> float:
    """A monotonic high-resolution clock, in seconds."""
    return time.perf_counter()


def machine_line() -> str:
    """nproc, total memory, Python and mcp versions, the load average: the run's context."""
    from importlib.metadata import version

    mem_kb = next(
        int(line.split()[1])
        for line in Path("/proc/meminfo").read_text().splitlines()
        if line.startswith("MemTotal:")
    )
    load = os.getloadavg()
    return (
        f"machine: nproc={len(os.sched_getaffinity(0))}, mem={mem_kb / 1024 / 1024:.1f} GiB, "
        f"python {sys.version.split()[0]}, mcp {version('mcp')}, "
        f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}"
    )
