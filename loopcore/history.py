"""Prompt history: every intercept score, its trend, and human feedback on it.

The prompt text is stored only when the caller passes it (the server does so
when ``LOOPCORE_STORE_PROMPTS`` is on); otherwise only its hash. Feedback
ratings live in their own table and are never fed into the loop priors.
Reads go through the ``(project, seq)`` index, so their cost does not grow
with the history.

An intercept that names no task may be written behind the answer
(``record_intercept(..., wait=False)``): the row is checked and given its id
at once, then inserted in order by one writer thread, so the caller does not
wait for the database; the writer gathers the rows of up to ``LINGER_S`` (50 ms)
into one transaction. Every read of this service waits for the queued writes
first (a history id handed out is always found), and ``close`` writes what is
left. A process killed within those 50 ms of an answer loses its row (another
process reading the database sees it up to 50 ms late); a write that touches a
plan task is never deferred.
"""

from __future__ import annotations

import math
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

import structlog

from loopcore.clock import Clock, system_clock
from loopcore.errors import InvalidInput, LoopcoreError, NotFound
from loopcore.ids import check_project, check_text, new_id, task_ref
from loopcore.limits import LIMITS
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

log = structlog.get_logger(__name__)

MAX_WINDOW = LIMITS.stats_window
MAX_DIMENSIONS = 32
MAX_PROMPT_CHARS = LIMITS.prompt_chars
MAX_COMMENT_CHARS = LIMITS.reason_chars
WEAKEST = 3
# Rows written behind the answer: the writer gathers them for up to LINGER_S after the first,
# and at most MAX_BATCH go in one transaction.
LINGER_S = 0.05
MAX_BATCH = 256

T = TypeVar("T")


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


class _WriteBehind(Generic[T]):
    """Rows written in order on one thread, off the caller's path, a batch per transaction.

    The writer wakes on the first queued row and gathers more for up to ``linger``
    seconds (or until ``MAX_BATCH`` are queued, or someone waits in ``flush``), then
    writes them all with one ``write(batch)``: one commit, one wake-up of this thread
    per batch rather than per row, which is what a row written behind the answer cost
    the answers after it (their thread had to share the interpreter with this one's
    every commit). A batch that fails is written again a row at a time, so one bad
    row loses only itself.
    """

    def __init__(self, write: Callable[[list[T]], object], linger: float) -> None:
        self._write = write
        self._linger = linger
        self._cond = threading.Condition()
        self._pending: list[T] = []
        self._writing = False
        self._waiters = 0  # callers in flush(): the writer does not linger for them
        self._closing = False
        self._thread: threading.Thread | None = None

    def submit(self, row: T) -> None:
        with self._cond:
            if self._thread is None:
                self._closing = False
                self._thread = threading.Thread(
                    target=self._run, name="loopcore-history-writer", daemon=True
                )
                self._thread.start()
            self._pending.append(row)
            if len(self._pending) in (1, MAX_BATCH):
                self._cond.notify_all()

    def flush(self) -> None:
        """Write what is queued now and wait until it is in the store."""
        with self._cond:
            if self._thread is None:
                return
            self._waiters += 1
            self._cond.notify_all()
            try:
                self._cond.wait_for(lambda: not self._pending and not self._writing)
            finally:
                self._waiters -= 1

    def close(self) -> None:
        """Write what is queued and stop the writer."""
        with self._cond:
            thread, self._thread = self._thread, None
            self._closing = True
            self._cond.notify_all()
        if thread is not None:
            thread.join()

    def _hurry(self) -> bool:
        return self._closing or self._waiters > 0 or len(self._pending) >= MAX_BATCH

    def _next_batch(self) -> list[T] | None:
        """The rows to write next (after the linger), or None when closed and drained."""
        with self._cond:
            self._cond.wait_for(lambda: self._pending or self._closing)
            if not self._pending:
                return None
            deadline = time.monotonic() + self._linger
            while not self._hurry() and (left := deadline - time.monotonic()) > 0:
                self._cond.wait(left)
            batch, self._pending = self._pending, []
            self._writing = True
            return batch

    def _run(self) -> None:
        while (batch := self._next_batch()) is not None:
            try:
                self._land(batch)
            finally:
                with self._cond:
                    self._writing = False
                    self._cond.notify_all()

    def _land(self, batch: list[T]) -> None:
        if len(batch) > 1:
            try:
                self._write(batch)
                return
            except Exception as exc:  # written again row by row: a bad row loses only itself
                log.info("history.batch_failed", rows=len(batch), error=str(exc))
        for row in batch:
            try:
                self._write([row])
            except LoopcoreError as exc:  # the answer went out already: log what was lost
                log.warning("history.write_failed", error=str(exc))
            except Exception:
                log.exception("history.write_crashed")


class HistoryService:
    """Prompt history of every project in one store."""

    def __init__(self, store: Store, clock: Clock = system_clock) -> None:
        self._store = store
        self._clock = clock
        self._behind = _WriteBehind[InterceptRecord](self._insert_batch, linger=LINGER_S)

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
        *,
        wait: bool = True,
    ) -> str:
        """Store one intercept; with plan and task ids, also its prompt score on that task.

        Both land in one transaction. Returns the history id. With ``wait=False``
        an intercept that names no task is checked now and written behind the
        answer (see the module docstring).

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
        ref = task_ref(plan_id, task_id)
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
            created_at=self._clock(),
        )
        if ref is None and not wait:
            self._behind.submit(record)
        else:
            self._insert(record, ref)
        return record.id

    def _insert(self, record: InterceptRecord, ref: tuple[str, str] | None) -> None:
        with self._store.write() as tx:
            tx.insert_intercept(record)
            if ref is not None:
                apply_scores(
                    tx,
                    *ref,
                    now=record.created_at,
                    prompt_score=record.score,
                    mark_done=False,
                    source=f"intercept {record.id}",
                )

    def _insert_batch(self, records: list[InterceptRecord]) -> None:
        with self._store.write() as tx:
            for record in records:
                tx.insert_intercept(record)

    def flush(self) -> None:
        """Wait until every intercept written behind is in the store."""
        self._behind.flush()

    def close(self) -> None:
        """Write what is queued and stop the writer (the store stays open)."""
        self._behind.close()

    def get(self, history_id: str) -> InterceptRecord:
        """One stored intercept. Raises ``NotFound``."""
        self.flush()
        with self._store.read() as tx:
            record = tx.get_intercept(history_id)
        if record is None:
            raise NotFound(f"no intercept with history id {history_id!r}")
        return record

    def recent_intercepts(self, project: str, window: int = 50) -> tuple[InterceptRecord, ...]:
        """The newest ``window`` intercepts of a project, newest first."""
        check_project(project)
        self.flush()
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
        self.flush()
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
        self.flush()
        with self._store.read() as tx:
            return tx.usage_counts(project)
