"""MCP resources: the evaluator catalogue, the plans, one plan, its journal, one loop (JSON).

Subscribers hear about changes through ``server.mcp.notify.ChangeNotifier``: every
tool that changes a plan or a loop announces the URIs below.

What a read needs (the schemas, the evaluator catalogue, the loop view) is imported by
the first read, not when the resources are registered at start-up (``server.app``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any, TypeVar

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ResourceError, ResourceNotFoundError

from loopcore.clock import iso
from loopcore.errors import LoopcoreError, NotFound
from loopcore.limits import ID_PATTERN
from server.schemas.evaluators import EVALUATORS_URI
from server.team import require_owned
from server.tools.deps import Deps

__all__ = ["register"]

_ID = re.compile(ID_PATTERN)
T = TypeVar("T")


def _read(what: str, ident: str, fn: Callable[[], T]) -> T:
    """Run a read, turning domain errors into resource errors."""
    if not _ID.fullmatch(ident):
        raise ResourceNotFoundError(f"{what} ids are 1..64 of A-Z a-z 0-9 _ . -, got {ident!r}")
    try:
        return fn()
    except NotFound as exc:
        raise ResourceNotFoundError(str(exc)) from exc
    except LoopcoreError as exc:
        raise ResourceError(str(exc)) from exc


def _iso_times(detail: Any) -> Any:
    """A journal detail with its epoch times (``*_at`` keys) as ISO 8601 stamps."""
    if not isinstance(detail, dict):
        return detail
    return {
        k: iso(v) if k.endswith("_at") and isinstance(v, int | float) else _iso_times(v)
        for k, v in detail.items()
    }


def _dump(data: Any) -> str:
    from server.schemas import jsonable

    return json.dumps(jsonable(data), indent=1, sort_keys=False)


def register(mcp: MCPServer[Any], deps: Deps) -> None:
    """Register the five resources."""

    @mcp.resource(
        EVALUATORS_URI,
        name="evaluators",
        description="Every evaluator spec type: fields, types, bounds, defaults, one example.",
        mime_type="application/json",
    )
    def evaluators_resource() -> str:
        from server.schemas.evaluators import catalogue

        return _dump(catalogue())

    @mcp.resource(
        "loopcore://plans",
        name="plans",
        description="This project's plans, newest first (first 100).",
        mime_type="application/json",
    )
    def plans_resource() -> str:
        from server.schemas import plan_brief

        page = deps.services().plans.list_plans(deps.project, limit=100)
        return _dump({"plans": [plan_brief(p).model_dump() for p in page.plans]})

    @mcp.resource(
        "loopcore://plans/{plan_id}",
        name="plan",
        description="One plan with every task, its confidence and ready tasks.",
        mime_type="application/json",
    )
    def plan_resource(plan_id: str) -> str:
        from server.schemas import plan_out

        def fetch() -> Any:
            require_owned(deps.services(), "plan", plan_id)
            return deps.services().plans.status(plan_id, verbose=True)

        status = _read("plan", plan_id, fetch)
        return _dump(plan_out(status).model_dump())

    @mcp.resource(
        "loopcore://plans/{plan_id}/journal",
        name="plan_journal",
        description="The plan's journal: every change, why the confidence moved.",
        mime_type="application/json",
    )
    def journal_resource(plan_id: str) -> str:
        def fetch() -> Any:
            require_owned(deps.services(), "plan", plan_id)
            return deps.services().plans.explain(plan_id, limit=1000)

        ex = _read("plan", plan_id, fetch)
        entries = [
            {
                "seq": e.seq,
                "at": iso(e.at),
                "kind": e.kind,
                "task_id": e.task_id,
                "detail": _iso_times(e.detail),
            }
            for e in ex.entries
        ]
        return _dump({"plan_id": plan_id, "summary": ex.summary, "entries": entries})

    @mcp.resource(
        "loopcore://loops/{loop_id}",
        name="loop",
        description="One agent-driven loop: status, scores, best output.",
        mime_type="application/json",
    )
    def loop_resource(loop_id: str) -> str:
        from server.tools.loops import view_out

        def fetch() -> Any:
            require_owned(deps.services(), "loop", loop_id)
            return deps.services().loops.status(loop_id)

        view = _read("loop", loop_id, fetch)
        return _dump(view_out(view).model_dump())
