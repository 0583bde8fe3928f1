"""bench/team.py --quick runs its replicas and prints its tables with no error."""

from __future__ import annotations

import os

import pytest

from tests.bench.helpers import run_quick


@pytest.mark.slow
def test_team_bench_quick_prints_both_tables_without_errors_or_double_claims() -> None:
    from tests.pg_cluster import find_bin

    if find_bin() is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("PostgreSQL is not installed (CI=true)")
        pytest.skip("PostgreSQL is not installed (apt-get install -y postgresql)")
    out = run_quick("team.py")
    spread = [line for line in out.splitlines() if line.startswith("| PostgreSQL, ")]
    assert [r.split("|")[1].strip() for r in spread] == [
        "PostgreSQL, 1 replica",
        "PostgreSQL, 2 replicas",
        "PostgreSQL, 2 replicas",
    ]
    for row in spread[:2]:  # spread: 4 clients x 5 rounds x 2 calls, no error
        cells = [c.strip() for c in row.split("|")[1:-1]]
        assert cells[2] == "40" and cells[-1] == "0"
    contended = [c.strip() for c in spread[2].split("|")[1:-1]]
    assert contended[2] == "40" and contended[-2:] == ["0", "0"]  # no double claim, no error
    assert "| floor: bare SDK server" in out and "| SQLite, 1 process |" in out
    notified = out.split("(LISTEN/NOTIFY)", 1)[1].strip().splitlines()[2]
    assert notified.startswith("| 5 |")  # five changes, each heard on the other replica
