"""Inputs, limits and results of the plan service, and the checks on what callers send."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from loopcore.errors import InvalidInput
from loopcore.evaluators.base import EvalContext, Evaluation
from loopcore.evaluators.factory import validate_spec
from loopcore.ids import check_task_id, check_text
from loopcore.store.records import JournalEntry, Plan, Task, TaskStatus

__all__ = [
    "NextKind",
    "NextTask",
    "PlanExplanation",
    "PlanLimits",
    "PlanPage",
    "PlanStatus",
    "RecordResult",
    "ReplanResult",
    "TaskAcceptance",
    "TaskPatch",
    "TaskSpec",
    "check_lease",
    "parse_patch",
    "parse_task",
]

_SPEC_KEYS = frozenset({"id", "title", "description", "depends_on", "acceptance", "notes"})
_PATCH_KEYS = _SPEC_KEYS | {"status"}


@dataclass(frozen=True, kw_only=True, slots=True)
class PlanLimits:
    """Size limits of plans (a violation is an ``InvalidInput`` and nothing is written)."""

    max_tasks: int = 500
    max_goal_chars: int = 4000
    max_title_chars: int = 200
    max_description_chars: int = 4000
    max_notes_chars: int = 4000
    max_reason_chars: int = 2000
    max_output_chars: int = 200_000
    kept_output_chars: int = 4000
    max_lease_s: float = 7 * 86400.0


@dataclass(frozen=True, kw_only=True, slots=True)
class TaskSpec:
    """A task as a caller describes it (``acceptance`` is an evaluator spec)."""

    id: str
    title: str
    description: str = ""
    depends_on: tuple[str, ...] = ()
    acceptance: Mapping[str, Any] | None = None
    notes: str = ""


@dataclass(frozen=True, kw_only=True, slots=True)
class TaskPatch:
    """A replan's change to one existing task: only the fields given change.

    ``clear_acceptance`` removes the acceptance spec; ``status`` may reset a
    failed or skipped task to ``pending`` or set it ``skipped``.
    """

    id: str
    title: str | None = None
    description: str | None = None
    depends_on: tuple[str, ...] | None = None
    acceptance: Mapping[str, Any] | None = None
    clear_acceptance: bool = False
    notes: str | None = None
    status: Literal["pending", "skipped"] | None = None


def _deps(value: object, field: str) -> tuple[str, ...]:
    if isinstance(value, str) or not isinstance(value, Sequence):
        raise InvalidInput("must be a list of task ids", field=field)
    deps = tuple(check_task_id(d, field) for d in value)
    if len(set(deps)) != len(deps):
        raise InvalidInput("lists a task id twice", field=field)
    return deps


def _acceptance(value: object, field: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping | str):
        raise InvalidInput("must be an evaluator spec object", field=field)
    try:
        return validate_spec(value)
    except InvalidInput as exc:
        raise InvalidInput(str(exc), field=field) from exc


def parse_task(raw: TaskSpec | Mapping[str, Any], limits: PlanLimits, where: str) -> TaskSpec:
    """Validate one task (a ``TaskSpec`` or its JSON form); ``where`` prefixes field names.

    Raises:
        InvalidInput: an unknown key, a bad id, a text over its limit, a bad spec.
    """
    data = _as_mapping(raw, _SPEC_KEYS, where)
    if "id" not in data or "title" not in data:
        raise InvalidInput("every task needs an id and a title", field=where)
    acceptance = data.get("acceptance")
    return TaskSpec(
        id=check_task_id(data["id"], f"{where}.id"),
        title=check_text(
            data["title"], f"{where}.title", min_chars=1, max_chars=limits.max_title_chars
        ),
        description=check_text(
            data.get("description", ""),
            f"{where}.description",
            max_chars=limits.max_description_chars,
        ),
        depends_on=_deps(data.get("depends_on", ()), f"{where}.depends_on"),
        acceptance=None if acceptance is None else _acceptance(acceptance, f"{where}.acceptance"),
        notes=check_text(data.get("notes", ""), f"{where}.notes", max_chars=limits.max_notes_chars),
    )


def parse_patch(raw: TaskPatch | Mapping[str, Any], limits: PlanLimits, where: str) -> TaskPatch:
    """Validate one replan update (a ``TaskPatch`` or its JSON form).

    Raises:
        InvalidInput: as ``parse_task``; a status other than pending or skipped.
    """
    if isinstance(raw, TaskPatch):
        data: Mapping[str, Any] = {
            k: getattr(raw, k) for k in _PATCH_KEYS if getattr(raw, k) is not None
        }
        if raw.clear_acceptance:
            data = {**data, "acceptance": None}
    else:
        data = _as_mapping(raw, _PATCH_KEYS, where)
    if "id" not in data:
        raise InvalidInput("every update needs the id of the task it changes", field=where)
    status = data.get("status")
    if status not in (None, "pending", "skipped"):
        raise InvalidInput(
            f"may be 'pending' or 'skipped', got {status!r}", field=f"{where}.status"
        )

    def text(key: str, max_chars: int, min_chars: int = 0) -> str | None:
        if key not in data or data[key] is None:
            return None
        return check_text(data[key], f"{where}.{key}", max_chars=max_chars, min_chars=min_chars)

    acceptance = data.get("acceptance")
    return TaskPatch(
        id=check_task_id(data["id"], f"{where}.id"),
        title=text("title", limits.max_title_chars, 1),
        description=text("description", limits.max_description_chars),
        depends_on=None
        if data.get("depends_on") is None
        else _deps(data["depends_on"], f"{where}.depends_on"),
        acceptance=None if acceptance is None else _acceptance(acceptance, f"{where}.acceptance"),
        clear_acceptance="acceptance" in data and acceptance is None,
        notes=text("notes", limits.max_notes_chars),
        status=status,
    )


def _as_mapping(raw: object, keys: frozenset[str], where: str) -> Mapping[str, Any]:
    if isinstance(raw, TaskSpec):
        return {k: getattr(raw, k) for k in _SPEC_KEYS}
    if not isinstance(raw, Mapping):
        raise InvalidInput("must be an object", field=where)
    unknown = sorted(set(raw) - keys)
    if unknown:
        raise InvalidInput(
            f"unknown key(s) {unknown}; allowed: {sorted(keys)}", field=f"{where}.{unknown[0]}"
        )
    return raw


def check_lease(value: object, limits: PlanLimits) -> float:
    """A lease duration in seconds: finite, > 0 and at most ``limits.max_lease_s``."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidInput(f"must be a number of seconds, got {value!r}", field="lease_s")
    lease = float(value)
    if not (math.isfinite(lease) and 0 < lease <= limits.max_lease_s):
        raise InvalidInput(
            f"must be a number of seconds in (0, {limits.max_lease_s:g}], got {value!r}",
            field="lease_s",
        )
    return lease


NextKind = Literal["task", "complete", "blocked", "needs_replan"]


@dataclass(frozen=True, kw_only=True, slots=True)
class NextTask:
    """What ``next_task`` answered.

    ``kind`` is ``task`` (``task`` is now claimed by the agent), ``complete``
    (every task done or skipped), ``blocked`` (nothing ready: ``reason`` names
    the tasks in progress or the failed tasks in the way) or ``needs_replan``
    (the plan is below threshold under ``replan_policy=block``).
    """

    kind: NextKind
    plan: Plan
    task: Task | None = None
    needs_replan: bool = False
    reason: str = ""
    released: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True, slots=True)
class RecordResult:
    """What ``record`` changed: the task, the plan's confidence, and a readable list."""

    task: Task
    plan: Plan
    confidence: float
    needs_replan: bool
    changes: tuple[str, ...]
    evaluation: Evaluation | None = None
    deficiencies: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True, slots=True)
class ReplanResult:
    """A new revision of the plan's pending part."""

    plan: Plan
    revision: int
    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    updated: tuple[str, ...] = ()
    tasks: tuple[Task, ...] = ()


@dataclass(frozen=True, kw_only=True, slots=True)
class TaskAcceptance:
    """What scores a task's output: its spec (None when it has none), goal text, context."""

    plan: Plan
    task: Task
    spec: Mapping[str, Any] | None
    goal: str
    context: EvalContext


@dataclass(frozen=True, kw_only=True, slots=True)
class PlanStatus:
    """A plan at a glance; ``tasks`` is filled only when asked for verbose."""

    plan: Plan
    counts: Mapping[TaskStatus, int]
    ready: tuple[str, ...]
    in_progress: tuple[str, ...]
    failed: tuple[str, ...]
    complete: bool
    tasks: tuple[Task, ...] = ()

    @property
    def confidence(self) -> float:
        """The plan's rolling confidence."""
        return self.plan.confidence

    @property
    def needs_replan(self) -> bool:
        """Whether the plan is flagged for a replan."""
        return self.plan.needs_replan


@dataclass(frozen=True, kw_only=True, slots=True)
class PlanPage:
    """One page of plans; pass ``next_cursor`` back for the next (None at the end)."""

    plans: tuple[Plan, ...]
    next_cursor: str | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class PlanExplanation:
    """Why the confidence moved and why a replan was asked for, from the journal."""

    plan: Plan
    summary: str
    lines: tuple[str, ...]
    entries: tuple[JournalEntry, ...] = ()
