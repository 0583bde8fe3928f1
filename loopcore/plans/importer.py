"""A plan from a Markdown checklist, the inverse of the export's checklist.

The document's shape (what ``export_markdown`` writes under "## Checklist", and what a person
writes by hand):

```markdown
# Repair the date parser            <- the goal (or a "## Goal" section's text)

- [ ] parse: Parse ISO dates        <- "id: title"; without an id, one is made (t1, t2, ...)
  Accept YYYY-MM-DD only.           <- indented lines: the description
  depends on: setup                 <- ids or titles, comma-separated
  ```json acceptance                <- a fenced block marked "acceptance": the spec
  {"type": "regex", "required": ["tests pass"]}
  ```
  - [ ] setup: Add the test file    <- a nested item: its parent depends on it
- [x] docs: Document it             <- checked: imported as done
```

A line ``- Confidence: ... (threshold 0.80, replan policy block)`` (the export's summary line)
sets the plan's threshold and policy. Every problem is an ``InvalidInput`` naming the line.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from loopcore.errors import InvalidInput
from loopcore.ids import check_task_id
from loopcore.plans.confidence import DEFAULT_THRESHOLD
from loopcore.plans.model import PlanStatus
from loopcore.plans.service import PlanService

__all__ = ["PlanDraft", "import_markdown", "parse_markdown"]

_ITEM = re.compile(r"^(?P<indent>[ \t]*)[-*+][ \t]+\[(?P<mark>[ xX])\][ \t]+(?P<text>.*\S)[ \t]*$")
_ID_TITLE = re.compile(r"^(?P<id>[A-Za-z0-9][A-Za-z0-9_.-]{0,63}):[ \t]+(?P<title>\S.*)$")
_DEPENDS = re.compile(r"^(?:depends[ _]on|after)[ \t]*:[ \t]*(?P<refs>.*)$", re.IGNORECASE)
_FENCE = re.compile(r"^(?P<fence>`{3,}|~{3,})[ \t]*(?P<info>.*)$")
_HEADING = re.compile(r"^(?P<level>#{1,6})[ \t]+(?P<text>.*?)[ \t#]*$")
_SETTINGS = re.compile(r"threshold (?P<threshold>[0-9.]+), replan policy (?P<policy>advise|block)")


@dataclass(frozen=True, kw_only=True)
class PlanDraft:
    """What a document says: the goal, the tasks (``PlanService.create``'s JSON form), the
    ids of checked items, and the threshold and replan policy when it names them."""

    goal: str
    tasks: tuple[dict[str, Any], ...]
    done: tuple[str, ...] = ()
    threshold: float = DEFAULT_THRESHOLD
    replan_policy: Literal["advise", "block"] = "advise"


@dataclass
class _Item:
    line: int
    indent: int
    checked: bool
    text: str
    parent: _Item | None
    description: list[str] = field(default_factory=list)
    refs: list[tuple[int, str]] = field(default_factory=list)
    acceptance: dict[str, Any] | None = None
    children: list[_Item] = field(default_factory=list)
    id: str = ""
    title: str = ""


def _indent(line: str) -> int:
    return len(line.expandtabs(4)) - len(line.expandtabs(4).lstrip())


def _fence_body(lines: Sequence[str], start: int, fence: str) -> tuple[list[str], int]:
    """The lines of a fenced block opened at ``start``, and the index after its closing fence.

    Raises:
        InvalidInput: the block is never closed.
    """
    body: list[str] = []
    for i in range(start + 1, len(lines)):
        if lines[i].strip().startswith(fence[0] * len(fence)) and not lines[i].strip().strip(
            fence[0]
        ):
            return body, i + 1
        body.append(lines[i])
    raise InvalidInput(f"line {start + 1}: this fenced block is never closed", field="markdown")


def _acceptance(body: list[str], line: int) -> dict[str, Any]:
    try:
        spec = json.loads("\n".join(body))
    except json.JSONDecodeError as exc:
        raise InvalidInput(
            f"line {line}: the acceptance block is not JSON ({exc.msg})", field="markdown"
        ) from exc
    if not isinstance(spec, dict):
        raise InvalidInput(
            f"line {line}: the acceptance block must hold a JSON object", field="markdown"
        )
    return spec


def _dedent(lines: list[str]) -> list[str]:
    cut = min((_indent(x) for x in lines if x.strip()), default=0)
    return [x.expandtabs(4)[cut:] for x in lines]


def _body_line(item: _Item, lines: Sequence[str], i: int) -> int:
    """Read one line of an item's body at ``i``; returns the index of the next line."""
    text = lines[i].strip()
    fence = _FENCE.match(text)
    if fence:
        body, after = _fence_body(lines, i, fence["fence"])
        if "acceptance" in fence["info"].split():
            if item.acceptance is not None:
                raise InvalidInput(f"line {i + 1}: a second acceptance block", field="markdown")
            item.acceptance = _acceptance(body, i + 1)
        else:
            item.description += lines[i:after]
        return after
    depends = _DEPENDS.match(text)
    if depends:
        item.refs += [(i + 1, r.strip()) for r in depends["refs"].split(",") if r.strip()]
    else:
        item.description.append(lines[i] if text else "")
    return i + 1


def _items(lines: Sequence[str]) -> list[_Item]:
    """Every checklist item with its body, parent and children, in document order."""
    items: list[_Item] = []
    stack: list[_Item] = []
    current: _Item | None = None
    i = 0
    while i < len(lines):
        line = lines[i]
        match = _ITEM.match(line)
        if match:
            indent = _indent(match["indent"])
            while stack and stack[-1].indent >= indent:
                stack.pop()
            parent = stack[-1] if stack else None
            current = _Item(i + 1, indent, match["mark"] != " ", match["text"], parent)
            if parent is not None:
                parent.children.append(current)
            items.append(current)
            stack.append(current)
            i += 1
        elif current is not None and (not line.strip() or _indent(line) > current.indent):
            i = _body_line(current, lines, i)
        else:  # prose or a heading: the list (and any nesting) ends here
            current = None
            stack.clear()
            fence = _FENCE.match(line.strip())
            i = _fence_body(lines, i, fence["fence"])[1] if fence else i + 1
    return items


def _name(items: list[_Item]) -> None:
    """Give each item its id and title: 'id: title', else t1, t2, ... (unused ones)."""
    for item in items:
        match = _ID_TITLE.match(item.text)
        if match:
            item.id = check_task_id(match["id"], f"line {item.line}")
            item.title = match["title"].strip()
        else:
            item.title = item.text
    taken = {item.id for item in items if item.id}
    n = 0
    for item in items:
        while not item.id:
            n += 1
            if f"t{n}" not in taken:
                item.id = f"t{n}"
                taken.add(item.id)
    seen: set[str] = set()
    for item in items:
        if item.id in seen:
            raise InvalidInput(
                f"line {item.line}: task id {item.id!r} appears twice", field="markdown"
            )
        seen.add(item.id)


def _depends(item: _Item, items: list[_Item]) -> list[str]:
    by_title = {i.title.lower(): i.id for i in reversed(items)}
    ids = {i.id for i in items}
    deps = [child.id for child in item.children]
    for line, ref in item.refs:
        dep = ref if ref in ids else by_title.get(ref.lower())
        if dep is None:
            raise InvalidInput(
                f"line {line}: depends on {ref!r}, which is no task's id or title",
                field="markdown",
            )
        if dep not in deps:
            deps.append(dep)
    return deps


def _task(item: _Item, items: list[_Item]) -> dict[str, Any]:
    description = "\n".join(_dedent(item.description)).strip("\n")
    task: dict[str, Any] = {"id": item.id, "title": item.title}
    if description.strip():
        task["description"] = description
    deps = _depends(item, items)
    if deps:
        task["depends_on"] = deps
    if item.acceptance is not None:
        task["acceptance"] = item.acceptance
    return task


def _section(lines: Sequence[str], title: str) -> str | None:
    """The text under the heading ``title`` (any level) up to the next heading."""
    for i, line in enumerate(lines):
        heading = _HEADING.match(line)
        if heading and heading["text"].strip().lower() == title:
            body = []
            for rest in lines[i + 1 :]:
                if _HEADING.match(rest):
                    break
                body.append(rest)
            return "\n".join(body).strip()
    return None


def _goal(lines: Sequence[str]) -> str:
    """The "Goal" section, else the first heading and the prose before the first item."""
    section = _section(lines, "goal")
    if section:
        return section
    parts: list[str] = []
    for line in lines:
        if _ITEM.match(line):
            break
        heading = _HEADING.match(line)
        if heading and not parts:
            parts.append(heading["text"])
        elif heading:
            break
        elif parts or line.strip():
            parts.append(line.rstrip())
    goal = "\n".join(parts).strip()
    if not goal:
        raise InvalidInput(
            "no goal: start the document with a '# ' heading naming it, or a '## Goal' section",
            field="markdown",
        )
    return goal


def parse_markdown(text: str) -> PlanDraft:
    """Read a plan from a Markdown checklist (see the module's docstring for the shape).

    Raises:
        InvalidInput: no goal, no checklist item, a duplicate id, an unknown dependency, an
            acceptance block that is not a JSON object, an unclosed fence (each names its line).
    """
    if not isinstance(text, str):
        raise InvalidInput("must be a string", field="markdown")
    lines = text.splitlines()
    items = _items(lines)
    if not items:
        raise InvalidInput(
            "no checklist items: write each task as '- [ ] id: title'", field="markdown"
        )
    _name(items)
    settings = _SETTINGS.search(text)
    return PlanDraft(
        goal=_goal(lines),
        tasks=tuple(_task(item, items) for item in items),
        done=tuple(item.id for item in items if item.checked),
        threshold=float(settings["threshold"]) if settings else DEFAULT_THRESHOLD,
        replan_policy="block" if settings and settings["policy"] == "block" else "advise",
    )


def import_markdown(plans: PlanService, project: str, text: str) -> PlanStatus:
    """Create a plan from a Markdown checklist; checked items are marked done.

    Raises:
        InvalidInput: the document (``parse_markdown``) or the plan (``PlanService.create``)
            is refused; nothing is written.
    """
    draft = parse_markdown(text)
    created = plans.create(
        project,
        draft.goal,
        draft.tasks,
        threshold=draft.threshold,
        replan_policy=draft.replan_policy,
    )
    for task_id in draft.done:
        plans.update_task(created.plan.id, task_id, status="done")
    return plans.status(created.plan.id, verbose=True) if draft.done else created
