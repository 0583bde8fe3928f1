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
from loopcore.store.records import PLAN_STATUSES
from server.cli.install import HOSTS, build_entry, server_command, toml_table
from server.settings import ENV_VARS, Settings

__all__ = ["run_doctor", "run_plans"]


def _plans_of(plans: PlanService, project: str, status: str | None, out: TextIO) -> None:
    page = plans.list_plans(project, status=status, limit=100)  # type: ignore[arg-type]
    if not page.plans:
        out.write(f"no {status + ' ' if status else ''}plans in project {project}\n")
        return
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


def _plans_list(
    plans: PlanService, settings: Settings, status: str | None, every: bool, out: TextIO
) -> int:
    """This project's plans (or every project's), and a hint when other projects have some."""
    if status is not None and status not in PLAN_STATUSES:
        raise ValueError(f"plans list takes a status: {', '.join(PLAN_STATUSES)}; got {status!r}")
    projects = plans.projects()
    if every:
        for i, project in enumerate(sorted(projects)):
            out.write(("\n" if i else "") + f"project {project}:\n")
            _plans_of(plans, project, status, out)
        if not projects:
            out.write("no plans in any project\n")
        return 0
    _plans_of(plans, settings.project_key, status, out)
    others = {k: v for k, v in projects.items() if k != settings.project_key}
    if others:
        names = ", ".join(sorted(others)[:3]) + (", ..." if len(others) > 3 else "")
        out.write(
            f"\n{sum(others.values())} plan(s) of {len(others)} other project(s) in this "
            f"database ({names}): see them with --project KEY or --all-projects\n"
        )
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


def _plans_import(plans: PlanService, settings: Settings, source: str, out: TextIO) -> int:
    """Create a plan from a Markdown checklist file ('-': stdin)."""
    from loopcore.plans.importer import import_markdown

    try:
        text = sys.stdin.read() if source == "-" else Path(source).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"cannot read {source}: {exc}") from exc
    status = import_markdown(plans, settings.project_key, text)
    plan = status.plan
    done = status.counts.get("done", 0)
    out.write(
        f"imported plan {plan.id}: {plan.task_count} tasks ({done} done), "
        f"project {plan.project}\n"
        f"`loopcore plans show {plan.id}` lists them.\n"
    )
    return 0


def run_plans(
    settings: Settings,
    action: str,
    plan_id: str | None,
    fmt: str,
    out: TextIO,
    *,
    all_projects: bool = False,
) -> int:
    """``plans list`` (with ``plan_id`` as a status filter), ``show``, ``export`` or ``import``
    (with ``plan_id`` as the Markdown file)."""
    store, _ = open_store(settings.db)
    try:
        plans = PlanService(store)
        if action == "list":
            return _plans_list(plans, settings, plan_id, all_projects, out)
        if plan_id is None:
            raise ValueError(
                "a Markdown file is required" if action == "import" else "a plan id is required"
            )
        if action == "import":
            return _plans_import(plans, settings, plan_id, out)
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
    for host, spec in HOSTS.items():
        if host == "claude-code":
            continue
        entry = build_entry(host, command, _shown(settings.db) if settings.db else None)
        if spec.toml:
            out.write(f"\n{host}:\n{toml_table(spec.key, 'loopcore', entry, '')}")
            continue
        out.write(f"\n{host}:\n{json.dumps({spec.key: {'loopcore': entry}}, indent=2)}\n")
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
