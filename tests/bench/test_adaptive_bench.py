"""The adaptive-stopping benchmark runs end to end and prints its table."""

from __future__ import annotations

from tests.bench.helpers import run_bench


def test_quick_run_prints_the_table() -> None:
    """`bench/adaptive_stopping.py --quick` exits 0 with the markdown table and a verdict."""
    out = run_bench("adaptive_stopping.py", "--quick", "--seed", "3", timeout=90)
    assert "| policy | mean steps | success rate | mean final score (best) |" in out
    rows = [line for line in out.splitlines() if line.startswith("| ")]
    assert [r.split(" | ")[0] for r in rows[1:]] == [
        "| fixed-N",
        "| stop-at-threshold",
        "| adaptive, cost weight 0.05",
        "| adaptive, cost weight 0.02",
        "| adaptive, cost weight 0.01",
        "| server defaults (plateau, no-progress)",
    ]
    assert "MET: adaptive, cost weight 0.05" in out
