"""The human commands on the store: ``loopcore plans list|show|export`` and ``loopcore doctor``.

They open the same database the server uses (safe while a server runs: the
store is built for several processes) and write readable text to ``out``.
"""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path
from typing import TextIO

from loopcore import __version__
from loopcore.history import HistoryService
from loopcore.plans.export import iso
from loopcore.plans.service import PlanService
from loopcore.store import PostgresStore, default_db_path, open_store
from loopcore.store.postgres import redact_url
from server.cli.install import HOSTS, build_entry, server_command
from server.settings import ENV_VARS, Settings

__all__ = ["run_doctor", "run_plans"]


def _plans_list(plans: PlanService, settings: Settings, status: str | None, out: TextIO) -> int:
    page = plans.list_plans(settings.project_key, status=status, limit=100)  # type: ignore[arg-type]
    if not page.plans:
        out.write(f"no plans in project {settings.project_key}\n")
        return 0
    out.write(f"{'id':<16} {'status':<9} {'conf':>5} {'tasks':>5}  {'updated':<20}  goal\n")
    for p in page.plans:
        flag = "!" if p.needs_replan else " "
        goal = p.goal.splitlines()[0][:60] if p.goal else ""
        out.write(
            f"{p.id:<16} {p.status:<9} {p.confidence:>5.2f}{flag}{p.task_count:>5}  "
            f"{iso(p.updated_at):<20}  {goal}\n"
        )
    if page.next_cursor:
        out.write("(first 100 shown)\n")
    return 0


def _plans_show(plans: PlanService, plan_id: str, out: TextIO) -> int:
    status = plans.status(plan_id, verbose=True)
    plan = status.plan
    out.write(f"plan {plan.id}  ({plan.status}, revision {plan.revision})\n")
    out.write(f"goal: {plan.goal}\n")
    out.write(
        f"confidence {plan.confidence:.3f} / threshold {plan.threshold:.2f}"
        f"{'  NEEDS REPLAN: ' + (plan.replan_reason or '') if plan.needs_replan else ''}\n\n"
    )
    for t in status.tasks:
        conf = "-" if t.confidence is None else f"{t.confidence:.2f}"
        deps = f"  after {', '.join(t.depends_on)}" if t.depends_on else ""
        out.write(f"  [{t.status:<11}] {t.id:<20} {conf:>5}  {t.title}{deps}\n")
    out.write("\njournal:\n")
    for line in plans.explain(plan_id, limit=50).lines:
        out.write(f"  {line}\n")
    return 0


def run_plans(settings: Settings, action: str, plan_id: str | None, fmt: str, out: TextIO) -> int:
    """``plans list`` (with ``plan_id`` as a status filter), ``show`` or ``export``."""
    store, _ = open_store(settings.db)
    try:
        plans = PlanService(store)
        if action == "list":
            return _plans_list(plans, settings, plan_id, out)
        if plan_id is None:
            raise ValueError("a plan id is required")
        if action == "show":
            return _plans_show(plans, plan_id, out)
        if fmt == "json":
            out.write(json.dumps(plans.export_json(plan_id), indent=2, default=list) + "\n")
        else:
            out.write(plans.export_markdown(plan_id))
        return 0
    finally:
        store.close()


def _snippets(settings: Settings, out: TextIO) -> None:
    command = server_command()
    out.write("\nregister in a host (or run `loopcore install <host>`):\n")
    for host in HOSTS:
        if host == "claude-code":
            continue
        entry = build_entry(host, command, _shown(settings.db) if settings.db else None)
        key = "servers" if host == "vscode" else "mcpServers"
        out.write(f"\n{host}:\n{json.dumps({key: {'loopcore': entry}}, indent=2)}\n")
    env = f" -e LOOPCORE_DB={shlex.quote(str(_shown(settings.db)))}" if settings.db else ""
    argv = " ".join(shlex.quote(a) for a in [*command, "serve"])
    out.write(f"\nclaude-code:\nclaude mcp add loopcore{env} -- {argv}\n")


def _shown(db: Path | str) -> Path | str:
    """The database as printed: a PostgreSQL URL without its password."""
    return redact_url(db) if isinstance(db, str) else db


def _database(path: Path | str, project: str, out: TextIO) -> None:
    if isinstance(path, Path) and not path.exists():
        out.write("  not created yet: the first `loopcore serve` creates it\n")
        return
    store, report = open_store(path)
    try:
        usage = HistoryService(store).stats(project)
        if isinstance(store, PostgresStore):
            out.write(f"  PostgreSQL {store.server_version()}, reachable\n")
    finally:
        store.close()
    out.write(f"  schema version: {report.schema_version}\n")
    out.write(
        f"  all projects: {report.active_plans} active and {report.archived_plans} archived "
        f"plans, {report.open_loops} open and {report.stopped_loops} stopped loops, "
        f"{report.intercepts} intercepts\n"
    )
    out.write(
        f"  this project: plans {dict(usage.plans)}, tasks {dict(usage.tasks)}, "
        f"loops {dict(usage.loops)}, intercepts {usage.intercepts}\n"
    )


def run_doctor(settings: Settings, out: TextIO) -> int:
    """Database path, schema version, counts, the settings in force, the host snippets."""
    path = settings.db or default_db_path()
    out.write(f"loopcore {__version__} (python {sys.version.split()[0]})\n")
    out.write(f"database: {_shown(path)}\n")
    _database(path, settings.project_key, out)
    out.write(f"project: {settings.project_key}\n")
    out.write(f"tools: {settings.tools}   log level: {settings.log_level}\n")
    out.write(f"commands allowed: {', '.join(sorted(settings.allow_commands)) or 'none'}\n")
    out.write(f"settings: {', '.join(ENV_VARS.values())}\n")
    _snippets(settings, out)
    return 0
