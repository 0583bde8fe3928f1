"""Prompt history: every intercept score, its trend, and human feedback on it.

The prompt text is stored only when the caller passes it (the server does so
when ``LOOPCORE_STORE_PROMPTS`` is on); otherwise only its hash. Feedback
ratings live in their own table and are never fed into the loop priors.
Reads go through the ``(project, seq)`` index, so their cost does not grow
with the history.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from loopcore.clock import Clock, system_clock
from loopcore.errors import InvalidInput, NotFound
from loopcore.ids import check_project, check_text, new_id
from loopcore.plans.confidence import check_score
from loopcore.plans.operations import apply_scores
from loopcore.store.protocol import Store
from loopcore.store.records import FeedbackRecord, InterceptRecord, UsageCounts

__all__ = [
    "FeedbackRecord",
    "HistoryService",
    "InterceptRecord",
    "PromptStats",
    "UsageCounts",
]

MAX_WINDOW = 1000
MAX_DIMENSIONS = 32
MAX_PROMPT_CHARS = 200_000
MAX_COMMENT_CHARS = 2000
WEAKEST = 3


@dataclass(frozen=True, kw_only=True, slots=True)
class PromptStats:
    """Statistics over a project's newest ``window`` intercepts.

    Attributes:
        count: intercepts in the window.
        mean: their mean score (None when there are none).
        trend: mean of the newer half minus mean of the older half (with an
            odd count the middle one is in neither); 0.0 below two.
        grades: how many got each grade.
        dimensions: the mean of each dimension score.
        weakest: the lowest-scoring dimensions, weakest first (up to three).
    """

    project: str
    window: int
    count: int
    mean: float | None
    trend: float
    grades: Mapping[str, int] = field(default_factory=dict)
    dimensions: Mapping[str, float] = field(default_factory=dict)
    weakest: tuple[tuple[str, float], ...] = ()


def _check_window(window: object) -> int:
    if isinstance(window, bool) or not isinstance(window, int) or not 1 <= window <= MAX_WINDOW:
        raise InvalidInput(f"must be an integer in 1..{MAX_WINDOW}, got {window!r}", field="window")
    return window


def _check_dimensions(dimensions: object) -> dict[str, float]:
    if not isinstance(dimensions, Mapping) or len(dimensions) > MAX_DIMENSIONS:
        raise InvalidInput(
            f"must be a mapping of at most {MAX_DIMENSIONS} names to scores", field="dimensions"
        )
    out: dict[str, float] = {}
    for name, value in dimensions.items():
        check_text(name, "dimensions", min_chars=1, max_chars=64)
        out[name] = check_score(value, f"dimensions.{name}")
    return out


def _mean(xs: Sequence[float]) -> float:
    return math.fsum(xs) / len(xs)


# Dimensions renamed since rows were stored: the same values under their new names.
# ("ambiguity" read higher-is-clearer too, so its values are clarity values.)
_RENAMED = {"ambiguity": "clarity"}


def compute_stats(project: str, window: int, rows: Sequence[InterceptRecord]) -> PromptStats:
    """``PromptStats`` of ``rows`` (newest first, as the store returns them)."""
    if not rows:
        return PromptStats(project=project, window=window, count=0, mean=None, trend=0.0)
    oldest_first = [r.score for r in reversed(rows)]
    half = len(oldest_first) // 2
    trend = _mean(oldest_first[-half:]) - _mean(oldest_first[:half]) if half else 0.0
    per_dim: dict[str, list[float]] = {}
    for r in rows:
        for name, value in r.dimensions.items():
            per_dim.setdefault(_RENAMED.get(name, name), []).append(value)
    means = {name: _mean(vals) for name, vals in sorted(per_dim.items())}
    weakest = tuple(sorted(means.items(), key=lambda kv: (kv[1], kv[0]))[:WEAKEST])
    return PromptStats(
        project=project,
        window=window,
        count=len(rows),
        mean=_mean(oldest_first),
        trend=trend,
        grades=dict(sorted(Counter(r.grade for r in rows).items())),
        dimensions=means,
        weakest=weakest,
    )


class HistoryService:
    """Prompt history of every project in one store."""

    def __init__(self, store: Store, clock: Clock = system_clock) -> None:
        self._store = store
        self._clock = clock

    def record_intercept(
        self,
        project: str,
        prompt_hash: str,
        score: float,
        grade: str,
        dimensions: Mapping[str, float],
        route: str,
        prompt_text: str | None,
        plan_id: str | None = None,
        task_id: str | None = None,
    ) -> str:
        """Store one intercept; with plan and task ids, also its prompt score on that task.

        Both land in one transaction. Returns the history id.

        Raises:
            InvalidInput: a bad field; only one of plan_id/task_id.
            PlanNotFound, TaskNotFound. Conflict: the plan is archived.
        """
        check_project(project)
        check_text(prompt_hash, "prompt_hash", min_chars=1, max_chars=128)
        score = check_score(score, "score")
        check_text(grade, "grade", min_chars=1, max_chars=8)
        check_text(route, "route", min_chars=1, max_chars=32)
        dims = _check_dimensions(dimensions)
        if prompt_text is not None:
            check_text(prompt_text, "prompt_text", max_chars=MAX_PROMPT_CHARS)
        if (plan_id is None) != (task_id is None):
            raise InvalidInput("pass both plan_id and task_id, or neither", field="task_id")
        now = self._clock()
        record = InterceptRecord(
            id=new_id("ih_"),
            project=project,
            prompt_hash=prompt_hash,
            score=score,
            grade=grade,
            dimensions=dims,
            route=route,
            prompt_text=prompt_text,
            plan_id=plan_id,
            task_id=task_id,
            created_at=now,
        )
        with self._store.write() as tx:
            tx.insert_intercept(record)
            if plan_id is not None and task_id is not None:
                apply_scores(
                    tx,
                    plan_id,
                    task_id,
                    now=now,
                    prompt_score=score,
                    mark_done=False,
                    source=f"intercept {record.id}",
                )
        return record.id

    def get(self, history_id: str) -> InterceptRecord:
        """One stored intercept. Raises ``NotFound``."""
        with self._store.read() as tx:
            record = tx.get_intercept(history_id)
        if record is None:
            raise NotFound(f"no intercept with history id {history_id!r}")
        return record

    def recent_intercepts(self, project: str, window: int = 50) -> tuple[InterceptRecord, ...]:
        """The newest ``window`` intercepts of a project, newest first."""
        check_project(project)
        with self._store.read() as tx:
            return tuple(tx.recent_intercepts(project, _check_window(window)))

    def prompt_stats(self, project: str, window: int = 50) -> PromptStats:
        """Count, mean, trend, grades and weakest dimensions of the newest ``window``."""
        rows = self.recent_intercepts(project, window)
        return compute_stats(project, window, rows)

    def record_feedback(self, history_id: str, rating: int, comment: str = "") -> FeedbackRecord:
        """Store a human rating (1..5) of a past intercept; never touches the priors.

        Raises:
            InvalidInput: rating outside 1..5, comment over 2,000 characters.
            NotFound: unknown history id.
        """
        if isinstance(rating, bool) or not isinstance(rating, int) or not 1 <= rating <= 5:
            raise InvalidInput(f"must be an integer in 1..5, got {rating!r}", field="rating")
        check_text(comment, "comment", max_chars=MAX_COMMENT_CHARS)
        with self._store.write() as tx:
            if tx.get_intercept(history_id) is None:
                raise NotFound(
                    f"no intercept with history id {history_id!r}; use the history_id "
                    "an intercept returned"
                )
            return tx.insert_feedback(history_id, rating, comment, self._clock())

    def stats(self, project: str) -> UsageCounts:
        """Usage counts of a project: plans, tasks by status, loops, intercepts, feedback."""
        check_project(project)
        with self._store.read() as tx:
            return tx.usage_counts(project)
