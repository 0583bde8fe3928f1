"""The done-when check of issue 20: AUC of the ``intercept`` tool's score over stdio.

Scores every row of a labelled JSONL file through the ``intercept`` tool of a
real ``loopcore serve`` subprocess, spawned and called with the official
``mcp`` client as ``bench/latency.py`` does, and reads the score from the tool
result. Nothing is fitted here: the server scores with the calibration it
ships. It prints, with 95% bootstrap intervals (resampling rows):

- ROC AUC of the score for well specified (label <= 1) against underspecified
  (>= 2): Mann-Whitney, ties counted one half; the target row is AUC >= 0.70;
- Spearman correlation of the score with ``3 - label``;
- the length baseline ``min(1, len/2000)`` on the same rows;

and how many tool scores differ from ``score_prompt`` run in this process by
more than the tool's rounding (scores go out with three decimals, so the tool's
AUC counts as ties scores that differ in the fourth): 0 when the server runs the
same code as this checkout.

On the default file the figures are in-sample: the shipped dimension weights
were fitted on those very rows (``bench/intercept_quality.py`` gives the honest
out-of-fold figure for them). Only a file the scorer was never fitted or
designed on gives the done-when figure.

The file has one JSON object per line with ``problem_statement`` (the text) and
``underspecified`` (0..3), as ``../shared/data/intercept_calibration.jsonl``
(the default); other fields (``instance_id``, ``repo``) are ignored. Whoever
holds a held-out sample runs:

    python bench/intercept_heldout.py --data heldout.jsonl

A missing or malformed ``--data`` file, or a text longer than the tool takes
(50,000 characters), is an error (exit 2) naming the line and field; a tool
error stops the run (exit 1); the default file missing is a clear skip (exit
0). ``--quick`` scores the first 30 rows with 200 resamples (a smoke test, not
a figure).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import anyio
from _common import checked, loopcore_params, machine_line, open_stdio, print_command, print_table
from intercept_quality import DATA, auc, interval, metric_cells, spearman

from loopcore.intercept import score_prompt
from loopcore.limits import LIMITS

TARGET = 0.70
QUICK_ROWS = 30
ROUNDING = 0.0005 + 1e-9  # the tool sends scores rounded to three decimals (SCORE_DIGITS)


@dataclass(frozen=True)
class Labelled:
    """One row of the file: the text and its label (0..3)."""

    text: str
    label: int


class DataError(Exception):
    """The data file is missing or a line is not a labelled row."""


def _row(line: str, number: int, path: Path) -> Labelled:
    """One line read and checked, or a DataError naming the line and field."""
    where = f"{path}:{number}"
    try:
        item = json.loads(line)
    except json.JSONDecodeError as exc:
        raise DataError(f"{where}: not JSON ({exc.msg})") from exc
    if not isinstance(item, dict):
        raise DataError(f"{where}: expected a JSON object")
    text, label = item.get("problem_statement"), item.get("underspecified")
    if not isinstance(text, str):
        raise DataError(f"{where}: field 'problem_statement' must be a string")
    if len(text) > LIMITS.prompt_chars:
        # The tool refuses longer prompts; cutting the text would score another request.
        raise DataError(
            f"{where}: field 'problem_statement' has {len(text):,} characters; the intercept "
            f"tool takes at most {LIMITS.prompt_chars:,} (drop or shorten that row)"
        )
    if isinstance(label, bool) or not isinstance(label, int) or not 0 <= label <= 3:
        raise DataError(f"{where}: field 'underspecified' must be an integer 0..3")
    return Labelled(text=text, label=label)


def load(path: Path) -> list[Labelled]:
    """The labelled rows of ``path`` (blank lines skipped).

    Raises:
        DataError: the file cannot be read, holds no rows, or a line is malformed.
    """
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: cannot be read ({exc})") from exc
    rows = [_row(line, n, path) for n, line in enumerate(lines, 1) if line.strip()]
    if not rows:
        raise DataError(f"{path}: no rows")
    return rows


async def tool_scores(rows: Sequence[Labelled]) -> list[float]:
    """The ``score`` of the intercept tool for each row, from one ``loopcore serve`` over stdio."""
    scores = []
    with tempfile.TemporaryDirectory(prefix="loopcore-heldout-") as tmp:
        db = Path(tmp) / "heldout.db"
        with open(Path(tmp) / "server.log", "w", encoding="utf-8") as errlog:
            async with open_stdio(loopcore_params(db, tools="core"), errlog) as server:
                for row in rows:
                    result = await server.client.call_tool("intercept", {"prompt": row.text})
                    scores.append(float(checked(result, "intercept")["score"]))
    return scores


Metric = Callable[[Sequence[float], Sequence[Labelled]], float]


def auc_of(scores: Sequence[float], rows: Sequence[Labelled]) -> float:
    return auc(scores, [r.label <= 1 for r in rows])


def spearman_of(scores: Sequence[float], rows: Sequence[Labelled]) -> float:
    return spearman(scores, [3 - r.label for r in rows])


def report(rows: Sequence[Labelled], scores: Sequence[float], n_boot: int) -> None:
    """Print the agreement table, the target and the in-process check."""
    length = [min(1.0, len(r.text) / 2000) for r in rows]
    tool_auc = interval(scores, rows, auc_of, n_boot, seed=1)
    table = [
        metric_cells(
            "intercept tool over stdio", tool_auc, interval(scores, rows, spearman_of, n_boot, 2)
        ),
        metric_cells(
            "length baseline min(1, len/2000)",
            interval(length, rows, auc_of, n_boot, 3),
            interval(length, rows, spearman_of, n_boot, 4),
        ),
    ]
    print_table(
        "Agreement with the labels",
        ["score", "AUC", "AUC 95% CI", "Spearman", "Spearman 95% CI"],
        table,
    )
    met = "MET" if tool_auc[0] >= TARGET else "MISSED" if tool_auc[0] == tool_auc[0] else "n/a"
    print_table(
        "Target (issue 20, on a held-out random sample)",
        ["target", "AUC", "95% CI", "result"],
        [
            [
                f"AUC >= {TARGET:.2f}",
                f"{tool_auc[0]:.3f}",
                f"[{tool_auc[1]:.3f}, {tool_auc[2]:.3f}]",
                met,
            ]
        ],
    )
    differ = sum(
        abs(s - score_prompt(r.text).score) > ROUNDING for s, r in zip(scores, rows, strict=True)
    )
    print(
        "\ntool scores differing from score_prompt in this process by more than the tool's "
        f"rounding: {differ} of {len(rows)}"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--data", type=Path, help=f"labelled JSONL (default {DATA.name})")
    parser.add_argument(
        "--quick", action="store_true", help=f"first {QUICK_ROWS} rows, 200 resamples"
    )
    parser.add_argument("--boot", type=int, default=2000, help="bootstrap resamples")
    args = parser.parse_args(argv)
    print_command()
    if args.data is None and not DATA.exists():
        print(f"skipped: {DATA} not found (the labelled issues live in ../shared/data)")
        return 0
    path = args.data or DATA
    try:
        rows = load(path)
    except DataError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    rows = rows[:QUICK_ROWS] if args.quick else rows
    n_boot = 200 if args.quick else args.boot
    print(machine_line())
    labels = [sum(r.label == v for r in rows) for v in range(4)]
    well = sum(r.label <= 1 for r in rows)
    print(
        f"data: {path}, N={len(rows)}, labels 0/1/2/3 = {labels}; well specified (<=1) {well}, "
        f"underspecified (>=2) {len(rows) - well}; {n_boot} bootstrap resamples of rows"
    )
    print("scored by: intercept (judge=heuristic) on `loopcore serve` over stdio, one session")
    if path.resolve() == DATA.resolve():
        print(
            "note: the shipped weights were fitted on these rows: in-sample figures, not the "
            "held-out check (their out-of-fold figure: bench/intercept_quality.py)"
        )
    try:
        scores = anyio.run(tool_scores, rows)
    except RuntimeError as exc:  # a tool error, or no server process: nothing to report
        print(f"error: {exc}", file=sys.stderr)
        return 1
    report(rows, scores, n_boot)
    return 0


if __name__ == "__main__":
    sys.exit(main())
