"""Run one program (never a shell) with a time limit and a cap on captured output.

POSIX only. The program runs under a small helper (``_reaper``) that is a
subreaper on Linux: when the program ends or the time limit comes, the helper
kills every process the program started, those that called ``setsid`` or
double-forked included (see ``_reaper`` for why this way). The helper starts in
its own session; after it, its process group is killed too, while the helper
is still unreaped (``waitid`` with ``WNOWAIT``), so the group id cannot have
been reused by an unrelated process.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from loopcore.clock import monotonic

__all__ = ["ProcessResult", "run_process"]

_CHUNK = 65_536
_READER_GRACE_S = 5.0
_REAPER_GRACE_S = 5.0
_REAPER = str(Path(__file__).with_name("_reaper.py"))
_START_FAILED = 127
_MARKER = "loopcore-reaper: could not start"


@dataclass(frozen=True, kw_only=True, slots=True)
class ProcessResult:
    """What a run produced.

    Attributes:
        exit_code: the exit status (negative: killed by that signal); None when
            the program timed out or could not start.
        output: stdout and stderr interleaved, decoded as UTF-8 (invalid bytes replaced).
        timed_out: the time limit was reached and the process group killed.
        truncated: the middle of the output was dropped to respect the cap.
        error: why the program could not start, when it could not.
    """

    exit_code: int | None
    output: str = ""
    timed_out: bool = False
    truncated: bool = False
    error: str | None = None


class _Capture:
    """Keeps the first and the last half of the cap; the summary of a test run is at the end."""

    def __init__(self, cap: int) -> None:
        self.head_cap = cap - cap // 2
        self.tail_cap = cap // 2
        self.head = bytearray()
        self.tail = bytearray()
        self.dropped = 0

    def drain(self, stream: IO[bytes]) -> None:
        with stream:
            while chunk := os.read(stream.fileno(), _CHUNK):
                self._add(chunk)

    def _add(self, chunk: bytes) -> None:
        room = self.head_cap - len(self.head)
        if room > 0:
            self.head += chunk[:room]
            chunk = chunk[room:]
        if not chunk:
            return
        self.tail += chunk
        excess = len(self.tail) - self.tail_cap
        if excess > 0:
            del self.tail[:excess]
            self.dropped += excess

    def text(self) -> str:
        middle = f"\n[... {self.dropped} bytes of output omitted ...]\n" if self.dropped else ""
        head = self.head.decode("utf-8", "replace")
        return head + middle + self.tail.decode("utf-8", "replace")


def _wait_unreaped(pid: int, timeout_s: float) -> bool:
    """Wait until ``pid`` exits without reaping it; False when the time limit came first."""
    deadline = monotonic() + timeout_s
    pause = 0.001
    while True:
        if os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None:
            return True
        remaining = deadline - monotonic()
        if remaining <= 0:
            return False
        time.sleep(min(pause, remaining))
        pause = min(pause * 2, 0.05)


def run_process(
    argv: Sequence[str],
    *,
    cwd: Path,
    env: Mapping[str, str],
    timeout_s: float,
    max_output_bytes: int,
) -> ProcessResult:
    """Run ``argv`` in ``cwd`` with exactly ``env``; at ``timeout_s`` kill it and all it started."""
    # -I: the helper ignores PYTHON* variables and user site-packages (it needs only the stdlib).
    helper = [sys.executable, "-I", _REAPER, *argv]
    try:
        proc = subprocess.Popen(
            helper,
            cwd=cwd,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    except OSError as exc:
        return ProcessResult(exit_code=None, error=f"could not start {argv[0]!r}: {exc}")
    assert proc.stdout is not None  # stdout=PIPE guarantees it
    capture = _Capture(max_output_bytes)
    reader = threading.Thread(target=capture.drain, args=(proc.stdout,), daemon=True)
    reader.start()
    try:
        exited = _wait_unreaped(proc.pid, timeout_s)
        if not exited:  # the helper kills every descendant, then exits
            with contextlib.suppress(ProcessLookupError):
                os.kill(proc.pid, signal.SIGTERM)
            _wait_unreaped(proc.pid, _REAPER_GRACE_S)
    finally:
        # The group goes too (the helper, and anything the helper could not reach off Linux).
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        code = proc.wait()
    # A grandchild that left the group may hold the pipe open; do not wait on it forever.
    reader.join(_READER_GRACE_S)
    output = capture.text()
    if exited and code == _START_FAILED and output.startswith(_MARKER):
        return ProcessResult(
            exit_code=None, error=output.strip().replace(_MARKER, "could not start")
        )
    return ProcessResult(
        exit_code=code if exited else None,
        output=output,
        timed_out=not exited,
        truncated=capture.dropped > 0,
    )
