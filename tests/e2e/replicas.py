"""Real ``loopcore serve --transport http`` replicas on one database, and members' clients.

Shared by ``tests/e2e/test_team.py`` and ``bench/team.py``. Each replica is this
checkout's code (``-c`` with ``PYTHONPATH``), started on a free port; a client is
the official ``mcp`` Client over streamable HTTP carrying a member's bearer token
and the ``X-Loopcore-Project`` header.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import httpx
import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from tests.e2e.serving import free_port

ROOT = Path(__file__).resolve().parents[2]
MAIN = "import sys; from server.cli import main; sys.exit(main())"


class Replica:
    """One ``loopcore serve --transport http`` process."""

    def __init__(self, db: str, log_dir: Path, **env: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_dir / f"replica-{self.port}.log"
        base = {k: os.environ[k] for k in ("PATH", "HOME") if k in os.environ}
        base |= {
            "LOOPCORE_DB": db,
            "LOOPCORE_PROJECT": "replica-default",
            "LOOPCORE_LOG_LEVEL": "warning",
            "PYTHONPATH": str(ROOT),
        }
        with self.log_path.open("w", encoding="utf-8") as log:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-c",
                    MAIN,
                    "serve",
                    "--transport",
                    "http",
                    "--port",
                    f"{self.port}",
                ],
                env=base | env,
                cwd=ROOT,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
            )

    def health(self) -> httpx.Response:
        """GET /healthz."""
        return httpx.get(f"{self.url}/healthz", timeout=5)

    def wait_ready(self, timeout_s: float = 60.0, *, listening: bool = True) -> None:
        """Until /healthz is 200 (and the LISTEN connection is up, on PostgreSQL)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"replica exited with {self.proc.returncode}: {self.log()}")
            try:
                r = self.health()
                if r.status_code == 200 and (not listening or r.json().get("replica_listening")):
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise TimeoutError(f"replica on {self.port} not ready in {timeout_s}s: {self.log()}")

    def log(self) -> str:
        """The replica's stderr so far (last 3,000 characters)."""
        return self.log_path.read_text(encoding="utf-8")[-3000:]

    def kill(self) -> None:
        """SIGKILL: no shutdown, connections cut."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after 15 s."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()


@contextmanager
def replicas(db: str, log_dir: Path, n: int, **env: str) -> Iterator[list[Replica]]:
    """``n`` replicas on ``db``, ready (listening) on entry, stopped on exit."""
    started = [Replica(db, log_dir, **env) for _ in range(n)]
    try:
        for r in started:
            r.wait_ready(listening=db.startswith("postgresql://"))
        yield started
    finally:
        for r in started:
            r.stop()


def member_headers(token: str | None, project: str | None = None) -> dict[str, str]:
    """The headers a host sends for a member (and the project it chose)."""
    headers: dict[str, str] = {}
    if token is not None:
        headers["authorization"] = f"Bearer {token}"
    if project is not None:
        headers["x-loopcore-project"] = project
    return headers


@asynccontextmanager
async def connect(
    replica: Replica, token: str | None, project: str | None = None, **kwargs: Any
) -> AsyncIterator[Client]:
    """The official Client on ``replica`` as the member holding ``token``."""
    async with httpx2.AsyncClient(headers=member_headers(token, project), timeout=30) as http:
        transport = streamable_http_client(f"{replica.url}/mcp", http_client=http)
        async with Client(transport, **kwargs) as client:
            yield client
