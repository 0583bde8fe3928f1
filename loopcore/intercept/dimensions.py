"""Dimension scores from features, and the overall score from dimensions.

Each dimension is a fixed, monotone combination of features (the direction of
every feature is set by reasoning; see ``features.FEATURE_DOCS``). Evidence is
combined with a noisy-or, ``1 - prod(1 - strength_i)``: any one good sign
helps, more help with diminishing returns, and none can push past 1.

The overall score is a weighted mean of the dimensions that apply. A
reproduction only applies when the text reports a failure: a feature request
has nothing to reproduce, so its reproducibility is reported as 1.0 (no blank)
and left out of the mean. The weights are the only numbers set from data
(``calibration.json``, written by ``bench/intercept_quality.py``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

__all__ = [
    "DEFAULT_WEIGHTS",
    "DIMENSIONS",
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
    "ambiguity",
)

# Weights by reasoning, used when no calibration is shipped: what is asked and
# how to know it is done matter most; stated constraints matter least, since
# most good requests need none.
DEFAULT_WEIGHTS: Mapping[str, float] = {
    "specificity": 0.25,
    "context": 0.10,
    "reproducibility": 0.15,
    "acceptance_criteria": 0.25,
    "constraints": 0.05,
    "ambiguity": 0.20,
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
    return 0.4 * f["goal"] + 0.3 * _sat(f["anchors"], 3.0) + 0.2 * f["location"] + 0.1 * f["length"]


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
    )


def _reproducibility(f: Mapping[str, float]) -> float:
    return _noisy_or(
        0.6 * f["code"],
        0.5 * f["repro_steps"],
        0.45 * f["error_output"],
        0.3 * _sat(f["versions"], 1.0),
    )


def _acceptance(f: Mapping[str, float]) -> float:
    return _noisy_or(
        0.6 * f["expected"],
        0.5 * f["proposal"],
        0.5 * f["tests"],
        0.45 * f["bounds"],
        0.35 * f["behaviour"],
        # A reported failure implies one criterion: it must stop failing.
        0.3 * f["failure"],
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
    question_cost = 0.1 if (f["proposal"] or f["expected"]) else 0.25
    return (
        f["prose"]
        * math.exp(-0.3 * f["hedges"])
        * math.exp(-0.2 * f["vague"])
        * math.exp(-0.2 * f["elsewhere"])
        * math.exp(-0.1 * min(f["links"], 3.0))
        * math.exp(-question_cost * min(f["questions"], 4.0))
        * math.exp(-0.2 * max(0.0, f["asks"] - 2.0))
    )


def applicability(features: Mapping[str, float]) -> dict[str, float]:
    """How much each dimension counts for this request (1, or 0 for a non-failure repro)."""
    return {d: (features["failure"] if d == "reproducibility" else 1.0) for d in DIMENSIONS}


def compute_dimensions(features: Mapping[str, float]) -> dict[str, float]:
    """The six dimension scores in [0, 1], higher is better."""
    repro = _reproducibility(features) if features["failure"] else 1.0
    dims = {
        "specificity": _specificity(features),
        "context": _context(features),
        "reproducibility": repro,
        "acceptance_criteria": _acceptance(features),
        "constraints": _constraints(features),
        "ambiguity": _clarity(features),
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
