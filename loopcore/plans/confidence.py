"""The confidence maths of scored plans (DESIGN.md, "Plans and confidence").

- Task confidence: ``0.35 * prompt + 0.65 * output`` when both scores exist,
  else whichever exists; ``None`` (unscored) when neither does. A score of
  0.0 is a real score.
- Plan rolling confidence: over the scored tasks ordered by when they were
  scored (oldest first, index ``i`` of ``n``), the mean weighted by
  ``decay ** (n - 1 - i)`` with ``decay = 0.85``; 1.0 when nothing is scored.
- A plan needs a replan when its rolling confidence is below its threshold
  (0.72 by default).

Only the newest ``WINDOW`` scored tasks are read: an older one weighs at most
``0.85 ** 200 ≈ 7.7e-15`` of the newest, so together they move the result by
less than 1e-13, and recording a score costs the same in a plan of 20 tasks or
of 1,000.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from loopcore.errors import InvalidInput

__all__ = [
    "DECAY",
    "DEFAULT_THRESHOLD",
    "OUTPUT_WEIGHT",
    "PROMPT_WEIGHT",
    "WINDOW",
    "check_score",
    "rolling_confidence",
    "task_confidence",
]

PROMPT_WEIGHT = 0.35
OUTPUT_WEIGHT = 0.65
DECAY = 0.85
DEFAULT_THRESHOLD = 0.72
WINDOW = 200


def check_score(value: object, field: str) -> float:
    """Return ``value`` as a float when it is a finite number in [0, 1].

    Raises:
        InvalidInput: naming ``field`` otherwise.
    """
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidInput(f"must be a number in [0, 1], got {value!r}", field=field)
    x = float(value)
    if not (math.isfinite(x) and 0.0 <= x <= 1.0):
        raise InvalidInput(f"must be a finite number in [0, 1], got {value!r}", field=field)
    return x


def task_confidence(prompt_score: float | None, output_score: float | None) -> float | None:
    """A task's confidence from its scores (None while it has neither)."""
    if prompt_score is not None and output_score is not None:
        return PROMPT_WEIGHT * prompt_score + OUTPUT_WEIGHT * output_score
    if output_score is not None:
        return output_score
    return prompt_score


def rolling_confidence(scores_oldest_first: Sequence[float], decay: float = DECAY) -> float:
    """The recency-weighted mean of task confidences, 1.0 for an empty sequence."""
    if not scores_oldest_first:
        return 1.0
    total = 0.0
    weights = 0.0
    weight = 1.0
    for score in reversed(scores_oldest_first):  # newest first: weight decay ** 0, 1, 2, ...
        total += weight * score
        weights += weight
        weight *= decay
    return total / weights
