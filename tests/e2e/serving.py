"""Starting real ``loopcore serve`` processes for the end-to-end tests."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import anyio

LOOPCORE = str(Path(sys.executable).parent / "loopcore")
# The source tree these tests belong to: first on the servers' PYTHONPATH, so a server
# runs this tree's code even when the console script's install points at another checkout.
ROOT = Path(__file__).resolve().parents[2]
# A raw JSON-RPC initialize for tests that speak the wire format themselves.
INIT = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-11-25",
        "capabilities": {},
        "clientInfo": {"name": "raw-test", "version": "0"},
    },
}


def server_env(db: Path, **extra: str) -> dict[str, str]:
    """A minimal environment for a server on ``db`` (hosts start servers with little else)."""
    env = {k: os.environ[k] for k in ("PATH", "HOME", "SYSTEMROOT") if k in os.environ}
    # The console script imports whichever checkout the venv was installed from: point it at
    # these sources, so a worktree's end-to-end tests run the worktree's code.
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[2])
    env |= {"LOOPCORE_DB": str(db), "LOOPCORE_PROJECT": "e2e", "LOOPCORE_LOG_LEVEL": "info"}
    env["PYTHONPATH"] = str(ROOT)
    env |= extra
    return env


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_port(port: int, proc: subprocess.Popen[Any], timeout_s: float = 60.0) -> None:
    """Poll until ``port`` accepts connections; fail if the process exits first."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode} before listening")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"nothing listened on port {port} within {timeout_s}s")


@contextmanager
def http_server(
    tmp_path: Path, transport: str, env_extra: dict[str, str] | None = None
) -> Iterator[tuple[int, IO[str]]]:
    """``loopcore serve --transport <transport>`` on a free port; yields the port and its log."""
    port = free_port()
    log_path = tmp_path / f"server-{port}.log"
    with log_path.open("w+", encoding="utf-8") as log:
        proc = subprocess.Popen(
            [LOOPCORE, "serve", "--transport", transport, "--port", str(port)],
            env=server_env(tmp_path / "loopcore.db", **(env_extra or {})),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            text=True,
        )
        try:
            wait_for_port(port, proc)
            yield port, log
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


PY = sys.executable
# Marks that it started (one file per process), then waits for ``go``: a slow evaluation
# whose end the test decides, so tests need no timing.
WAIT = """\
import os, pathlib, time
pathlib.Path("started", str(os.getpid())).touch()
while not pathlib.Path("go").exists():
    time.sleep(0.02)
print("1 passed")
"""
WAIT_SPEC: dict[str, Any] = {"type": "command", "run": [PY, "wait.py"]}
QUICK_SPEC: dict[str, Any] = {"type": "command", "run": [PY, "-c", "print('1 passed')"]}


def waiting_project(root: Path) -> Path:
    """A project whose ``wait.py`` blocks until ``go`` exists (``started/`` marks each run)."""
    (root / "started").mkdir(parents=True)
    (root / "wait.py").write_text(WAIT)
    return root


async def started(root: Path, count: int) -> int:
    """Wait until ``count`` waiting processes have started; how many have."""
    while len(list((root / "started").iterdir())) < count:
        await anyio.sleep(0.02)
    return len(list((root / "started").iterdir()))
