"""The read side of the plan service: status, listing, journal, explanation, export."""

from __future__ import annotations

from typing import Any

from loopcore.clock import Clock, system_clock
from loopcore.errors import InvalidInput
from loopcore.evaluators.factory import FactoryOptions
from loopcore.plans_export import (
    build_status,
    compact_status,
    decode_cursor,
    encode_cursor,
    explain_summary,
    export_dict,
    export_markdown,
    journal_line,
)
from loopcore.plans_model import (
    PlanExplanation,
    PlanLimits,
    PlanPage,
    PlanStatus,
    check_project,
)
from loopcore.plans_tx import load_plan, load_task
from loopcore.store.protocol import Store
from loopcore.store.records import JournalEntry, Plan, PlanState, Revision, Task

__all__ = ["PlanReader"]


class PlanReader:
    """Reads of plans of every project kept in one store (``PlanService`` adds the changes).

    Args:
        store: where plans live.
        clock: the only source of time (lease expiry, scoring order, journal).
        factory_options: how acceptance specs are built into evaluators.
        limits: size limits; a violation is an ``InvalidInput`` and nothing is written.
    """

    def __init__(
        self,
        store: Store,
        clock: Clock = system_clock,
        *,
        factory_options: FactoryOptions | None = None,
        limits: PlanLimits | None = None,
    ) -> None:
        self._store = store
        self._clock = clock
        self._options = factory_options if factory_options is not None else FactoryOptions()
        self._limits = limits if limits is not None else PlanLimits()

    @property
    def limits(self) -> PlanLimits:
        """The size limits in force."""
        return self._limits

    def get(self, plan_id: str) -> Plan:
        """The plan's summary row. Raises ``PlanNotFound``."""
        with self._store.read() as tx:
            return load_plan(tx, plan_id)

    def task(self, plan_id: str, task_id: str) -> Task:
        """One task. Raises ``PlanNotFound`` or ``TaskNotFound``."""
        with self._store.read() as tx:
            load_plan(tx, plan_id)
            return load_task(tx, plan_id, task_id)

    def status(self, plan_id: str, *, verbose: bool = False) -> PlanStatus:
        """Counts by status, confidence, ready tasks; ``verbose`` adds every task."""
        with self._store.read() as tx:
            plan = load_plan(tx, plan_id)
            if verbose:
                return build_status(plan, tx.list_tasks(plan_id), verbose=True)
            # Compact: counted and selected by the database, without loading the tasks.
            return compact_status(
                plan,
                counts=tx.count_tasks(plan_id),
                ready=tx.ready_task_ids(plan_id, max(plan.task_count, 1)),
                in_progress=tx.task_ids(plan_id, "in_progress"),
                failed=tx.task_ids(plan_id, "failed"),
            )

    def list_plans(
        self,
        project: str,
        *,
        status: PlanState | None = None,
        cursor: str | None = None,
        limit: int = 20,
    ) -> PlanPage:
        """Plans of a project, newest first, a page at a time.

        Raises:
            InvalidInput: a bad status, cursor or limit (1..100).
        """
        check_project(project)
        if status not in (None, "active", "archived"):
            raise InvalidInput(f"must be 'active' or 'archived', got {status!r}", field="status")
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 100:
            raise InvalidInput(f"must be an integer in 1..100, got {limit!r}", field="limit")
        after = decode_cursor(cursor) if cursor else None
        with self._store.read() as tx:
            plans = tx.list_plans(project, status=status, after=after, limit=limit + 1)
        more = len(plans) > limit
        page = tuple(plans[:limit])
        nxt = encode_cursor(page[-1].created_at, page[-1].id) if more and page else None
        return PlanPage(plans=page, next_cursor=nxt)

    def journal(
        self, plan_id: str, *, after_seq: int = 0, limit: int = 100
    ) -> tuple[JournalEntry, ...]:
        """The plan's journal, oldest first, after ``after_seq``."""
        with self._store.read() as tx:
            load_plan(tx, plan_id)
            return tuple(tx.read_journal(plan_id=plan_id, after_seq=after_seq, limit=limit))

    def explain(self, plan_id: str, *, limit: int = 100) -> PlanExplanation:
        """Why the confidence moved and why a replan was asked for: the newest ``limit`` entries."""
        with self._store.read() as tx:
            plan = load_plan(tx, plan_id)
            entries = tx.read_journal(plan_id=plan_id, limit=limit, newest_first=True)[::-1]
            counts = tx.count_tasks(plan_id)
        return PlanExplanation(
            plan=plan,
            summary=explain_summary(plan, counts),
            lines=tuple(journal_line(e) for e in entries),
            entries=tuple(entries),
        )

    def _everything(
        self, plan_id: str
    ) -> tuple[Plan, list[Task], list[Revision], list[JournalEntry]]:
        with self._store.read() as tx:
            plan = load_plan(tx, plan_id)
            journal: list[JournalEntry] = []
            while batch := tx.read_journal(
                plan_id=plan_id, after_seq=journal[-1].seq if journal else 0, limit=1000
            ):
                journal.extend(batch)
            return plan, tx.list_tasks(plan_id), tx.list_revisions(plan_id), journal

    def export_json(self, plan_id: str) -> dict[str, Any]:
        """The whole plan (tasks, revisions, journal) as JSON-ready data."""
        return export_dict(*self._everything(plan_id))

    def export_markdown(self, plan_id: str) -> str:
        """The whole plan as a Markdown document."""
        return export_markdown(*self._everything(plan_id))
