"""Proof that must appear and counter-evidence that must not, with presets for tool output."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from loopcore.evaluators._patterns import PatternSpec, TimedPattern
from loopcore.evaluators.base import EvalContext, Evaluation

__all__ = ["COUNTER_FACTOR", "PRESETS", "EvidenceEvaluator", "Preset"]

COUNTER_FACTOR = 0.3


@dataclass(frozen=True, kw_only=True, slots=True)
class Preset:
    """Named proof and counter patterns for a kind of tool output."""

    proof: tuple[PatternSpec, ...]
    counter: tuple[PatternSpec, ...]


def _p(pattern: str, message: str | None = None) -> PatternSpec:
    return PatternSpec(pattern=pattern, message=message)


_EXIT_NONZERO = _p(r"\bexit (?:code|status)[:= ]+-?[1-9]\d*", "the command exited non-zero")
_ERROR_COLON = _p(r"\berror:", "an 'error:' line is present")

PRESETS: dict[str, Preset] = {
    # Test runners: pytest, unittest, and anything that reports "exit code 0".
    "tests": Preset(
        proof=(
            _p(r"\b0 failed\b"),
            _p(r"\bpassed\b"),
            _p(r"\bexit (?:code|status)[:= ]+0\b"),
            _p(r"(?m)^OK\b"),
        ),
        counter=(
            _p(r"\b[1-9]\d* (?:failed|errors?)\b", "the output reports failed tests or errors"),
            _p(r"\bTraceback\b", "a Traceback is present"),
            _ERROR_COLON,
            _p(r"\bFAILED\b", "a FAILED line is present"),
            _EXIT_NONZERO,
        ),
    ),
    # Linters and type checkers: ruff, flake8, mypy, eslint-style summaries.
    "lint": Preset(
        proof=(
            _p(r"All checks passed"),
            _p(r"Success: no issues found"),
            _p(r"\b(?:Found )?0 (?:errors?|problems?|issues?)\b"),
            _p(r"\bexit (?:code|status)[:= ]+0\b"),
        ),
        counter=(
            _p(r"\b[1-9]\d* (?:errors?|problems?|issues?)\b", "the output reports lint errors"),
            _p(r"(?m):\d+:\d+: [A-Z]+\d+\b", "the output lists lint findings"),
            _ERROR_COLON,
            _EXIT_NONZERO,
        ),
    ),
}


@dataclass(frozen=True, kw_only=True, slots=True)
class EvidenceEvaluator:
    """Proof must appear; counter-evidence must not.

    P = 1 if any proof pattern matches (``require="any"``) or the share of proof
    patterns that match (``require="all"``); P = 1 when there are no proof
    patterns. h = the number of counter patterns that match (a counter search
    that times out counts as a match: it cannot be ruled out).
    Score = P x 0.3^h, so one piece of counter-evidence caps the score at 0.3.
    Passes when P = 1, h = 0 and no proof search timed out. "pytest: 3 failed,
    12 passed" fails the ``tests`` preset (proof "passed", counter "3 failed").
    """

    proof: tuple[TimedPattern, ...] = ()
    counter: tuple[TimedPattern, ...] = ()
    require: Literal["any", "all"] = "any"

    @property
    def name(self) -> str:
        """The spec type."""
        return "evidence"

    def evaluate(self, output: str, context: EvalContext | None = None) -> Evaluation:
        """Score the evidence in ``output``."""
        deficiencies: list[str] = []
        proof_score, proof_timeouts = self._proof(output, deficiencies)
        hits = 0
        for pattern in self.counter:
            match, timed_out = pattern.search(output)
            if timed_out:
                deficiencies.append(pattern.timeout_text())
                hits += 1
            elif match is not None:
                seen = match.group(0)[:80]
                default = f"counter-evidence {pattern.source!r} found"
                deficiencies.append(f"{pattern.message or default}: {seen!r}")
                hits += 1
        score = proof_score * COUNTER_FACTOR**hits
        passed = proof_score >= 1.0 and hits == 0 and not proof_timeouts
        return Evaluation.of(score, passed, deficiencies, details={"counter_hits": hits})

    def _proof(self, output: str, deficiencies: list[str]) -> tuple[float, int]:
        if not self.proof:
            return 1.0, 0
        found = timeouts = 0
        for pattern in self.proof:
            match, timed_out = pattern.search(output)
            if timed_out:
                deficiencies.append(pattern.timeout_text())
                timeouts += 1
            elif match is not None:
                found += 1
                if self.require == "any":
                    return 1.0, timeouts
            elif self.require == "all":
                deficiencies.append(pattern.message or f"missing proof {pattern.source!r}")
        if self.require == "any":
            listed = ", ".join(repr(p.source) for p in self.proof[:5])
            deficiencies.append(f"no proof found (expected one of {listed})")
            return 0.0, timeouts
        return found / len(self.proof), timeouts
