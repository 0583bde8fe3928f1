"""bench/dashboard.py runs with tiny counts and prints its table."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.bench.helpers import ROOT


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_dashboard_quick_prints_the_render_table() -> None:
    """--quick prints the page render table with the floor row first (this checkout's code)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}  # the checkout under test, as README says
    done = subprocess.run(
        [sys.executable, "bench/dashboard.py", "--quick"], cwd=ROOT, env=env,
        capture_output=True, text=True, timeout=280, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.startswith("command: python bench/dashboard.py --quick\n")
    assert "| where | case | samples | p50 ms | p95 ms | x floor p50 |" in done.stdout
    assert "| http | floor: empty 204 | 4 |" in done.stdout
    assert "| http | GET plan page | 4 |" in done.stdout
