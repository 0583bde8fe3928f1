"""Every size and count bound the server enforces, in one place.

The domain's checks and the tool schemas (``server/schemas/base.py``) both read
these, so the bounds a host sees in ``tools/list`` are the ones a call meets.

One prompt limit for everything that takes a prompt (``intercept``, ``refine``
and the intercept history): 50,000 characters. History used to accept 200,000
while intercept refused more than 50,000, so the larger bound was never
reachable through a tool; 50,000 characters (about 12,000 tokens) is a long
request, and the prompt scorer runs on the request path, so its worst case
(about 2 ms per 16 KB) stays under 10 ms. Outputs (code, logs) keep 200,000.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ID_PATTERN", "LIMITS", "Limits"]

ID_PATTERN = r"^[A-Za-z0-9_.-]{1,64}$"
"""Plan, task, loop and history ids: 1..64 of ``A-Z a-z 0-9 _ . -``."""


@dataclass(frozen=True, kw_only=True, slots=True)
class Limits:
    """The bounds (characters unless named otherwise)."""

    id_chars: int = 64
    goal_chars: int = 4000
    prompt_chars: int = 50_000
    context_chars: int = 20_000
    output_chars: int = 200_000
    kept_output_chars: int = 4000
    title_chars: int = 200
    text_chars: int = 4000  # descriptions, notes, a verify_output goal
    reason_chars: int = 2000  # replan reasons, loop outcomes, feedback comments
    project_chars: int = 500
    model_chars: int = 200
    label_chars: int = 64  # task types, agent names
    tasks_per_plan: int = 500
    loop_iterations: int = 100
    refine_iterations: int = 20
    lease_s: float = 7 * 86400.0
    stats_window: int = 1000


LIMITS = Limits()
