"""Running a benchmark script the way its README says, from the repository root."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run_bench(script: str, *args: str, timeout: float = 280) -> str:
    """Run ``python bench/<script> <args>``; return stdout after checking it ended cleanly
    and printed its own command line first."""
    done = subprocess.run(
        [sys.executable, f"bench/{script}", *args],
        cwd=ROOT,
        # The servers a script starts run this checkout too (bench/_common passes it on).
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Traceback" not in done.stdout + done.stderr
    assert done.stdout.startswith(f"command: {' '.join(['python', f'bench/{script}', *args])}\n")
    return done.stdout


def run_quick(script: str) -> str:
    """``run_bench(script, "--quick")``."""
    return run_bench(script, "--quick")
