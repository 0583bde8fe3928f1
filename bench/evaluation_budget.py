"""Worst-case evaluations against their time budget (issue 16, part 2).

Each case is a spec and an output built to be as slow as the spec allows: 100
patterns that each run into the regex time limit, a composite of such parts,
a schema ``pattern`` over 100 strings, ``uniqueItems`` over 4,000 objects (10 s
before the fix), a keyword-heavy schema over 200,000 objects. In process, every
case is timed against the budget (target: p95 within 1.1x the budget plus 0.1 s)
and against its floor, the same spec on a harmless output, measured in the same
run, alternating run by run. Over stdio, the 100-pattern case goes through
``loopcore serve`` (``LOOPCORE_EVALUATION_BUDGET_S``) next to the floor server's
echo, and a cheap call right after shows the server is free again.

    .venv/bin/python bench/evaluation_budget.py [--budget 2] [--runs 7] [--quick]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
from _common import (
    checked,
    floor_params,
    loopcore_params,
    machine_line,
    ms,
    now,
    open_stdio,
    p50_p95,
    print_command,
    print_table,
    verdict,
)

from loopcore.evaluators import FactoryOptions, build_evaluator

CATASTROPHIC = "(a|aa)+$"
SLOW_TEXT = "a" * 5_000 + "!"
REGEX_TIMEOUT_S = 0.5
SLACK_RATIO = 1.1
SLACK_S = 0.1


@dataclass(frozen=True)
class Case:
    """A spec, the output that makes it slow and a harmless output for its floor."""

    name: str
    spec: dict[str, Any]
    worst: str
    harmless: str


def _cases(scale: int) -> list[Case]:
    regex = {"type": "regex", "required": [CATASTROPHIC] * 100}
    parts = [
        {"spec": {"type": "regex", "forbidden": [CATASTROPHIC] * 40}},
        {"spec": {"type": "evidence", "proof": [CATASTROPHIC] * 40}},
        {
            "spec": {
                "type": "completeness",
                "aspects": [{"name": "a", "patterns": [CATASTROPHIC]}] * 20,
            }
        },
    ]
    items = {"type": "array", "items": {"type": "string", "pattern": CATASTROPHIC}}
    unique = {"type": "array", "uniqueItems": True}
    heavy = {
        "type": "array",
        "items": {"type": "object", "required": ["id", "name"], "properties": {
            "id": {"type": "integer", "minimum": 0}, "name": {"type": "string", "maxLength": 20}}},
    }  # fmt: skip
    objects = [{"id": i, "name": f"n{i}", "tags": [i, str(i)]} for i in range(4_000 // scale)]
    many = [{"id": i, "name": f"n{i}"} for i in range(200_000 // scale)]
    return [
        Case("regex: 100 slow patterns", regex, SLOW_TEXT, "aaa"),
        Case("composite: 3 parts, 100 slow patterns", {"type": "composite", "parts": parts},
             SLOW_TEXT, "aaa"),
        Case("json_schema: pattern over 100 strings", {"type": "json_schema", "schema": items},
             json.dumps([SLOW_TEXT] * 100), json.dumps(["aaa"] * 100)),
        Case("json_schema: uniqueItems, 4,000 objects", {"type": "json_schema", "schema": unique},
             json.dumps(objects), json.dumps(objects[:10])),
        Case("json_schema: 200,000 objects, 6 keywords each",
             {"type": "json_schema", "schema": heavy}, json.dumps(many), json.dumps(many[:10])),
    ]  # fmt: skip


def _time(fn: Callable[[str], object], text: str) -> float:
    start = now()
    fn(text)
    return now() - start


def run_in_process(budget: float, runs: int, scale: int) -> None:
    """Time every case and its floor, alternating, and print the table."""
    options = FactoryOptions(regex_timeout_s=REGEX_TIMEOUT_S, evaluation_budget_s=budget)
    rows = []
    for case in _cases(scale):
        evaluator = build_evaluator(case.spec, options)
        evaluator.evaluate(case.harmless)  # warm: patterns compiled, validator built
        worst: list[float] = []
        floor: list[float] = []
        timed_out = 0
        for _ in range(runs):
            floor.append(_time(evaluator.evaluate, case.harmless))
            start = now()
            result = evaluator.evaluate(case.worst)
            worst.append(now() - start)
            timed_out += bool(result.details.get("timed_out"))
        p50, p95 = p50_p95(worst)
        f50, _ = p50_p95(floor)
        limit = budget * SLACK_RATIO + SLACK_S
        ratios = [f"{p95 / budget:.2f}x", f"{timed_out}/{runs}", ms(f50), f"{p50 / f50:,.0f}x"]
        target = [f"p95 <= {limit:.2f} s", verdict(p95 <= limit)]
        rows.append([case.name, runs, f"{p50:.3f}", f"{p95:.3f}", f"{budget:g}", *ratios, *target])
    print_table(
        f"Worst-case evaluations in process (budget {budget:g} s, regex limit {REGEX_TIMEOUT_S} s)",
        ["case", "runs", "p50 s", "p95 s", "budget s", "p95 / budget", "timed out",
         "floor p50 ms (same spec, harmless output)", "x floor", "target", "result"],
        rows,
    )  # fmt: skip


async def run_stdio(budget: float, runs: int) -> None:
    """The 100-pattern case through ``loopcore serve``, next to the floor server's echo."""
    spec = _cases(1)[0].spec
    env_extra = {"LOOPCORE_EVALUATION_BUDGET_S": f"{budget:g}",
                 "LOOPCORE_REGEX_TIMEOUT_S": str(REGEX_TIMEOUT_S)}  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp, open(Path(tmp) / "stderr.log", "w") as log:
        params = loopcore_params(Path(tmp) / "loopcore.db")
        params.env = {**(params.env or {}), **env_extra}
        worst: list[float] = []
        after: list[float] = []
        echo: list[float] = []
        async with open_stdio(floor_params(), log) as floor, open_stdio(params, log) as server:
            client = server.client
            for i in range(runs):
                start = now()
                checked(await floor.client.call_tool("echo", {"text": f"x{i}"}), "echo")
                echo.append(now() - start)
                start = now()
                call = {"output": SLOW_TEXT, "evaluator": spec}
                out = checked(await client.call_tool("verify_output", call), "verify_output")
                worst.append(now() - start)
                if not out["deficiencies"][0].startswith("the evaluation timed out"):
                    raise RuntimeError(f"expected a budget time-out, got {out['deficiencies'][:1]}")
                start = now()
                cheap = {"output": f"ok {i}", "evaluator": {"type": "regex", "required": ["ok"]}}
                checked(await client.call_tool("verify_output", cheap), "verify_output")
                after.append(now() - start)
    limit = budget * SLACK_RATIO + SLACK_S
    e50, _ = p50_p95(echo)
    rows = []
    for name, xs, target in (
        ("verify_output: regex, 100 slow patterns", worst, f"p95 <= {limit:.2f} s"),
        ("verify_output: regex 'ok' right after", after, "info"),
    ):
        p50, p95 = p50_p95(xs)
        met = verdict(p95 <= limit) if target != "info" else "—"
        rows.append([name, runs, ms(p50), ms(p95), f"{p50 / e50:,.1f}x", target, met])
    rows.insert(0, ["echo (floor)", runs, ms(e50), ms(p50_p95(echo)[1]), "1.00x", "floor", "—"])
    print_table(
        f"Over stdio (`loopcore serve`, LOOPCORE_EVALUATION_BUDGET_S={budget:g})",
        ["call", "calls", "p50 ms", "p95 ms", "x floor p50", "target", "result"],
        rows,
    )


def main(argv: list[str] | None = None) -> int:
    """Parse the options, print the command, the machine and the tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=float, default=2.0, help="evaluation budget, seconds")
    parser.add_argument("--runs", type=int, default=7, help="timed runs per case")
    parser.add_argument("--quick", action="store_true", help="tiny counts (the smoke test)")
    args = parser.parse_args(argv)
    print_command()
    print(machine_line())
    budget, runs, scale = (0.5, 1, 20) if args.quick else (args.budget, args.runs, 1)
    print(f"budget: {budget:g} s; regex limit per search: {REGEX_TIMEOUT_S} s; runs: {runs}")
    run_in_process(budget, runs, scale)
    anyio.run(run_stdio, budget, runs)
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
