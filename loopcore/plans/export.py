"""Read-side views of a plan: status, journal lines, export as JSON and Markdown, cursors."""

from __future__ import annotations

import base64
import binascii
import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, replace
from typing import Any

from loopcore.errors import InvalidInput
from loopcore.plans.graph import SATISFIED, ready_tasks
from loopcore.plans.model import PlanStatus
from loopcore.store.records import TASK_STATUSES, JournalEntry, Plan, Revision, Task, TaskStatus

__all__ = [
    "EXPORT_FORMAT",
    "build_status",
    "compact_status",
    "decode_cursor",
    "encode_cursor",
    "explain_summary",
    "export_dict",
    "export_markdown",
    "finished_plan",
    "journal_line",
]

EXPORT_FORMAT = "loopcore.plan/1"


def iso(at: float | None) -> str:
    """Epoch seconds as an ISO 8601 UTC stamp."""
    return "-" if at is None else time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(at))


def _f(x: Any) -> str:
    return "-" if x is None else f"{float(x):.3f}"


def finished_plan(plan: Plan, counts: Mapping[Any, int]) -> Plan:
    """An active plan whose tasks are all done or skipped reads as ``done`` (never stored)."""
    total = sum(counts.values())
    if (
        plan.status == "active"
        and total
        and counts.get("done", 0) + counts.get("skipped", 0) == total
    ):
        return replace(plan, status="done")
    return plan


def build_status(plan: Plan, tasks: Sequence[Task], *, verbose: bool) -> PlanStatus:
    """Counts by status, ready ids, tasks in progress and failed, completeness."""
    counts: dict[TaskStatus, int] = dict.fromkeys(TASK_STATUSES, 0)
    for t in tasks:
        counts[t.status] += 1
    return PlanStatus(
        plan=finished_plan(plan, counts),
        counts=counts,
        ready=tuple(t.id for t in ready_tasks(tasks)),
        in_progress=tuple(t.id for t in tasks if t.status == "in_progress"),
        failed=tuple(t.id for t in tasks if t.status == "failed"),
        complete=all(t.status in SATISFIED for t in tasks),
        tasks=tuple(tasks) if verbose else (),
    )


def compact_status(
    plan: Plan,
    *,
    counts: Mapping[str, int],
    ready: Sequence[str],
    in_progress: Sequence[str],
    failed: Sequence[str],
) -> PlanStatus:
    """A status from counts and id lists the store selected (no task rows loaded)."""
    full: dict[TaskStatus, int] = {s: int(counts.get(s, 0)) for s in TASK_STATUSES}
    return PlanStatus(
        plan=finished_plan(plan, full),
        counts=full,
        ready=tuple(ready),
        in_progress=tuple(in_progress),
        failed=tuple(failed),
        complete=full["done"] + full["skipped"] == sum(full.values()),
    )


def encode_cursor(created_at: float, plan_id: str) -> str:
    """An opaque cursor after the plan with this sort key."""
    raw = json.dumps([created_at, plan_id]).encode("utf-8")
    return base64.urlsafe_b64encode(raw).decode("ascii")


def decode_cursor(cursor: str) -> tuple[float, str]:
    """The sort key inside a cursor.

    Raises:
        InvalidInput: the cursor was not made by ``encode_cursor``.
    """
    try:
        created_at, plan_id = json.loads(base64.urlsafe_b64decode(cursor.encode("ascii")))
        return float(created_at), str(plan_id)
    except (ValueError, TypeError, binascii.Error, UnicodeError) as exc:
        raise InvalidInput("is not a cursor returned by plan_list", field="cursor") from exc


def _scored(d: Mapping[str, Any]) -> str:
    line = (
        f"scored {_f(d.get('task_confidence'))} (prompt {_f(d.get('prompt_score'))}, output "
        f"{_f(d.get('output_score'))}): plan confidence {_f(d.get('plan_confidence_before'))} "
        f"-> {_f(d.get('plan_confidence'))}"
    )
    issues = d.get("deficiencies") or []
    return line + (f"; issues: {'; '.join(map(str, issues))}" if issues else "")


def _replanned(d: Mapping[str, Any]) -> str:
    parts = [f"{k} {', '.join(d[k])}" for k in ("added", "removed", "updated") if d.get(k)]
    return f"replanned (revision {d.get('revision')}): {d.get('reason')}" + (
        f"; {'; '.join(parts)}" if parts else ""
    )


def _edited(d: Mapping[str, Any]) -> str:
    changes = d.get("changes") or {}
    return "edited: " + ", ".join(f"{k} {v[0]!r} -> {v[1]!r}" for k, v in changes.items())


_LINES: dict[str, Callable[[Mapping[str, Any]], str]] = {
    "created": lambda d: (
        f"created with {len(d.get('tasks', []))} tasks (threshold "
        f"{d.get('threshold')}, replan policy {d.get('replan_policy')})"
    ),
    "claimed": lambda d: f"claimed by {d.get('agent')} until {iso(d.get('lease_expires_at'))}",
    "lease_expired": lambda d: f"lease of {d.get('agent')} expired; back to pending",
    "scored": _scored,
    "done": lambda d: f"done (confidence {_f(d.get('task_confidence'))} reached the threshold)",
    "failed": lambda d: f"failed (confidence {_f(d.get('task_confidence'))} below the threshold)",
    "replan_needed": lambda d: f"replan needed: {d.get('reason')}",
    "confidence_recovered": lambda d: (
        f"confidence recovered to {_f(d.get('plan_confidence'))}"
        f" (threshold {d.get('threshold')}); replan no longer needed"
    ),
    "replanned": _replanned,
    "edited": _edited,
    "archived": lambda d: "archived",
    "checked": lambda d: (
        f"checked by {d.get('source')}: {'passed' if d.get('passed') else 'failed'} "
        f"(score {_f(d.get('score'))}); nothing recorded"
    ),
}


def journal_line(entry: JournalEntry) -> str:
    """One readable line for a journal entry."""
    render = _LINES.get(entry.kind)
    text = render(entry.detail) if render else f"{entry.kind} {dict(entry.detail)}"
    who = f"task {entry.task_id} " if entry.task_id else ""
    return f"{iso(entry.at)} {who}{text}"


def explain_summary(plan: Plan, counts: Mapping[str, int]) -> str:
    """One sentence: confidence against threshold, and the replan reason if any."""
    done = counts.get("done", 0)
    total = sum(counts.values())
    head = (
        f"confidence {plan.confidence:.3f} against threshold {plan.threshold:.2f}; "
        f"{done}/{total} tasks done"
    )
    if plan.needs_replan:
        return f"{head}; replan needed: {plan.replan_reason}"
    return head


def export_dict(
    plan: Plan,
    tasks: Sequence[Task],
    revisions: Sequence[Revision],
    journal: Sequence[JournalEntry],
) -> dict[str, Any]:
    """The whole plan as JSON-ready data."""
    return {
        "format": EXPORT_FORMAT,
        "plan": asdict(plan),
        "tasks": [asdict(t) for t in tasks],
        "revisions": [asdict(r) for r in revisions],
        "journal": [asdict(e) for e in journal],
    }


def _cell(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def checklist_item(task: Task) -> list[str]:
    """One task as a checklist item that ``loopcore.plans.importer`` reads back."""
    lines = [f"- [{'x' if task.status == 'done' else ' '}] {task.id}: {task.title}"]
    lines += [f"  {line}" if line.strip() else "" for line in task.description.splitlines()]
    if task.depends_on:
        lines.append(f"  depends on: {', '.join(task.depends_on)}")
    if task.acceptance is not None:
        spec = json.dumps(_plain(task.acceptance), ensure_ascii=False)
        lines += ["  ```json acceptance", f"  {spec}", "  ```"]
    return lines


def export_markdown(
    plan: Plan,
    tasks: Sequence[Task],
    revisions: Sequence[Revision],
    journal: Sequence[JournalEntry],
) -> str:
    """The plan as a Markdown document (summary, task table, revisions, journal)."""
    status = build_status(plan, tasks, verbose=False)
    counts = ", ".join(f"{n} {s}" for s, n in status.counts.items() if n)
    out = [
        f"# Plan {plan.id}",
        "",
        f"- Project: {plan.project}",
        f"- Status: {plan.status}, revision {plan.revision}, version {plan.version}",
        f"- Confidence: {plan.confidence:.3f} (threshold {plan.threshold:.2f}, "
        f"replan policy {plan.replan_policy})",
        f"- Needs replan: {'yes: ' + str(plan.replan_reason) if plan.needs_replan else 'no'}",
        f"- Tasks: {counts or 'none'}",
        "",
        "## Goal",
        "",
        plan.goal,
        "",
        "## Tasks",
        "",
        "| # | id | title | status | prompt | output | confidence | depends on |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for i, t in enumerate(tasks, 1):
        deps = ", ".join(t.depends_on) or "-"
        out.append(
            f"| {i} | {_cell(t.id)} | {_cell(t.title)} | {t.status} | {_f(t.prompt_score)} | "
            f"{_f(t.output_score)} | {_f(t.confidence)} | {_cell(deps)} |"
        )
    out += ["", "## Checklist", ""]
    for t in tasks:
        out += checklist_item(t)
    out += ["", "## Revisions", ""]
    out += [f"- r{r.revision} {iso(r.at)}: {r.reason}" for r in revisions]
    out += ["", "## Journal", ""]
    out += [f"- {journal_line(e)}" for e in journal]
    return "\n".join(out) + "\n"
