"""The evaluation-budget benchmark runs end to end and prints its two tables."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.bench.helpers import ROOT


@pytest.mark.slow
@pytest.mark.timeout(200)
def test_quick_run_prints_every_case_and_the_stdio_rows() -> None:
    """`bench/evaluation_budget.py --quick` exits 0 and prints one row per case, over stdio too."""
    # PYTHONPATH: the checkout's code, in the script and in the `loopcore serve` it starts.
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "bench/evaluation_budget.py", "--quick"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    out = done.stdout
    assert out.startswith("command: python bench/evaluation_budget.py --quick\n")
    rows = [line.split(" | ")[0].lstrip("| ") for line in out.splitlines() if line.startswith("| ")]
    assert rows == [
        "case",
        "regex: 100 slow patterns",
        "composite: 3 parts, 100 slow patterns",
        "json_schema: pattern over 100 strings",
        "json_schema: uniqueItems, 4,000 objects",
        "json_schema: 200,000 objects, 6 keywords each",
        "call",
        "echo (floor)",
        "verify_output: regex, 100 slow patterns",
        "verify_output: regex 'ok' right after",
    ]
    assert "| regex: 100 slow patterns | 1 |" in out and "| 1/1 |" in out
