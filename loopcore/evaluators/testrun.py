"""Reading a test run's output (pytest, else the exit code) and scoring it against a baseline.

Progress is tracked by test identity, not totals, as tightloop's TestFixLoop
does: fixing the baseline's failing tests raises the score, breaking another
test lowers it and flags a regression even when the total improves.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from loopcore.evaluators.base import Evaluation

__all__ = ["RunReport", "RunScore", "parse_pytest", "score_run"]

MAX_NAMES = 1000
_SHOWN = 10
# Our own patterns, linear, on output already capped in size.
_DURATION = re.compile(r"\bin \d+(?:\.\d+)?s\b")
_COUNT = re.compile(r"\b(\d+) (passed|failed|errors?|skipped|xfailed|xpassed|deselected)\b")
_SUMMARY_ITEM = re.compile(r"^(FAILED|ERROR) ([^\s(][^\n]*?)(?: - ([^\n]*))?$", re.MULTILINE)
_VERBOSE_ITEM = re.compile(r"^(\S+::\S+) (?:FAILED|ERROR)\b", re.MULTILINE)


@dataclass(frozen=True, kw_only=True, slots=True)
class RunReport:
    """What a test run's output says.

    Attributes:
        summary: a pytest summary line was found ("3 failed, 12 passed in 0.5s").
        passed, failed, errors, skipped: the summary's counts (0 when absent).
        failing: failing or erroring test ids, sorted (file paths for collection errors).
        reasons: the short reason pytest gave per failing id, where it gave one.
    """

    summary: bool = False
    passed: int = 0
    failed: int = 0
    errors: int = 0
    skipped: int = 0
    failing: tuple[str, ...] = ()
    reasons: Mapping[str, str] = field(default_factory=dict)

    @property
    def total(self) -> int:
        """Tests that ran to a verdict: passed + failed + errors."""
        return self.passed + self.failed + self.errors

    @property
    def collection_errors(self) -> bool:
        """Some error is about a whole file (no ``::`` in its id): the set of tests is unknown."""
        return any("::" not in name for name in self.failing)


def parse_pytest(output: str) -> RunReport:
    """Counts from the last summary line and the ids from FAILED/ERROR lines."""
    counts: dict[str, int] = {}
    summary = False
    for line in reversed(output.splitlines()[-200:]):
        if _DURATION.search(line) and ("no tests ran" in line or _COUNT.search(line)):
            summary = True
            for number, word in _COUNT.findall(line):
                counts[word.rstrip("s") if word.startswith("error") else word] = int(number)
            break
    reasons: dict[str, str] = {}
    for match in _SUMMARY_ITEM.finditer(output):
        reasons.setdefault(match.group(2).strip(), (match.group(3) or "").strip()[:200])
    for match in _VERBOSE_ITEM.finditer(output):
        reasons.setdefault(match.group(1), "")
    return RunReport(
        summary=summary,
        passed=counts.get("passed", 0),
        failed=counts.get("failed", 0),
        errors=counts.get("error", 0),
        skipped=counts.get("skipped", 0),
        failing=tuple(sorted(reasons)[:MAX_NAMES]),
        reasons=reasons,
    )


@dataclass(frozen=True, kw_only=True, slots=True)
class RunScore:
    """A scored run: score, verdict, deficiencies and the details later runs compare to."""

    score: float
    passed: bool
    deficiencies: tuple[str, ...]
    details: dict[str, Any]


def _failing_of(evaluation: Evaluation | None) -> set[str] | None:
    names = evaluation.details.get("failing") if evaluation is not None else None
    if not isinstance(names, list | tuple):
        return None
    return {str(n) for n in names}


def _count_of(evaluation: Evaluation | None, key: str) -> int | None:
    value = evaluation.details.get(key) if evaluation is not None else None
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _conclusive(exit_code: int, report: RunReport) -> bool:
    """Whether the failing ids are the whole truth about this run."""
    if exit_code == 0:
        return True
    return (
        report.summary
        and bool(report.failing)
        and not report.collection_errors
        and len(report.failing) >= report.failed + report.errors
    )


def _missing(baseline: Evaluation | None, report: RunReport) -> int:
    """How many fewer tests reached a verdict than in the baseline (deleted or skipped)."""
    counts = [_count_of(baseline, k) for k in ("passed", "failed", "errors")]
    if any(c is None for c in counts) or not report.summary:
        return 0
    return max(0, sum(c for c in counts if c is not None) - report.total)


def score_run(
    exit_code: int,
    report: RunReport,
    *,
    baseline: Evaluation | None = None,
    previous: Evaluation | None = None,
) -> RunScore:
    """Score one finished run.

    With a baseline whose ``details["failing"]`` set B is not empty, and a
    conclusive run (exit code 0, or pytest named every failure, none of them a
    whole file) with failing set F::

        score = max(0, max(0, |B - F| - missing) - |F - B|) / |B|

    where ``missing`` = how many fewer tests reached a verdict than in the
    baseline (deleting or skipping a failing test is not fixing it). Otherwise:
    1.0 on exit code 0, else passed / (passed + failed + errors) when pytest
    counted any, else 0.0.

    ``newly_failing`` = F minus the tests failing in both the baseline and the
    previous evaluation (those given); ``regression`` = it is not empty.
    Passes when the exit code is 0 and pytest reports no failures or errors.
    """
    failing = set(report.failing)
    base = _failing_of(baseline)
    prev = _failing_of(previous)
    still = failing
    for reference in (base, prev):
        if reference is not None:
            still = still & reference
    newly = sorted(failing - still) if (base is not None or prev is not None) else []
    score, deficiencies = _against_baseline(exit_code, report, base, _missing(baseline, report))
    passed = exit_code == 0 and report.failed == 0 and report.errors == 0
    deficiencies += _failure_lines(report)
    if newly:
        deficiencies.append("regression: newly failing: " + _names(newly))
    details: dict[str, Any] = {
        "exit_code": exit_code,
        "failing": sorted(failing),
        "passed": report.passed,
        "failed": report.failed,
        "errors": report.errors,
        "skipped": report.skipped,
        "regression": bool(newly),
        "newly_failing": newly,
    }
    return RunScore(score=score, passed=passed, deficiencies=tuple(deficiencies), details=details)


def _against_baseline(
    exit_code: int, report: RunReport, base: set[str] | None, missing: int
) -> tuple[float, list[str]]:
    """The score of ``score_run``'s formula, and the deficiencies about the comparison."""
    failing = set(report.failing)
    if base and _conclusive(exit_code, report):
        fixed = max(0, len(base - failing) - missing)
        score = max(0, fixed - len(failing - base)) / len(base)
        if not missing:
            return score, []
        return score, [
            f"{missing} fewer tests ran than in the baseline; deleted or skipped tests "
            "do not count as fixed"
        ]
    if not base:
        return _plain_score(exit_code, report), []
    return _plain_score(exit_code, report), [
        "this run cannot be compared with the baseline test by test "
        "(collection error, or failures pytest did not name)"
    ]


def _plain_score(exit_code: int, report: RunReport) -> float:
    if exit_code == 0:
        return 1.0
    return report.passed / report.total if report.total else 0.0


def _names(names: list[str]) -> str:
    shown = ", ".join(names[:_SHOWN])
    return shown + (f" (and {len(names) - _SHOWN} more)" if len(names) > _SHOWN else "")


def _failure_lines(report: RunReport) -> list[str]:
    lines = []
    for name in report.failing[:_SHOWN]:
        reason = report.reasons.get(name, "")
        lines.append(f"failing: {name}" + (f" - {reason}" if reason else ""))
    if len(report.failing) > _SHOWN:
        lines.append(f"and {len(report.failing) - _SHOWN} more failing tests")
    return lines
