"""The dependency graph of a plan's tasks: validation, readiness, and what blocks.

Edges point from a task to the tasks it depends on. A task is ready when it is
pending and every task it depends on is done or skipped.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from loopcore.errors import InvalidInput
from loopcore.store.records import Task

__all__ = ["SATISFIED", "blocked_reason", "check_graph", "find_cycle", "ready_tasks"]

SATISFIED = frozenset({"done", "skipped"})


def find_cycle(deps: Mapping[str, Sequence[str]]) -> list[str] | None:
    """A dependency cycle as a path ``[a, b, ..., a]``, or None when the graph is acyclic.

    Iterative depth-first search (no recursion limit on long chains).
    """
    state: dict[str, int] = {}  # absent: unvisited, 1: on the current path, 2: finished
    for start in deps:
        if start in state:
            continue
        path = [start]
        stack = [iter(deps[start])]
        state[start] = 1
        while stack:
            nxt = next(stack[-1], None)
            if nxt is None:
                state[path.pop()] = 2
                stack.pop()
            elif state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            elif nxt not in state and nxt in deps:
                state[nxt] = 1
                path.append(nxt)
                stack.append(iter(deps[nxt]))
    return None


def check_graph(deps: Mapping[str, Sequence[str]]) -> None:
    """Refuse unknown dependency ids and cycles.

    Raises:
        InvalidInput: naming the task and the unknown id, or the cycle's path.
    """
    for task_id, needs in deps.items():
        for dep in needs:
            if dep not in deps:
                raise InvalidInput(
                    f"task {task_id!r} depends on unknown task {dep!r}",
                    field=f"tasks.{task_id}.depends_on",
                )
    cycle = find_cycle(deps)
    if cycle is not None:
        raise InvalidInput(
            "dependency cycle: " + " -> ".join(cycle) + " (each task depends on the next)",
            field=f"tasks.{cycle[0]}.depends_on",
        )


def ready_tasks(tasks: Sequence[Task]) -> list[Task]:
    """Pending tasks whose dependencies are all done or skipped, in plan order."""
    status = {t.id: t.status for t in tasks}
    return [
        t
        for t in sorted(tasks, key=lambda t: t.position)
        if t.status == "pending" and all(status.get(d) in SATISFIED for d in t.depends_on)
    ]


def blocked_reason(tasks: Sequence[Task]) -> str:
    """Why nothing is ready: the tasks in progress and the failed tasks in the way."""
    parts: list[str] = []
    running = [t for t in tasks if t.status == "in_progress"]
    if running:
        held = ", ".join(f"{t.id} (claimed by {t.claimed_by})" for t in running)
        parts.append(f"waiting for tasks in progress: {held}")
    failed = [t for t in tasks if t.status == "failed"]
    if failed:
        described = []
        for f in failed:
            dependents = [t.id for t in tasks if f.id in t.depends_on and t.status == "pending"]
            described.append(f"{f.id} (blocks {', '.join(dependents)})" if dependents else f.id)
        parts.append(
            "failed tasks keep the plan from completing: "
            + ", ".join(described)
            + "; retry one (set its status to pending), skip it (status skipped) "
            "or replan the plan"
        )
    return "; ".join(parts) or "no task is ready"
