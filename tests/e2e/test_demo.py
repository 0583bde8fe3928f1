"""``loopcore demo`` runs a real session and exits 0."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.e2e.serving import LOOPCORE

pytestmark = pytest.mark.slow


def test_demo_runs_and_prints_each_call(tmp_path: Path) -> None:
    """The demo drives the plan and the loop through a real server and says it is done."""
    env = {k: os.environ[k] for k in ("PATH", "HOME") if k in os.environ}
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[2])  # these sources, not the install
    proc = subprocess.run(
        [LOOPCORE, "demo"], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=110
    )
    assert proc.returncode == 0, proc.stderr
    for step in ("plan_create", "verify_output", "plan_record", "loop_step", "loop_end"):
        assert f"> {step}(" in proc.stdout
    assert "kind: complete" in proc.stdout
    assert "needs_replan: false" in proc.stdout
    assert "needs_replan: true" not in proc.stdout
    assert "status: done" in proc.stdout
    assert "converged: true" in proc.stdout
    assert "Done." in proc.stdout
