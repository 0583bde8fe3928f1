"""Dimension scores from features, and the overall score from dimensions.

Each dimension is a fixed, monotone combination of features (the direction of
every feature is set by reasoning; see ``features.FEATURE_DOCS``). Evidence is
combined with a noisy-or, ``1 - prod(1 - strength_i)``: any one good sign
helps, more help with diminishing returns, and none can push past 1.

Every dimension is named so that higher is better and the name says what is
good: ``clarity`` 1.0 is a request that leaves no choice open (it was called
``ambiguity`` before, which read backwards).

The overall score is a weighted mean of the dimensions that apply. A
reproduction applies fully when the text reports a failure or asks for a
change of degree (faster, smaller: the starting point must be measured), and
at ``NON_FAILURE_REPRO`` of its weight otherwise (0: left out of the mean, as
counting it at 0.5 or 1 did not agree better with the labelled issues); its
value is still reported, and reads whether the starting state can be seen at
all (an example, steps, a number, the place). It is never 1.0 without
evidence, nor at all (each piece of evidence is partial): "make the app
faster" has none and scores 0. The weights are
the only numbers set from data (``calibration.json``, written by
``bench/intercept_quality.py``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

__all__ = [
    "DEFAULT_WEIGHTS",
    "DIMENSIONS",
    "NON_FAILURE_REPRO",
    "applicability",
    "compute_dimensions",
    "grade_for",
    "overall",
]

DIMENSIONS = (
    "specificity",
    "context",
    "reproducibility",
    "acceptance_criteria",
    "constraints",
    "clarity",
)
# How much reproducibility counts when nothing is reported failing or too slow.
NON_FAILURE_REPRO = 0.0

# Weights by reasoning, used when no calibration is shipped: what is asked and
# how to know it is done matter most; stated constraints matter least, since
# most good requests need none.
DEFAULT_WEIGHTS: Mapping[str, float] = {
    "specificity": 0.25,
    "context": 0.10,
    "reproducibility": 0.15,
    "acceptance_criteria": 0.25,
    "constraints": 0.05,
    "clarity": 0.20,
}

_GRADES = ((0.80, "A"), (0.65, "B"), (0.50, "C"), (0.35, "D"))


def _sat(x: float, scale: float) -> float:
    """0 at 0, rising with diminishing returns towards 1."""
    return 1.0 - math.exp(-max(0.0, x) / scale)


def _noisy_or(*strengths: float) -> float:
    miss = 1.0
    for s in strengths:
        # The same as miss *= 1.0 - min(1.0, max(0.0, s)), without two calls per strength:
        # a strength of 0 (or below, or NaN) multiplies by exactly 1.0, so it is skipped.
        if s > 0.0:
            miss *= 1.0 - (s if s < 1.0 else 1.0)
    return 1.0 - miss


def _specificity(f: Mapping[str, float]) -> float:
    # The names the prose points at, not every name in a pasted traceback (_reasoning).
    return 0.4 * f["goal"] + 0.3 * _sat(f["named"], 3.0) + 0.2 * f["location"] + 0.1 * f["length"]


def _context(f: Mapping[str, float]) -> float:
    # Naming the exact place in the code supplies much of the background a
    # coding agent needs: it can read the code there.
    return _noisy_or(
        0.45 * f["observed"],
        0.35 * _sat(f["versions"], 1.0),
        0.3 * f["rationale"],
        0.3 * f["diagnosis"],
        0.4 * f["length"],
        0.6 * f["location"],
        0.4 * _sat(f["context_words"], 20.0),
        # The place named is shown in the quoted code: the agent can find it.
        0.4 * _sat(f["grounded"], 2.0),
    )


def _reproducibility(f: Mapping[str, float]) -> float:
    if f["failure"]:
        return _noisy_or(
            0.6 * f["code"],
            0.5 * f["repro_steps"],
            0.45 * f["error_output"],
            0.3 * _sat(f["versions"], 1.0),
        )
    # Nothing failing: can the starting state be seen? An example of use, steps, a number
    # (for "faster": how slow now, the target), a test, the place. None of these, and the
    # agent starts from a guess.
    return _noisy_or(
        0.6 * f["code"],
        0.5 * f["repro_steps"],
        0.4 * f["bounds"],
        0.4 * f["tests"],
        0.3 * f["location"],
    )


def _acceptance(f: Mapping[str, float]) -> float:
    return _noisy_or(
        0.6 * f["desired"],
        0.5 * f["proposal"],
        0.5 * f["tests"],
        0.45 * f["bounds"],
        0.35 * f["behaviour"],
        # A reported failure implies one criterion, that it stops failing; weaker when
        # nothing says what should happen instead (only_observed).
        0.3 * f["failure"] * (1.0 - 0.5 * f["only_observed"]),
        # Code shows the case that must work, or the interface wanted.
        0.3 * f["code"],
    )


def _constraints(f: Mapping[str, float]) -> float:
    # Most requests need no constraint, so none stated is a middling score, not zero.
    return 0.4 + 0.6 * _noisy_or(0.7 * _sat(f["constraints"], 1.0), 0.5 * f["bounds"])


def _clarity(f: Mapping[str, float]) -> float:
    # A link to a page other than code is substance the agent may not be able to read: a
    # milder doubt than "as discussed" (0.1 a link against 0.2), and capped, since a
    # careful report may cite a few sources.
    # A doubt about facts (maybe, it seems) costs less than a choice left open (whether
    # to, should we, or maybe): the first is about the report, the second about the work.
    question_cost = 0.1 if (f["proposal"] or f["expected"]) else 0.25
    return (
        f["prose"]
        * math.exp(-0.3 * f["hedges"])
        * math.exp(-0.4 * min(f["decisions"], 3.0))
        * math.exp(-0.25 * min(f["contradictions"], 2.0))
        * math.exp(-0.2 * f["vague"])
        * math.exp(-0.2 * f["elsewhere"])
        * math.exp(-0.1 * min(f["links"], 3.0))
        * math.exp(-question_cost * min(f["questions"], 4.0))
        * math.exp(-0.2 * max(0.0, f["asks"] - 2.0))
    )


def applicability(features: Mapping[str, float]) -> dict[str, float]:
    """How much each dimension counts (1; reproducibility less when nothing fails or lags)."""
    repro = 1.0 if features["failure"] or features["comparative"] else NON_FAILURE_REPRO
    return {d: (repro if d == "reproducibility" else 1.0) for d in DIMENSIONS}


def compute_dimensions(features: Mapping[str, float]) -> dict[str, float]:
    """The six dimension scores in [0, 1], higher is better."""
    dims = {
        "specificity": _specificity(features),
        "context": _context(features),
        "reproducibility": _reproducibility(features),
        "acceptance_criteria": _acceptance(features),
        "constraints": _constraints(features),
        "clarity": _clarity(features),
    }
    return {k: min(1.0, max(0.0, v)) for k, v in dims.items()}


def overall(
    dims: Mapping[str, float], features: Mapping[str, float], weights: Mapping[str, float]
) -> float:
    """Weighted mean of the dimensions that apply, in [0, 1]."""
    apply = applicability(features)
    num = sum(weights[d] * apply[d] * dims[d] for d in DIMENSIONS)
    den = sum(weights[d] * apply[d] for d in DIMENSIONS)
    return min(1.0, max(0.0, num / den)) if den > 0 else 0.0


def grade_for(score: float) -> str:
    """A (>= 0.80), B (>= 0.65), C (>= 0.50), D (>= 0.35), else F."""
    for floor, grade in _GRADES:
        if score >= floor:
            return grade
    return "F"
