"""Run one program and, when it ends or is stopped, kill every process it started.

Started by ``_process.run_process`` as ``python -I _reaper.py PROGRAM ARGS...``,
between the server and the command. Standard library only, and no output of
its own except one line when the program cannot start.

Why a subreaper in a helper process (and not a cgroup, a process-group kill or a
scan from the server): a test run that calls ``setsid`` (or double-forks, as
daemons do) leaves the process group the server kills, and its parent exits, so
the kernel hands it to the nearest *subreaper* ancestor, else to init, where no
scan can tell it came from the test. This helper marks itself a subreaper
(``prctl(PR_SET_CHILD_SUBREAPER)``, Linux 3.4+), so every descendant stays its
descendant whatever sessions or groups it makes; a scan of ``/proc`` for its
descendants then finds them all, and it kills them (repeating until none is
left, so one forked during the kill goes too) and reaps them. Doing this in the
server instead would make every orphan of every command the server's child,
mixed with other sessions' commands; cgroups need a delegated hierarchy that a
server run by an editor does not have. Off Linux (no ``prctl``, no ``/proc``) it
leaves the server to kill the process group, as before.

Also a small shield: a child that reads its parent's ``/proc/<ppid>/environ``
reads this helper's, which is the command's own minimal environment, not the
server's.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import time
from types import FrameType

START_FAILED = 127
MARKER = "loopcore-reaper: could not start"
_PR_SET_CHILD_SUBREAPER = 36
_ROUNDS = 100


def _become_subreaper() -> bool:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return int(libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)) == 0
    except (OSError, AttributeError):
        return False


def _parents() -> dict[int, int]:
    """pid -> parent pid of every process in ``/proc``."""
    found: dict[int, int] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as stat:
                data = stat.read()
        except OSError:
            continue
        fields = data[data.rfind(b")") + 2 :].split()
        if len(fields) > 1:
            found[int(name)] = int(fields[1])
    return found


def _descendants(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for pid, parent in _parents().items():
        children.setdefault(parent, []).append(pid)
    out: list[int] = []
    stack = list(children.get(root, []))
    while stack:
        pid = stack.pop()
        out.append(pid)
        stack.extend(children.get(pid, []))
    return out


def _reap() -> None:
    with contextlib.suppress(ChildProcessError):
        while os.waitpid(-1, os.WNOHANG)[0] != 0:
            pass


def kill_all(subreaper: bool) -> None:
    """Kill and reap every descendant (off Linux: nothing; the server kills the group)."""
    if not subreaper or not os.path.isdir("/proc"):
        return
    me = os.getpid()
    for _ in range(_ROUNDS):
        pids = _descendants(me)
        if not pids:
            return
        for pid in pids:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.005)
        _reap()


def main(argv: list[str]) -> int:
    """Run ``argv``; on its end or on SIGTERM, kill every descendant; exit as it did."""
    subreaper = _become_subreaper()

    def stop(signum: int, frame: FrameType | None) -> None:
        kill_all(subreaper)
        os._exit(128 + signal.SIGKILL)

    signal.signal(signal.SIGTERM, stop)
    try:
        child = subprocess.Popen(argv, stdin=subprocess.DEVNULL)
    except OSError as exc:
        sys.stderr.write(f"{MARKER} {argv[0]!r}: {exc}\n")
        return START_FAILED
    code = child.wait()
    kill_all(subreaper)
    if code < 0:  # killed by a signal: end the same way, so the server sees the same status
        signal.signal(-code, signal.SIG_DFL)
        os.kill(os.getpid(), -code)
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
