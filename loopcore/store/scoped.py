"""A store seen from one project: ids of other projects' plans, loops and prompts are not there.

Projects are boundaries, not listing filters (DESIGN.md, "Plans and confidence"):
every read by id goes through ``get_plan``, ``task_context`` (a plan with one of
its tasks), ``get_loop`` or ``get_intercept`` (the plan and loop operations load
the plan or the loop first, then its tasks, steps and journal), so answering
``None`` there for an id filed under another project makes every service answer
``PlanNotFound``, ``LoopNotFound`` or ``NotFound``, exactly as for an id that does
not exist. The rule is written here once; the services and their operations stay
unaware of it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any, cast

from loopcore.ids import check_project
from loopcore.store.protocol import Store, StoreTx
from loopcore.store.records import InterceptRecord, LoopRecord, Plan, TaskContext

__all__ = ["ProjectStore"]


class _ProjectTx:
    """A transaction that hides other projects' plans, loops and prompts (the rest delegates)."""

    def __init__(self, tx: StoreTx, project: str) -> None:
        self._tx = tx
        self._project = project

    def __getattr__(self, name: str) -> Any:
        return getattr(self._tx, name)

    def get_plan(self, plan_id: str, *, lock: bool = False) -> Plan | None:
        plan = self._tx.get_plan(plan_id, lock=lock)
        return plan if plan is not None and plan.project == self._project else None

    def task_context(
        self, plan_id: str, task_id: str, *, window: int = 0, lock: bool = False
    ) -> TaskContext | None:
        found = self._tx.task_context(plan_id, task_id, window=window, lock=lock)
        return found if found is not None and found.plan.project == self._project else None

    def get_loop(self, loop_id: str, *, lock: bool = False) -> LoopRecord | None:
        loop = self._tx.get_loop(loop_id, lock=lock)
        return loop if loop is not None and loop.project == self._project else None

    def get_intercept(self, history_id: str) -> InterceptRecord | None:
        found = self._tx.get_intercept(history_id)
        return found if found is not None and found.project == self._project else None


class ProjectStore:
    """``store`` as ``project`` sees it: the same data, other projects' ids not found.

    Args:
        store: the shared store (opened and closed by its owner, never here).
        project: the project key.
    """

    def __init__(self, store: Store, project: str) -> None:
        self._store = store
        self.project = check_project(project)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    @contextmanager
    def _scoped(self, opened: AbstractContextManager[StoreTx]) -> Iterator[StoreTx]:
        with opened as tx:
            yield cast(StoreTx, _ProjectTx(tx, self.project))

    def read(self) -> AbstractContextManager[StoreTx]:
        """A read-only transaction, seen from the project."""
        return self._scoped(self._store.read())

    def write(self) -> AbstractContextManager[StoreTx]:
        """A write transaction, seen from the project."""
        return self._scoped(self._store.write())

    def glance(self) -> AbstractContextManager[StoreTx]:
        """A one-statement read, seen from the project."""
        return self._scoped(self._store.glance())

    def as_store(self) -> Store:
        """This view typed as a ``Store`` (it answers every ``Store`` method)."""
        return cast(Store, self)
