"""The ``Store`` protocol: what the domain services need from a database.

The services open a transaction and call typed row operations on it::

    with store.write() as tx:          # one atomic read-check-write unit
        plan = tx.get_plan(plan_id, lock=True)
        ...
        tx.save_task(task)
        tx.append_journal("scored", ...)

Contract for an implementation (SQLite today, PostgreSQL later):

- ``write()`` is one transaction that either commits whole or leaves nothing.
  Two concurrent ``write()`` blocks that read and then update the same plan
  must not lose either update: ``get_plan(..., lock=True)`` / ``get_loop(...,
  lock=True)`` lock that row until commit (``SELECT ... FOR UPDATE`` on
  PostgreSQL; SQLite's ``BEGIN IMMEDIATE`` already serialises writers).
  A ``write()`` opened inside another on the same thread joins it.
- ``read()`` gives a consistent snapshot for several reads.
- Updates are row-level: ``save_task`` writes one task row, ``save_plan`` the
  plan's summary row; nothing rewrites a whole plan.
- Failures of the database surface as ``loopcore.errors.StoreError``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from typing import Any, Protocol

from loopcore.store.observations import IterationStats, LoopObservation, OutcomeStats
from loopcore.store.records import (
    FeedbackRecord,
    InterceptRecord,
    JournalEntry,
    LoopRecord,
    LoopStatus,
    Plan,
    PlanState,
    Revision,
    StepRecord,
    Task,
    TaskContext,
    TaskStatus,
    UsageCounts,
)

__all__ = [
    "HistoryTx",
    "JournalTx",
    "LoopTx",
    "PlanTx",
    "PriorTx",
    "Store",
    "StoreTx",
    "WouldWait",
]


class WouldWait(Exception):
    """A call made here and now met something it would have to wait for and gave up before
    writing anything: a lock held elsewhere (a transaction under ``Store.at_once``), or a
    program to run or a model to ask (``LoopService.step(inline=True)``). Run the call again
    where it may wait (a worker thread). Not a ``LoopcoreError``: it never reaches a caller."""


class JournalTx(Protocol):
    """The append-only journal of every change to plans and loops."""

    def append_journal(
        self,
        kind: str,
        *,
        at: float,
        project: str,
        plan_id: str | None = None,
        task_id: str | None = None,
        loop_id: str | None = None,
        detail: Mapping[str, Any] | None = None,
    ) -> int:
        """Append one entry; returns its sequence number."""
        ...

    def append_journal_many(
        self,
        entries: Sequence[tuple[str, Mapping[str, Any]]],
        *,
        at: float,
        project: str,
        plan_id: str | None = None,
        task_id: str | None = None,
        loop_id: str | None = None,
    ) -> None:
        """Append ``(kind, detail)`` entries of one moment and subject, in order, in one
        statement."""
        ...

    def read_journal(
        self,
        *,
        plan_id: str | None = None,
        loop_id: str | None = None,
        after_seq: int = 0,
        limit: int = 100,
        newest_first: bool = False,
    ) -> list[JournalEntry]:
        """Entries of one plan or one loop, by sequence."""
        ...

    def change_marker(self) -> tuple[int, int, int]:
        """The newest journal sequence, intercept sequence and feedback id (0 when none).

        Every change a server process makes moves one of them, so a reader that polls
        this cheap triple (three index lookups) learns that something changed.
        """
        ...


class PlanTx(Protocol):
    """Plans, their tasks and their revisions."""

    def insert_plan(self, plan: Plan, tasks: Sequence[Task]) -> None:
        """Insert a new plan with its tasks."""
        ...

    def get_plan(self, plan_id: str, *, lock: bool = False) -> Plan | None:
        """The plan's summary row; ``lock`` holds it until the transaction ends."""
        ...

    def save_plan(self, plan: Plan) -> None:
        """Write the plan's summary row (everything but id, project and created_at)."""
        ...

    def delete_plan(self, plan_id: str) -> bool:
        """Delete the plan, its tasks, revisions and journal; False when absent."""
        ...

    def list_plans(
        self,
        project: str,
        *,
        status: PlanState | None = None,
        after: tuple[float, str] | None = None,
        limit: int = 20,
    ) -> list[Plan]:
        """Plans of a project, newest first, strictly after the ``(created_at, id)`` key."""
        ...

    def plan_projects(self) -> dict[str, int]:
        """How many plans each project has (for "other projects have plans" hints)."""
        ...

    def get_task(self, plan_id: str, task_id: str) -> Task | None:
        """One task, or None."""
        ...

    def task_context(
        self, plan_id: str, task_id: str, *, window: int = 0, lock: bool = False
    ) -> TaskContext | None:
        """The plan and the task in one statement (None when there is no such plan).

        With ``window`` > 0 it also carries what scoring the task needs of the
        plan's other tasks: the newest ``window`` scored ones and whether any is
        still open (``TaskContext``). ``lock`` holds the plan row as ``get_plan``
        does.
        """
        ...

    def list_tasks(self, plan_id: str) -> list[Task]:
        """Every task of the plan in plan order."""
        ...

    def insert_tasks(self, tasks: Sequence[Task]) -> None:
        """Insert new tasks into an existing plan."""
        ...

    def save_task(self, task: Task) -> None:
        """Write one task row (everything but plan_id, id and created_at)."""
        ...

    def delete_tasks(self, plan_id: str, task_ids: Sequence[str]) -> None:
        """Delete tasks of a plan."""
        ...

    def recent_confidences(self, plan_id: str, limit: int) -> list[float]:
        """Confidences of scored tasks, newest first by (scored_at, score_seq)."""
        ...

    def ready_task_ids(self, plan_id: str, limit: int) -> list[str]:
        """Ids of pending tasks whose dependencies are all done or skipped, in plan order."""
        ...

    def task_ids(self, plan_id: str, status: TaskStatus) -> list[str]:
        """Ids of the plan's tasks with ``status``, in plan order."""
        ...

    def count_expired_leases(self, plan_id: str, now: float) -> int:
        """How many of the plan's claims ended at or before ``now``."""
        ...

    def count_tasks(self, plan_id: str) -> dict[str, int]:
        """Number of tasks per status (statuses with no task are absent)."""
        ...

    def expire_leases(self, now: float, plan_id: str | None = None) -> list[Task]:
        """Return tasks whose lease ended before ``now`` to pending.

        Journals ``lease_expired`` for each and bumps their plans' version.
        Returns the tasks as they are after the change.
        """
        ...

    def insert_revision(self, revision: Revision) -> None:
        """Record a revision of a plan."""
        ...

    def list_revisions(self, plan_id: str) -> list[Revision]:
        """The plan's revisions, oldest first."""
        ...


class LoopTx(Protocol):
    """Agent-driven loop sessions and their checkpointed steps."""

    def insert_loop(self, loop: LoopRecord) -> None:
        """Insert a new loop."""
        ...

    def get_loop(self, loop_id: str, *, lock: bool = False) -> LoopRecord | None:
        """One loop, or None; ``lock`` holds it until the transaction ends."""
        ...

    def save_loop(self, loop: LoopRecord) -> None:
        """Write the loop row (everything but id, project and created_at)."""
        ...

    def insert_step(self, step: StepRecord) -> None:
        """Checkpoint one step."""
        ...

    def list_steps(self, loop_id: str) -> list[StepRecord]:
        """Every step of the loop, by iteration."""
        ...

    def list_loops(
        self, project: str, *, statuses: Sequence[LoopStatus], limit: int = 100
    ) -> list[LoopRecord]:
        """Loops of a project with one of ``statuses``, newest first."""
        ...


class HistoryTx(Protocol):
    """Prompt history, human feedback on it, and usage counts."""

    def insert_intercept(self, record: InterceptRecord) -> None:
        """Store one scored prompt."""
        ...

    def get_intercept(self, history_id: str) -> InterceptRecord | None:
        """One scored prompt, or None."""
        ...

    def recent_intercepts(self, project: str, limit: int) -> list[InterceptRecord]:
        """The newest ``limit`` scored prompts of a project, newest first."""
        ...

    def insert_feedback(
        self, history_id: str, rating: int, comment: str, at: float
    ) -> FeedbackRecord:
        """Store a rating of a past intercept."""
        ...

    def usage_counts(self, project: str | None) -> UsageCounts:
        """Counts of plans, tasks, loops, intercepts and feedback (None: every project)."""
        ...

    def recent_feedback(self, project: str, limit: int) -> list[FeedbackRecord]:
        """The newest ``limit`` ratings of a project's intercepts, newest first."""
        ...

    def list_projects(self) -> list[str]:
        """Every project key that has a plan, a loop or an intercept, sorted."""
        ...


class PriorTx(Protocol):
    """Running statistics learned from finished loops (global, not per project)."""

    def record_observation(self, obs: LoopObservation) -> None:
        """Fold one finished loop into the per-iteration and per-outcome rows."""
        ...

    def load_prior_stats(self) -> tuple[list[IterationStats], list[OutcomeStats]]:
        """Every stored statistic."""
        ...


class StoreTx(JournalTx, PlanTx, LoopTx, HistoryTx, PriorTx, Protocol):
    """Everything a transaction can do."""


class Store(Protocol):
    """A durable store: transactions plus a few conveniences."""

    @property
    def location(self) -> str:
        """Where the data lives (a file path or a redacted URL), for logs."""
        ...

    def read(self) -> AbstractContextManager[StoreTx]:
        """A read-only transaction (a consistent snapshot)."""
        ...

    def glance(self) -> AbstractContextManager[StoreTx]:
        """Reads outside any transaction, for a read that is one statement.

        A statement is its own consistent snapshot, so a one-statement read needs
        no ``BEGIN``/``COMMIT`` (two round trips fewer on PostgreSQL); inside an
        enclosing transaction on this thread it joins that transaction. Never
        write through it, and never read twice expecting one snapshot.
        """
        ...

    def write(self) -> AbstractContextManager[StoreTx]:
        """A read-check-write transaction that commits whole or not at all."""
        ...

    def at_once(self) -> AbstractContextManager[bool]:
        """Whether this thread may run a short call here and now, without waiting for a lock.

        Yields True where the store can (SQLite, outside a transaction): inside the
        block, a transaction that would wait for a lock raises ``WouldWait`` before it
        has done anything, until one has committed a write (after that the call has
        changed something and waits as usual). Yields False where every call should
        go to a worker thread (PostgreSQL: a statement is a network round trip).
        """
        ...

    def schema_version(self) -> int:
        """The schema version the database is at."""
        ...

    def record_observation(self, obs: LoopObservation) -> None:
        """Fold one finished loop into the priors in its own transaction."""
        ...

    def load_prior_stats(self) -> tuple[list[IterationStats], list[OutcomeStats]]:
        """Every stored prior statistic."""
        ...

    def close(self) -> None:
        """Close every connection (the store is unusable afterwards)."""
        ...
