"""Running one program: time limit on the whole process group, capped output."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest

from loopcore.evaluators._process import run_process

pytestmark = pytest.mark.slow

ENV = {"PATH": os.defpath}


def _gone_or_zombie(pid: int) -> bool:
    """True once ``pid`` no longer runs (reaped, or a zombie waiting for its new parent)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return True
    return "State:\tZ" in status


def test_exit_code_and_interleaved_output_are_captured(tmp_path: Path) -> None:
    """stdout and stderr both land in the output; the exit code is kept."""
    code = (
        "import sys; print('out'); sys.stdout.flush(); print('err', file=sys.stderr); sys.exit(3)"
    )
    result = run_process(
        [sys.executable, "-c", code], cwd=tmp_path, env=ENV, timeout_s=30, max_output_bytes=1000
    )
    assert (result.exit_code, result.timed_out, result.truncated) == (3, False, False)
    assert result.output.split() == ["out", "err"]


def test_timeout_kills_the_whole_process_group(tmp_path: Path) -> None:
    """A grandchild started by the command dies with it at the time limit."""
    pid_file = tmp_path / "grandchild.pid"
    code = (
        "import subprocess, sys, time;"
        f"p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(120)']);"
        f"open({str(pid_file)!r}, 'w').write(str(p.pid));"
        "time.sleep(120)"
    )
    result = run_process(
        [sys.executable, "-c", code], cwd=tmp_path, env=ENV, timeout_s=2, max_output_bytes=1000
    )
    assert (result.timed_out, result.exit_code) == (True, None)
    grandchild = int(pid_file.read_text())
    deadline = time.monotonic() + 10  # the kill is asynchronous; give the kernel a moment
    while not _gone_or_zombie(grandchild) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _gone_or_zombie(grandchild)


def test_output_keeps_head_and_tail_within_the_cap(tmp_path: Path) -> None:
    """Past the cap the middle is dropped and marked; head and tail stay."""
    code = "print('HEAD' + 'x' * 100_000 + 'TAIL')"
    result = run_process(
        [sys.executable, "-c", code], cwd=tmp_path, env=ENV, timeout_s=30, max_output_bytes=1000
    )
    assert result.truncated is True
    assert result.output.startswith("HEAD")
    assert result.output.rstrip().endswith("TAIL")
    assert "bytes of output omitted" in result.output
    assert len(result.output.encode()) < 1100


def test_a_program_that_cannot_start_is_an_error_not_a_raise(tmp_path: Path) -> None:
    """A path that is not executable gives an error message."""
    target = tmp_path / "not-executable"
    target.write_text("data")
    result = run_process([str(target)], cwd=tmp_path, env=ENV, timeout_s=5, max_output_bytes=1000)
    assert result.exit_code is None
    assert result.error is not None and result.error.startswith("could not start")


def _wait_gone(pid: int) -> bool:
    deadline = time.monotonic() + 10  # the kill is asynchronous; give the kernel a moment
    while not _gone_or_zombie(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    return _gone_or_zombie(pid)


# Starts a grandchild that leaves the process group with setsid and writes its pid.
_SETSID = (
    "import subprocess, sys, time;"
    "p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(120)'],"
    " start_new_session=True);"
    "open({pid_file!r}, 'w').write(str(p.pid));"
    "{after}"
)
# A daemon: a child forks a grandchild that calls setsid, and the child exits at once,
# so the grandchild's parent is gone too (it is handed to the nearest subreaper).
_DAEMON = (
    "import os, sys, time\n"
    "if os.fork() == 0:\n"
    "    os.setsid()\n"
    "    if os.fork() == 0:\n"
    "        open({pid_file!r}, 'w').write(str(os.getpid()))\n"
    "        time.sleep(120)\n"
    "    os._exit(0)\n"
    "os.wait()\n"
    "while not os.path.exists({pid_file!r}):\n"
    "    time.sleep(0.01)\n"
    "{after}\n"
)


@pytest.mark.parametrize("script", [_SETSID, _DAEMON], ids=["setsid", "double-fork"])
def test_timeout_kills_descendants_that_left_the_group(tmp_path: Path, script: str) -> None:
    """A grandchild in its own session (setsid, or a daemon) dies at the time limit."""
    pid_file = tmp_path / "escaped.pid"
    code = script.format(pid_file=str(pid_file), after="time.sleep(120)")
    result = run_process(
        [sys.executable, "-c", code], cwd=tmp_path, env=ENV, timeout_s=3, max_output_bytes=1000
    )
    assert (result.timed_out, result.exit_code) == (True, None)
    assert _wait_gone(int(pid_file.read_text()))


@pytest.mark.parametrize("script", [_SETSID, _DAEMON], ids=["setsid", "double-fork"])
def test_descendants_left_behind_by_a_finished_run_are_killed(tmp_path: Path, script: str) -> None:
    """A run that exits leaving a setsid'd or daemonised process behind leaves nothing running."""
    pid_file = tmp_path / "escaped.pid"
    code = script.format(pid_file=str(pid_file), after="sys.exit(0)")
    result = run_process(
        [sys.executable, "-c", code], cwd=tmp_path, env=ENV, timeout_s=30, max_output_bytes=1000
    )
    assert (result.timed_out, result.exit_code) == (False, 0)
    assert _wait_gone(int(pid_file.read_text()))


def test_a_signal_exit_is_reported_as_the_signal(tmp_path: Path) -> None:
    """A program killed by a signal reports the negative signal number, as before the helper."""
    code = "import os, signal; os.kill(os.getpid(), signal.SIGTERM)"
    result = run_process(
        [sys.executable, "-c", code], cwd=tmp_path, env=ENV, timeout_s=30, max_output_bytes=1000
    )
    assert result.exit_code == -15
