"""The intercept benchmarks run with --quick and print their tables."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.bench.helpers import ROOT, run_quick

# ``shared/data`` beside the repository or beside a parent (a git worktree), as the bench finds it.
DATA = (
    next(
        (p / "shared" / "data" for p in ROOT.parents if (p / "shared" / "data").is_dir()),
        ROOT.parent / "shared" / "data",
    )
    / "intercept_calibration.jsonl"
)


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_quality_quick_prints_agreement_targets_and_weights() -> None:
    """bench/intercept_quality.py --quick prints AUC/Spearman rows, targets and weights."""
    if not DATA.exists():
        pytest.skip(f"{DATA} not found: the labelled issues live in ../shared/data")
    out = run_quick("intercept_quality.py")
    assert "N=145" in out
    assert "| score | AUC | AUC 95% CI | Spearman | Spearman 95% CI |" in out
    for row in ("| fitted weights, out-of-fold |", "| length baseline min(1, len/2000) |"):
        assert row in out
    assert "| out-of-fold AUC >= 0.65 |" in out
    assert "| dimension | reasoned default | mean fitted on training folds |" in out
    # Figures within one source (Lite, Verified), never pooled, and each feature's direction.
    assert "| Lite: <=1 against >=2 | 43 / 51 | score |" in out
    assert "| Verified: 0 against 1 | 173 / 199 | score |" in out
    assert "| feature | reasoned | random | lite | verified | sources agreeing |" in out


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_quality_without_data_skips_cleanly(tmp_path: Path) -> None:
    """Run from a copy of bench/ where ../shared/data is absent: a clear skip, exit 0."""
    repo = tmp_path / "repo"
    (repo / "bench").mkdir(parents=True)
    for name in ("intercept_quality.py", "_common.py"):
        (repo / "bench" / name).write_text((ROOT / "bench" / name).read_text())
    done = subprocess.run(
        [sys.executable, "bench/intercept_quality.py", "--quick"],
        cwd=repo,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "skipped:" in done.stdout and "not found" in done.stdout


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_speed_quick_prints_the_three_sizes() -> None:
    """bench/intercept_speed.py --quick prints a row per prompt size and the 4 KB target."""
    out = run_quick("intercept_speed.py")
    assert "| prompt | calls | median ms | p95 ms | CPU median ms |" in out
    for size in ("| 200 B | 50 |", "| 4 KB | 50 |", "| 16 KB | 50 |"):
        assert size in out
    assert "median < 1 ms" in out
    assert "| round | calls | reference us | median ms | p95 ms |" in out
    assert "of 3 |" in out
    assert "| input | chars | median ms |" in out
    assert "| no break before ? | 16384 |" in out
