"""What each dashboard page shows, read from a ``Store`` through the domain services.

Read-only: every function here opens read transactions only. Built on the
``Store`` protocol and ``PlanService``/``HistoryService``, never on SQL, so the
dashboard works on any store that implements the protocol.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from loopcore.history import HistoryService, PromptStats, compute_stats
from loopcore.loops import Priors, PriorSummary
from loopcore.loops.model import config_from
from loopcore.loops.stopping import LoopState
from loopcore.plans import PlanService
from loopcore.plans.export import explain_summary, journal_line
from loopcore.store import Store
from loopcore.store.records import (
    LOOP_STATUSES,
    FeedbackRecord,
    InterceptRecord,
    JournalEntry,
    LoopRecord,
    Plan,
    StepRecord,
    Task,
)

__all__ = [
    "InterceptsView",
    "LoopView",
    "PlanRow",
    "PlanView",
    "ProjectView",
    "change_marker",
    "intercepts_view",
    "loop_view",
    "plan_view",
    "project_view",
    "projects",
]

MAX_JOURNAL_LINES = 300
MAX_PLANS = 100
MAX_LOOPS = 100
INTERCEPT_WINDOW = 200


@dataclass(frozen=True, kw_only=True)
class PlanRow:
    """A plan in the list: its row and task counts by status."""

    plan: Plan
    counts: Mapping[str, int]

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def finished(self) -> int:
        return self.counts.get("done", 0) + self.counts.get("skipped", 0)


@dataclass(frozen=True, kw_only=True)
class ProjectView:
    """The front page of one project: its plans and its loops."""

    project: str
    plans: tuple[PlanRow, ...]
    loops: tuple[LoopRecord, ...]


@dataclass(frozen=True, kw_only=True)
class PlanView:
    """One plan: tasks, ready set, confidence over time, replans, the journal in sentences."""

    plan: Plan
    tasks: tuple[Task, ...]
    ready: frozenset[str]
    summary: str
    confidence: tuple[float, ...]
    replans: tuple[tuple[int, int], ...]  # (index in ``confidence``, revision)
    deficiencies: Mapping[str, tuple[str, ...]]
    lines: tuple[str, ...]
    journal_total: int


@dataclass(frozen=True, kw_only=True)
class LoopView:
    """One loop: its steps, threshold and, where the Bayesian exit stopped it, the forecast."""

    loop: LoopRecord
    steps: tuple[StepRecord, ...]
    threshold: float
    forecast: float | None = None


@dataclass(frozen=True, kw_only=True)
class InterceptsView:
    """A project's scored prompts, their ratings and the priors learned from loops."""

    project: str
    intercepts: tuple[InterceptRecord, ...]  # oldest first
    stats: PromptStats
    feedback: tuple[FeedbackRecord, ...]
    priors: tuple[PriorSummary, ...] = field(default_factory=tuple)


def projects(store: Store) -> list[str]:
    """Every project in the store."""
    with store.read() as tx:
        return tx.list_projects()


def change_marker(store: Store) -> str:
    """A short text that changes whenever any process changes anything in the store."""
    with store.read() as tx:
        return ".".join(str(x) for x in tx.change_marker())


def project_view(store: Store, project: str) -> ProjectView:
    """The plans (newest first, with counts) and loops of a project."""
    with store.read() as tx:
        plans = tx.list_plans(project, limit=MAX_PLANS)
        rows = tuple(PlanRow(plan=p, counts=tx.count_tasks(p.id)) for p in plans)
        loops = tx.list_loops(project, statuses=LOOP_STATUSES, limit=MAX_LOOPS)
    return ProjectView(project=project, plans=rows, loops=tuple(loops))


def _confidence_path(
    entries: Sequence[JournalEntry],
) -> tuple[tuple[float, ...], tuple[tuple[int, int], ...]]:
    """Plan confidence after each scoring (1.0 at creation) and where replans happened."""
    values = [1.0]
    replans: list[tuple[int, int]] = []
    for e in entries:
        if e.kind == "scored" and e.detail.get("plan_confidence") is not None:
            values.append(float(e.detail["plan_confidence"]))
        elif e.kind == "replanned":
            replans.append((len(values) - 1, int(e.detail.get("revision", 0) or 0)))
    return tuple(values), tuple(replans)


def _deficiencies(entries: Sequence[JournalEntry]) -> dict[str, tuple[str, ...]]:
    """The deficiencies of each task's latest scoring."""
    found: dict[str, tuple[str, ...]] = {}
    for e in entries:
        if e.kind == "scored" and e.task_id:
            found[e.task_id] = tuple(str(d) for d in e.detail.get("deficiencies") or ())
    return found


def plan_view(store: Store, plan_id: str) -> PlanView:
    """Everything the plan page draws. Raises ``PlanNotFound``."""
    service = PlanService(store)
    plan = service.get(plan_id)
    journal: list[JournalEntry] = []
    with store.read() as tx:
        while batch := tx.read_journal(
            plan_id=plan_id, after_seq=journal[-1].seq if journal else 0, limit=1000
        ):
            journal.extend(batch)
        tasks = tx.list_tasks(plan_id)
        ready = tx.ready_task_ids(plan_id, max(plan.task_count, 1))
        counts = tx.count_tasks(plan_id)
    confidence, replans = _confidence_path(journal)
    shown = journal[-MAX_JOURNAL_LINES:]
    return PlanView(
        plan=plan,
        tasks=tuple(tasks),
        ready=frozenset(ready),
        summary=explain_summary(plan, counts),
        confidence=confidence,
        replans=replans,
        deficiencies=_deficiencies(journal),
        lines=tuple(journal_line(e) for e in shown),
        journal_total=len(journal),
    )


def _forecast(store: Store, loop: LoopRecord, steps: Sequence[StepRecord]) -> float | None:
    """The Bayesian exit's chance of reaching the threshold when it stopped the loop.

    Recomputed from the priors as they are now (they have learned since, including
    from this loop), so it is the forecast today's priors give for that point.
    """
    if loop.exit_reason != "bayesian" or not steps:
        return None
    priors = Priors.from_stats(*store.load_prior_stats())
    stop = priors.stop_condition(loop.task_type, loop.model or None)
    state = LoopState(
        scores=tuple(s.score for s in steps),
        outputs=tuple(s.output for s in steps),
        tokens_used=loop.tokens_used,
        elapsed_s=0.0,
    )
    return stop.probability(state, config_from(loop.config))


def loop_view(store: Store, loop_id: str) -> LoopView | None:
    """One loop with its steps, or None when there is no such loop."""
    with store.read() as tx:
        loop = tx.get_loop(loop_id)
        if loop is None:
            return None
        steps = tuple(tx.list_steps(loop_id))
    return LoopView(
        loop=loop,
        steps=steps,
        threshold=config_from(loop.config).quality_threshold,
        forecast=_forecast(store, loop, steps),
    )


def intercepts_view(store: Store, project: str) -> InterceptsView:
    """Scored prompts (oldest first), their statistics, ratings and the learned priors."""
    history = HistoryService(store)
    recent = history.recent_intercepts(project, INTERCEPT_WINDOW)
    stats = compute_stats(project, INTERCEPT_WINDOW, recent)
    with store.read() as tx:
        feedback = tx.recent_feedback(project, 50)
    summary = Priors.from_stats(*store.load_prior_stats()).summary()
    return InterceptsView(
        project=project,
        intercepts=tuple(reversed(recent)),
        stats=stats,
        feedback=tuple(feedback),
        priors=tuple(summary),
    )


def dimension_names(rows: Sequence[InterceptRecord]) -> list[str]:
    """Every dimension scored in these intercepts, sorted."""
    return sorted({d for r in rows for d in r.dimensions})


def as_json_ready(value: Mapping[str, Any] | None) -> Any:
    """A mapping as plain JSON-ready data (records hold read-only mappings)."""
    if value is None:
        return None
    return {k: as_json_ready(v) if isinstance(v, Mapping) else v for k, v in value.items()}
