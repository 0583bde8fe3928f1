"""Each of loopcore's own benchmark scripts runs with tiny counts and prints its tables."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.bench.helpers import ROOT, run_bench, run_quick


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_latency_quick_prints_its_three_tables() -> None:
    """bench/latency.py --quick prints the round-trip, flatness and throughput tables."""
    out = run_quick("latency.py")
    assert "| transport | tool | calls | p50 ms | p95 ms | x floor p50 | target | result |" in out
    assert "| stdio | echo (floor) | 10 |" in out
    assert "| in process | loop_step | 10 |" in out
    assert "| transport | tool | small | large | large/small | target | result |" in out
    assert (
        "| transport | server | tool | mode | calls | calls/s (median) | x floor "
        "| x serial (>= 1.0x) | result | p50 ms | p95 ms |" in out
    )
    assert "| in process | loopcore | verify_output | 5 in flight | 1 x 10 |" in out


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_coldstart_quick_prints_start_rss_and_list_size() -> None:
    """bench/coldstart.py --quick prints cold start, peak RSS and tools/list size tables."""
    out = run_quick("coldstart.py")
    assert "| server | client mode | runs | median s | p95 s | x floor | server CPU s |" in out
    assert "| server | runs | median MiB | p95 MiB | x floor | target | result |" in out
    assert "| server | tools | bytes | target | result |" in out
    assert "| loopcore, LOOPCORE_TOOLS=core | legacy | 1 |" in out


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_concurrency_quick_checks_every_ack() -> None:
    """bench/concurrency.py --quick runs 2 x 20 mutations and finds none lost."""
    out = run_quick("concurrency.py")
    header = "| processes x mutations | acked | wall s | mutations/s | p50 ms | p95 ms | errors |"
    assert header in out
    row = next(line for line in out.splitlines() if line.startswith("| 2 x 20 |"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[1] == "40"
    assert cells[6:9] == ["0", "0", "0"]


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_floor_server_answers_echo_over_stdio() -> None:
    """The floor server lists one tool, echo, and echoes over real stdio."""
    code = (
        "import anyio, sys\n"
        "from mcp import Client, StdioServerParameters\n"
        "async def main():\n"
        "    p = StdioServerParameters(command=sys.executable, args=['bench/floor_server.py'])\n"
        "    async with Client(p) as c:\n"
        "        names = [t.name for t in (await c.list_tools()).tools]\n"
        "        r = await c.call_tool('echo', {'text': 'hi'})\n"
        "        print(names, r.structured_content)\n"
        "anyio.run(main)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=100
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip() == "['echo'] {'result': 'hi'}"


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_store_backends_quick_compares_both_stores_and_finds_no_double_claim() -> None:
    """bench/store_backends.py --quick prints its tables; no problem and no task claimed twice."""
    from tests.pg_cluster import find_bin

    if find_bin() is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("PostgreSQL is not installed (CI=true)")
        pytest.skip("PostgreSQL is not installed (apt-get install -y postgresql)")
    out = run_quick("store_backends.py")
    assert "| store | mutations | wall s | mutations/s |" in out
    rows = [line for line in out.splitlines() if "| 4 x 1 plan | 48 |" in line]
    assert len(rows) == 2 and all(r.split("|")[6].strip() == "0" for r in rows)
    strategies = [
        line for line in out.splitlines() if line.startswith(("| plan row", "| FOR UPDATE"))
    ]
    assert [line.rstrip(" |").rsplit("|", 1)[1].strip() for line in strategies] == ["0", "0"]


def test_session_bytes_prints_its_table() -> None:
    """bench/session_bytes.py --quick prints the bytes of every call of the session."""
    out = run_quick("session_bytes.py")
    assert "### Bytes of tools/call results in one session" in out
    for tool in ("plan_create", "verify_output", "plan_record", "loop_step", "**session**"):
        assert f"| {tool} |" in out


def test_sql_per_call_quick_counts_every_tool() -> None:
    """bench/sql_per_call.py --quick prints a statement count for each hot tool call."""
    out = run_quick("sql_per_call.py")
    assert "| tool call | calls | median | min | max |" in out
    rows = {
        cells[0]: cells[1:]
        for line in out.splitlines()
        if line.startswith("| ") and not line.startswith(("| tool", "|---"))
        for cells in [[c.strip() for c in line.strip("|").split("|")]]
    }
    assert set(rows) == {
        "plan_next_task",
        "plan_record (output_score)",
        "plan_record (output, scored by acceptance)",
        "loop_step",
        "verify_output (no plan)",
        "intercept",
        "plan_next_task (host can be asked)",
        "plan_record (output_score) (host can be asked)",
        "plan_record (output, scored by acceptance) (host can be asked)",
    }
    # intercept writes its row behind the answer: its statements may fall after the call.
    assert all(float(rows[k][1]) > 0 for k in rows if k.startswith(("plan_", "loop_")))
    # a host that can be asked costs plan_record one read of the task, for its questions
    assert float(rows["plan_record (output_score) (host can be asked)"][1]) == (
        float(rows["plan_record (output_score)"][1]) + 1
    )


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_starvation_quick_prints_the_latency_table() -> None:
    """bench/starvation.py --quick prints plan_status idle and with slow evaluations in flight."""
    out = run_quick("starvation.py")
    assert "| call | slow in flight | calls | p50 ms | p95 ms | max ms |" in out
    assert "| plan_status | 6 | 5 |" in out


def _labelled(path: Path) -> Path:
    """A small labelled file in the format of intercept_calibration.jsonl, both classes."""
    rows = [
        ("Fix parse() in src/app.py: it raises KeyError on '', it should return {}.", 0),
        ("download() should retry 3 times with a 2 s backoff, then raise DownloadError.", 0),
        ("Rename utils.py to helpers.py and update the imports; behaviour unchanged.", 1),
        ("make the app faster", 2),
        ("something is off with the stuff, maybe fix it?", 3),
        ("Improve the docs, or maybe the API, whichever you think.", 2),
    ]
    lines = [json.dumps({"problem_statement": t, "underspecified": lab}) for t, lab in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_intercept_heldout_quick_scores_a_file_through_the_tool_over_stdio(
    tmp_path: Path,
) -> None:
    """bench/intercept_heldout.py --data F --quick prints the AUC from tool scores over stdio."""
    data = _labelled(tmp_path / "sample.jsonl")
    out = run_bench("intercept_heldout.py", "--data", str(data), "--quick")
    assert "N=6, labels 0/1/2/3 = [2, 1, 2, 1]" in out
    assert "| score | AUC | AUC 95% CI | Spearman | Spearman 95% CI |" in out
    row = next(
        line for line in out.splitlines() if line.startswith("| intercept tool over stdio |")
    )
    assert 0.0 <= float(row.split("|")[2]) <= 1.0
    assert "| AUC >= 0.70 |" in out
    # The scores came from a server running this checkout: each equals score_prompt's.
    assert "rounding: 0 of 6" in out


@pytest.mark.slow
@pytest.mark.timeout(120)
@pytest.mark.parametrize(
    ("second", "message"),
    [
        ('{"problem_statement": "b", "underspecified": 7}', "field 'underspecified' must be"),
        ('{"underspecified": 1}', "field 'problem_statement' must be a string"),
        (
            json.dumps({"problem_statement": "x" * 50_001, "underspecified": 1}),
            "field 'problem_statement' has 50,001 characters; the intercept tool takes at most",
        ),
        ("not json", "not JSON"),
    ],
)
def test_intercept_heldout_refuses_a_malformed_file_naming_line_and_field(
    tmp_path: Path, second: str, message: str
) -> None:
    """A bad second line is an error naming the file, the line and the field; exit 2."""
    data = tmp_path / "bad.jsonl"
    data.write_text(
        '{"problem_statement": "a", "underspecified": 1}\n' + second + "\n", encoding="utf-8"
    )
    done = subprocess.run(
        [sys.executable, "bench/intercept_heldout.py", "--data", str(data)],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=100,
        check=False,
    )
    assert done.returncode == 2
    assert f"error: {data}:2: {message}" in done.stderr
    assert "Traceback" not in done.stderr
