"""The plan benchmark runs end to end and prints its table."""

from __future__ import annotations

import pytest

from tests.bench.helpers import run_bench


@pytest.mark.slow
def test_quick_run_prints_every_row() -> None:
    """`bench/plans.py --quick` exits 0 with the command line and one row per measurement."""
    out = run_bench("plans.py", "--quick", timeout=100)
    assert "| operation | calls | median ms | p95 ms |" in out
    names = [
        line.split(" | ")[0].lstrip("| ") for line in out.splitlines() if line.startswith("| ")
    ]
    assert names[1:] == [
        "create a 500-task plan",
        "next-task + record (per task, 500-task plan)",
        "status (compact), store of 2,000 tasks",
        "status (verbose), store of 2,000 tasks",
        "list (first page of 20), store of 2,000 tasks",
        "list (second page), store of 2,000 tasks",
        "record, plan of 20 scored tasks",
        "record, plan of 200 scored tasks",
        "record, plan of 1000 scored tasks",
    ]
