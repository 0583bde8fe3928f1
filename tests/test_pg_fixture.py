"""Without PostgreSQL binaries the PostgreSQL half skips locally and fails under CI=true.

Runs pytest in a subprocess with a plugin that hides the binaries (``find_bin``
returns None), on one contract test parametrised over both stores.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TARGET = "tests/loopcore/store/test_contract.py::test_a_write_inside_a_read_is_refused"


def _run(tmp_path: Path, ci: str | None) -> subprocess.CompletedProcess[str]:
    (tmp_path / "hide_postgres.py").write_text(
        "import tests.pg_cluster as pg\npg.find_bin = lambda: None\n", encoding="utf-8"
    )
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    env["PYTHONPATH"] = os.pathsep.join([str(tmp_path), str(ROOT)])
    if ci is not None:
        env["CI"] = ci
    argv = [sys.executable, "-m", "pytest", "-p", "hide_postgres", "-p", "no:randomly", "-rsf"]
    return subprocess.run(
        [*argv, TARGET], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False
    )


@pytest.mark.slow
def test_without_postgres_the_postgres_half_skips_locally(tmp_path: Path) -> None:
    done = _run(tmp_path, None)
    assert done.returncode == 0, done.stdout[-2000:]
    assert "1 passed, 1 skipped" in done.stdout
    assert "PostgreSQL is not installed" in done.stdout


@pytest.mark.slow
def test_without_postgres_the_postgres_half_fails_under_ci(tmp_path: Path) -> None:
    done = _run(tmp_path, "true")
    assert done.returncode == 1, done.stdout[-2000:]
    assert "1 passed, 1 error" in done.stdout  # the fixture fails: an error, not a skip
    assert "CI=true: PostgreSQL must be installed" in done.stdout
