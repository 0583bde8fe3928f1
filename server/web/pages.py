"""The dashboard's HTML, rendered on the server (escaped here, nowhere else).

A page is a shell (header, navigation, project picker) around one ``<main>``
fragment; the live script re-fetches only the fragment (``?fragment=1``) when the
store's change marker moves. Status is always written as a word beside its colour.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Sequence
from html import escape
from urllib.parse import quote, urlencode

from loopcore.store.records import InterceptRecord, LoopRecord, Task
from server.web.charts import (
    GraphNode,
    Marker,
    Series,
    bar_chart,
    dependency_graph,
    line_chart,
    meter,
)
from server.web.views import (
    InterceptsView,
    LoopView,
    PlanRow,
    PlanView,
    ProjectView,
    as_json_ready,
    dimension_names,
)

__all__ = [
    "Shell",
    "intercepts_fragment",
    "loop_fragment",
    "not_found_fragment",
    "page",
    "plan_fragment",
    "project_fragment",
]

MAX_OUTPUT_CHARS = 4000


def _iso(at: float | None) -> str:
    return "-" if at is None else time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(at))


def _num(x: float | None) -> str:
    return "-" if x is None else f"{x:.2f}"


class Shell:
    """Links and the page frame for one request (``base`` is the mount path, e.g. /dashboard)."""

    def __init__(self, base: str, projects: Sequence[str], project: str | None) -> None:
        self.base = base.rstrip("/")
        self.projects = list(projects)
        self.project = project

    def url(self, path: str, **query: str) -> str:
        q = {k: v for k, v in query.items() if v}
        if self.project and "project" not in q and not path.startswith(("/plans/", "/loops/")):
            q["project"] = self.project
        return escape(self.base + path + (f"?{urlencode(q)}" if q else ""))

    def picker(self, path: str) -> str:
        if not self.projects:
            return ""
        options = "".join(
            f'<option value="{escape(p)}"{" selected" if p == self.project else ""}>'
            f"{escape(p)}</option>"
            for p in self.projects
        )
        return (
            f'<form class="picker" method="get" action="{escape(self.base + path)}">'
            '<label for="project">Project</label> '
            f'<select id="project" name="project">{options}</select>'
            ' <button type="submit">Show</button></form>'
        )


def page(shell: Shell, *, title: str, path: str, marker: str, body: str) -> str:
    """A whole HTML document around one ``<main>`` fragment."""
    nav = (
        f'<a href="{shell.url("/")}">Plans and loops</a>'
        f'<a href="{shell.url("/intercepts")}">Intercepts</a>'
    )
    base = escape(shell.base)
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)} · loopcore</title>"
        f'<link rel="stylesheet" href="{base}/static/dashboard.css">'
        f'<script defer src="{base}/static/dashboard.js"></script></head>'
        f'<body data-base="{base}" data-marker="{escape(marker)}">'
        '<a class="skip" href="#live">Skip to content</a>'
        f'<header><span class="brand">loopcore</span><nav aria-label="Pages">{nav}</nav>'
        f"{shell.picker(path)}</header>"
        f'<main id="live" tabindex="-1" aria-live="polite">{body}</main>'
        '<footer><span id="live-status" role="status">live: updates as the database changes</span>'
        "</footer></body></html>"
    )


def not_found_fragment(what: str) -> str:
    """The body of a 404 page."""
    return f"<h1>Not found</h1><p>{escape(what)}</p>"


# --- plans and loops of a project -------------------------------------------------------


def _plan_state(plan_row: PlanRow) -> str:
    p = plan_row.plan
    if p.status == "archived":
        return "archived"
    if plan_row.total and plan_row.finished == plan_row.total:
        return "done"
    return "needs replan" if p.needs_replan else "active"


def _plan_row(shell: Shell, row: PlanRow) -> str:
    p = row.plan
    state = _plan_state(row)
    share = row.finished / row.total if row.total else 0.0
    relation = "below" if p.confidence < p.threshold else "at or above"
    conf_label = f"confidence {p.confidence:.2f}, {relation} threshold {p.threshold:.2f}"
    return (
        f'<tr data-plan-id="{escape(p.id)}"><td><a href="{shell.url("/plans/" + quote(p.id))}">'
        f"{escape(p.goal)}</a><div class='sub'>{escape(p.id)} · revision {p.revision}</div></td>"
        f'<td><span class="badge st-{state.replace(" ", "-")}">{state}</span></td>'
        f"<td>{meter(share, label=f'{row.finished} of {row.total} tasks finished')} "
        f"{row.finished}/{row.total}</td>"
        f"<td>{meter(p.confidence, threshold=p.threshold, label=conf_label)} "
        f"{p.confidence:.2f} {'&lt;' if relation == 'below' else '≥'} {p.threshold:.2f}</td>"
        f"<td>{_iso(p.updated_at)}</td></tr>"
    )


def _loop_row(shell: Shell, loop: LoopRecord) -> str:
    return (
        f'<tr data-loop-id="{escape(loop.id)}">'
        f'<td><a href="{shell.url("/loops/" + quote(loop.id))}">{escape(loop.goal[:120])}</a>'
        f"<div class='sub'>{escape(loop.id)} · {escape(loop.task_type)}</div></td>"
        f"<td>{escape(loop.status)}</td><td>{loop.iterations}</td>"
        f"<td>{_num(loop.best_score)}</td><td>{escape(loop.exit_reason or '-')}</td>"
        f"<td>{_iso(loop.updated_at)}</td></tr>"
    )


def project_fragment(shell: Shell, view: ProjectView | None) -> str:
    """The plans and loops of the chosen project."""
    if view is None:
        return (
            "<h1>No projects yet</h1><p>Nothing is stored in this database yet: create a plan, "
            "run a loop or score a prompt through the MCP server and it appears here.</p>"
        )
    plans = "".join(_plan_row(shell, r) for r in view.plans) or (
        '<tr><td colspan="5">no plans in this project</td></tr>'
    )
    loops = "".join(_loop_row(shell, lp) for lp in view.loops) or (
        '<tr><td colspan="6">no loops in this project</td></tr>'
    )
    return (
        f"<h1>Plans</h1><p class='sub'>project {escape(view.project)}</p>"
        '<div class="scroll"><table id="plans"><caption class="vh">Plans of the project</caption>'
        f"{_head('Goal', 'Status', 'Progress', 'Confidence vs threshold', 'Last change')}"
        f"<tbody>{plans}</tbody></table></div>"
        '<h2>Loops</h2><div class="scroll"><table id="loops"><caption class="vh">Loops</caption>'
        f"{_head('Goal', 'Status', 'Iterations', 'Best', 'Exit reason', 'Last change')}"
        f"<tbody>{loops}</tbody></table></div>"
    )


# --- one plan ---------------------------------------------------------------------------


def _details(key: str, summary: str, body: str) -> str:
    return f'<details data-key="{escape(key)}"><summary>{escape(summary)}</summary>{body}</details>'


def _task_row(shell: Shell, view: PlanView, t: Task) -> str:
    ready = t.id in view.ready
    status = "pending, ready" if ready else t.status.replace("_", " ")
    spec = (
        _details(
            f"spec-{t.id}",
            str(t.acceptance.get("type", "spec")),
            f"<pre>{escape(json.dumps(as_json_ready(t.acceptance), indent=1))}</pre>",
        )
        if t.acceptance
        else "-"
    )
    out = t.last_output or ""
    output = (
        _details(f"out-{t.id}", f"{len(out)} chars", f"<pre>{escape(out[:MAX_OUTPUT_CHARS])}</pre>")
        if out
        else "-"
    )
    defs = view.deficiencies.get(t.id, ())
    issues = "<ul>" + "".join(f"<li>{escape(d)}</li>" for d in defs) + "</ul>" if defs else "-"
    deps = ", ".join(escape(d) for d in t.depends_on) or "-"
    holder = f"<div class='sub'>claimed by {escape(t.claimed_by)}</div>" if t.claimed_by else ""
    scores = (
        f"{_num(t.confidence)}<div class='sub'>prompt {_num(t.prompt_score)} · output "
        f"{_num(t.output_score)}</div>"
    )
    return (
        f'<tr data-task-id="{escape(t.id)}" data-status="{escape(t.status)}">'
        f"<td><b>{escape(t.id)}</b><div>{escape(t.title)}</div></td>"
        f'<td><span class="badge st-{escape(t.status)}{" ready" if ready else ""}" '
        f'data-role="status">{escape(status)}</span>{holder}</td>'
        f"<td>{deps}</td><td>{spec}</td><td>{output}</td><td>{scores}</td><td>{issues}</td></tr>"
    )


def plan_fragment(shell: Shell, view: PlanView) -> str:
    """The plan page: graph, confidence chart, tasks, journal."""
    p = view.plan
    nodes = [
        GraphNode(id=t.id, status=t.status, depends_on=t.depends_on, ready=t.id in view.ready,
                  title=t.title)
        for t in view.tasks
    ]  # fmt: skip
    order = {t.id: t.position for t in view.tasks}
    ready = ", ".join(escape(r) for r in sorted(view.ready, key=order.__getitem__)) or "none"
    markers = [Marker(index=i, label=f"replan r{rev}") for i, rev in view.replans]
    chart = line_chart(
        [Series(name="plan confidence", values=view.confidence)],
        label=(
            f"Plan confidence after each scoring, {len(view.confidence) - 1} scorings, "
            f"now {p.confidence:.2f} against threshold {p.threshold:.2f}"
        ),
        x_label="scorings (1 = created)",
        threshold=p.threshold,
        markers=markers,
        css_id="confidence-chart",
    )
    rows = "".join(_task_row(shell, view, t) for t in view.tasks)
    older = view.journal_total - len(view.lines)
    more = f"<p class='sub'>{older} older entries not shown</p>" if older > 0 else ""
    journal = "".join(f"<li>{escape(line)}</li>" for line in view.lines)
    flag = (
        f"<p class='alert' role='alert'>Replan needed: {escape(p.replan_reason or '')}</p>"
        if p.needs_replan
        else ""
    )
    return (
        f"<h1>{escape(p.goal)}</h1><p class='sub'>plan {escape(p.id)} · project "
        f"{escape(p.project)} · revision {p.revision} · {escape(p.status)} · last change "
        f"{_iso(p.updated_at)}</p><p id='summary'>{escape(view.summary)}</p>{flag}"
        "<section aria-labelledby='h-graph'><h2 id='h-graph'>Dependency graph</h2>"
        f"<p>Ready now: <span id='ready'>{ready}</span></p>"
        f"<div class='scroll graph-box' tabindex='0' aria-label='Dependency graph, scrollable'>"
        f"{dependency_graph(nodes, label=_graph_label(view))}</div>"
        f"{_status_key()}</section>"
        "<section aria-labelledby='h-conf'><h2 id='h-conf'>Confidence over time</h2>"
        f"{chart}</section>"
        "<section aria-labelledby='h-tasks'><h2 id='h-tasks'>Tasks</h2><div class='scroll'>"
        "<table id='tasks'><caption class='vh'>Tasks of the plan</caption>"
        f"{_head('Task', 'Status', 'Depends on', 'Acceptance', 'Output', 'Score', 'Deficiencies')}"
        f"<tbody>{rows}</tbody></table></div></section>"
        "<section aria-labelledby='h-journal'><h2 id='h-journal'>Journal</h2>"
        f"{more}<ol id='journal'>{journal}</ol></section>"
    )


def _graph_label(view: PlanView) -> str:
    counts: dict[str, int] = {}
    for t in view.tasks:
        counts[t.status] = counts.get(t.status, 0) + 1
    parts = ", ".join(f"{n} {s.replace('_', ' ')}" for s, n in sorted(counts.items()))
    return f"Dependency graph of {len(view.tasks)} tasks: {parts}; {len(view.ready)} ready"


def _status_key() -> str:
    items = "".join(
        f'<li><span class="badge st-{s}">{s.replace("_", " ")}</span></li>'
        for s in ("pending", "in_progress", "done", "failed", "skipped")
    )
    return (
        f'<ul class="key" aria-label="Status key">{items}'
        '<li><span class="badge st-pending ready">ready</span> (dashed outline)</li></ul>'
    )


# --- one loop ---------------------------------------------------------------------------


def loop_fragment(shell: Shell, view: LoopView) -> str:
    """The loop page: score per iteration against the threshold, exit reason, forecast."""
    loop = view.loop
    scores = [s.score for s in view.steps]
    markers = []
    if loop.exit_reason and view.steps and loop.status != "open":
        markers.append(Marker(index=len(scores) - 1, label=f"stop: {loop.exit_reason}"))
    chart = line_chart(
        [Series(name="score", values=scores)],
        label=(
            f"Score per iteration of {len(scores)} iterations against threshold "
            f"{view.threshold:.2f}"
        ),
        x_label="iteration",
        threshold=view.threshold,
        markers=markers,
        css_id="score-chart",
    )
    forecast = ""
    if view.forecast is not None:
        forecast = (
            f"<p id='forecast'>Bayesian exit: the chance of reaching {view.threshold:.2f} within "
            f"the budget was forecast at {view.forecast:.1%} (from the priors as they are now), "
            "below what another step costs.</p>"
        )
    elif loop.exit_reason == "bayesian":
        forecast = "<p id='forecast'>Bayesian exit: the priors no longer give a forecast here.</p>"
    rows = "".join(
        f"<tr data-iteration='{s.iteration}'><td>{s.iteration}</td><td>{s.score:.3f}</td>"
        f"<td>{'passed' if s.passed else 'not passed'}</td><td>"
        + ("<ul>" + "".join(f"<li>{escape(d)}</li>" for d in s.deficiencies) + "</ul>"
           if s.deficiencies else "-")
        + f"</td><td>{s.tokens_used}</td><td>{_iso(s.created_at)}</td></tr>"
        for s in view.steps
    )  # fmt: skip
    plan_link = (
        f" · task {escape(loop.task_id or '')} of "
        f"<a href='{shell.url('/plans/' + quote(loop.plan_id))}'>plan {escape(loop.plan_id)}</a>"
        if loop.plan_id
        else ""
    )
    return (
        f"<h1>{escape(loop.goal[:300])}</h1><p class='sub'>loop {escape(loop.id)} · "
        f"{escape(loop.task_type)} · {escape(loop.model or 'model unknown')}{plan_link}</p>"
        f"<p id='exit'>Status <b>{escape(loop.status)}</b>; {len(scores)} iterations; best "
        f"{_num(loop.best_score)} at iteration {loop.best_iteration or '-'}; exit reason "
        f"<b>{escape(loop.exit_reason or 'none yet')}</b>"
        f"{': ' + escape(loop.exit_detail) if loop.exit_detail else ''}</p>{forecast}"
        f"<section aria-labelledby='h-scores'><h2 id='h-scores'>Score per iteration</h2>{chart}"
        "</section><section aria-labelledby='h-steps'><h2 id='h-steps'>Steps</h2>"
        "<div class='scroll'><table id='steps'>"
        f"{_head('Iteration', 'Score', 'Verdict', 'Deficiencies', 'Tokens', 'At')}"
        f"<tbody>{rows}</tbody></table></div></section>"
    )


# --- intercepts -------------------------------------------------------------------------


def _trend(rows: Sequence[InterceptRecord]) -> str:
    series = [Series(name="score", values=[r.score for r in rows])]
    series += [
        Series(name=d, values=[r.dimensions.get(d) for r in rows]) for d in dimension_names(rows)
    ]
    return line_chart(
        series,
        label=f"Prompt score and dimension scores over the last {len(rows)} scored prompts",
        x_label="scored prompts, oldest first",
        css_id="trend-chart",
    )


def _table(head: Iterable[str], rows: Iterable[Iterable[str]], ident: str) -> str:
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in r) + "</tr>" for r in rows)
    return (
        f"<div class='scroll'><table id='{ident}'>{_head(*head)}<tbody>{body}</tbody></table></div>"
    )


def _head(*names: str) -> str:
    th = "".join(f"<th scope='col'>{escape(h)}</th>" for h in names)
    return f"<thead><tr>{th}</tr></thead>"


def intercepts_fragment(shell: Shell, view: InterceptsView | None) -> str:
    """Score trend by dimension, grades, ratings, and the priors per task type."""
    if view is None:
        return "<h1>Intercepts</h1><p>No project yet.</p>"
    st = view.stats
    grades = sorted(st.grades.items())
    weakest = ", ".join(f"{escape(d)} {v:.2f}" for d, v in st.weakest) or "-"
    ratings = _table(
        ("Rating", "Comment", "Intercept", "At"),
        ((f"{f.rating}/5", escape(f.comment or "-"), escape(f.history_id), _iso(f.created_at))
         for f in view.feedback),
        "ratings",
    )  # fmt: skip
    priors = _table(
        ("Task type", "Model", "Loops", "Converged", "Rate (90% interval)", "Mean iterations"),
        ((escape(p.task_type), escape(p.model or "-"), str(p.loops), str(p.converged),
          f"{p.convergence_rate:.2f} ({p.rate_low:.2f}–{p.rate_high:.2f})",
          f"{p.mean_iterations:.1f}") for p in view.priors),
        "priors",
    )  # fmt: skip
    mean = "-" if st.mean is None else f"{st.mean:.2f}"
    grade_label = "Grades: " + (", ".join(f"{g} {n}" for g, n in grades) or "none yet")
    return (
        f"<h1>Intercepts</h1><p class='sub'>project {escape(view.project)}</p>"
        f"<p id='prompt-stats'>{st.count} prompts scored; mean {mean}; trend {st.trend:+.2f} "
        f"(newer half minus older half); weakest dimensions: {weakest}</p>"
        f"<section aria-labelledby='h-trend'><h2 id='h-trend'>Score trend by dimension</h2>"
        f"{_trend(view.intercepts)}</section>"
        "<section aria-labelledby='h-grades'><h2 id='h-grades'>Grade distribution</h2>"
        f"{bar_chart(grades, label=grade_label)}</section>"
        f"<section aria-labelledby='h-ratings'><h2 id='h-ratings'>Ratings</h2>{ratings}</section>"
        "<section aria-labelledby='h-priors'><h2 id='h-priors'>Learned priors per task type</h2>"
        f"{priors}</section>"
    )
