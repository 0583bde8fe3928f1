"""The few numbers set from data: the dimension weights of the overall score.

``bench/intercept_quality.py --write-calibration`` fits them on the labelled
issues and writes ``calibration.json`` beside this module (package data).
When the file is missing or malformed the scorer uses the weights set by
reasoning (``dimensions.DEFAULT_WEIGHTS``) and says so in ``source``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Any

import structlog

from loopcore.errors import InvalidInput
from loopcore.intercept.dimensions import DEFAULT_WEIGHTS, DIMENSIONS

__all__ = ["CALIBRATION_FILE", "Calibration", "load_calibration", "parse_calibration"]

CALIBRATION_FILE = "calibration.json"


@dataclass(frozen=True, kw_only=True, slots=True)
class Calibration:
    """Dimension weights (summing to 1) and where they came from.

    Attributes:
        weights: one non-negative weight per dimension, summing to 1.
        source: ``"calibration.json"`` or ``"defaults"``.
        meta: what the bench recorded (date, N, cross-validated figures).
    """

    weights: Mapping[str, float]
    source: str = "defaults"
    meta: Mapping[str, Any] = field(default_factory=dict)


def _normalised(weights: Mapping[str, float]) -> dict[str, float]:
    total = sum(weights.values())
    return {d: weights[d] / total for d in DIMENSIONS}


def parse_calibration(data: Any, *, source: str = CALIBRATION_FILE) -> Calibration:
    """Check and normalise a calibration document.

    Raises:
        InvalidInput: not an object with one finite, non-negative weight per
            dimension and a positive total.
    """
    if not isinstance(data, dict) or not isinstance(data.get("weights"), dict):
        raise InvalidInput("must be an object with a 'weights' object", field="calibration")
    raw = data["weights"]
    if set(raw) != set(DIMENSIONS):
        raise InvalidInput(f"weights must name exactly {list(DIMENSIONS)}", field="weights")
    weights: dict[str, float] = {}
    for dim in DIMENSIONS:
        value = raw[dim]
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise InvalidInput("must be a number", field=f"weights.{dim}")
        if not math.isfinite(value) or value < 0:
            raise InvalidInput("must be finite and >= 0", field=f"weights.{dim}")
        weights[dim] = float(value)
    if sum(weights.values()) <= 0:
        raise InvalidInput("must not all be zero", field="weights")
    meta = data.get("meta", {})
    return Calibration(
        weights=_normalised(weights),
        source=source,
        meta=dict(meta) if isinstance(meta, dict) else {},
    )


@lru_cache(maxsize=1)
def load_calibration() -> Calibration:
    """The shipped calibration, or the reasoned defaults when it is absent or unusable."""
    try:
        text = resources.files("loopcore.intercept").joinpath(CALIBRATION_FILE).read_text("utf-8")
        return parse_calibration(json.loads(text))
    except (OSError, ValueError, InvalidInput) as exc:
        structlog.get_logger().warning("intercept.calibration_defaults", reason=str(exc))
        return Calibration(weights=_normalised(DEFAULT_WEIGHTS), source="defaults")
