"""Starting real ``loopcore dashboard`` processes for the end-to-end tests."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from tests.e2e.serving import free_port, server_env, wait_for_port

ROOT = Path(__file__).resolve().parents[2]
# ``loopcore``'s entry point run from the checkout's root: the code under test, whichever
# checkout the shared virtual environment's console script was installed from.
CLI = [sys.executable, "-c", "import sys; from server.cli import main; sys.exit(main())"]


def dashboard_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """The server environment plus a private user data dir (where the state file lives)."""
    return server_env(tmp_path / "loopcore.db", XDG_DATA_HOME=str(tmp_path / "data"), **extra)


def first_line(proc: subprocess.Popen[str], timeout_s: float = 60.0) -> str:
    """The first line the process prints on stdout (empty if it exits or stays silent)."""
    assert proc.stdout is not None
    out: list[str] = []
    reader = threading.Thread(target=lambda: out.append(proc.stdout.readline()), daemon=True)  # type: ignore[union-attr]
    reader.start()
    reader.join(timeout_s)
    return out[0].strip() if out else ""


@contextmanager
def dashboard(
    tmp_path: Path, *args: str, env_extra: dict[str, str] | None = None
) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """``loopcore dashboard ARGS``; yields the process and the first line it printed."""
    log = (tmp_path / "dashboard.log").open("a", encoding="utf-8")
    proc = subprocess.Popen(
        [*CLI, "dashboard", *args],
        cwd=ROOT,
        env=dashboard_env(tmp_path, **(env_extra or {})),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=log,
        text=True,
    )
    try:
        yield proc, first_line(proc)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()
        log.close()


def run_cli(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """``loopcore ARGS`` to completion, with the test's environment."""
    return subprocess.run(
        [*CLI, *args], cwd=ROOT, env=dashboard_env(tmp_path, **env), capture_output=True,
        text=True, timeout=60,
    )  # fmt: skip


@contextmanager
def serve_http(tmp_path: Path, **env: str) -> Iterator[tuple[int, IO[str]]]:
    """``loopcore serve --transport http`` on a free port; yields the port and its log."""
    port = free_port()
    with (tmp_path / f"serve-{port}.log").open("w+", encoding="utf-8") as log:
        proc = subprocess.Popen(
            [*CLI, "serve", "--transport", "http", "--port", str(port)], cwd=ROOT,
            env=dashboard_env(tmp_path, **env), stdin=subprocess.DEVNULL, stdout=log, stderr=log,
            text=True,
        )  # fmt: skip
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
