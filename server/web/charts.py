"""Charts drawn as inline SVG on the server: lines against a threshold, bars, the task graph.

Every chart carries a ``<title>`` and ``role="img"`` with an ``aria-label`` that says
what it shows in words, and every mark that has a colour also has a text or a shape
(status words in the graph, dashed threshold lines, labelled markers), so colour is
never the only signal. Coordinates are computed here; the page never needs a script
to draw.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from html import escape

__all__ = ["GraphNode", "Marker", "Series", "bar_chart", "dependency_graph", "line_chart", "meter"]

_W, _H = 720, 240
_PAD_L, _PAD_R, _PAD_T, _PAD_B = 44, 16, 14, 34
_PALETTE = ("#2563eb", "#d97706", "#059669", "#7c3aed", "#db2777", "#0891b2", "#65a30d")


@dataclass(frozen=True, kw_only=True)
class Series:
    """One line: its name and the y values (0..1) in x order (None leaves a gap)."""

    name: str
    values: Sequence[float | None]


@dataclass(frozen=True, kw_only=True)
class Marker:
    """A vertical marker at an x index with a short label (a replan, the Bayesian exit)."""

    index: int
    label: str


@dataclass(frozen=True, kw_only=True)
class GraphNode:
    """A task in the dependency graph."""

    id: str
    status: str
    depends_on: tuple[str, ...] = ()
    ready: bool = False
    title: str = ""
    extra: Mapping[str, str] = field(default_factory=dict)


def _f(x: float) -> str:
    return f"{x:.1f}"


def _x(i: int, n: int) -> float:
    span = _W - _PAD_L - _PAD_R
    return _PAD_L + (span * i / (n - 1) if n > 1 else span / 2)


def _y(v: float) -> float:
    return _PAD_T + (_H - _PAD_T - _PAD_B) * (1.0 - min(max(v, 0.0), 1.0))


def _axes(n: int, x_label: str) -> list[str]:
    out = []
    for tick in (0.0, 0.25, 0.5, 0.75, 1.0):
        y = _f(_y(tick))
        out.append(f'<line class="grid" x1="{_PAD_L}" x2="{_W - _PAD_R}" y1="{y}" y2="{y}"/>')
        out.append(
            f'<text class="tick" x="{_PAD_L - 6}" y="{y}" dy="4" text-anchor="end">{tick:g}</text>'
        )
    step = max(1, n // 10)
    for i in range(0, n, step):
        out.append(
            f'<text class="tick" x="{_f(_x(i, n))}" y="{_H - _PAD_B + 16}" '
            f'text-anchor="middle">{i + 1}</text>'
        )
    out.append(
        f'<text class="axis" x="{(_W + _PAD_L) // 2}" y="{_H - 4}" text-anchor="middle">'
        f"{escape(x_label)}</text>"
    )
    return out


def _polyline(values: Sequence[float | None], n: int) -> tuple[list[str], list[str]]:
    runs: list[list[str]] = [[]]
    dots = []
    for i, v in enumerate(values):
        if v is None:
            runs.append([])
            continue
        x, y = _f(_x(i, n)), _f(_y(v))
        runs[-1].append(f"{x},{y}")
        dots.append((x, y, v))
    lines = [" ".join(r) for r in runs if r]
    marks = [f'<circle cx="{x}" cy="{y}" r="3"><title>{v:.3f}</title></circle>' for x, y, v in dots]
    return lines, marks


def line_chart(
    series: Sequence[Series],
    *,
    label: str,
    x_label: str,
    threshold: float | None = None,
    markers: Sequence[Marker] = (),
    css_id: str = "",
) -> str:
    """A line chart of values in [0, 1] with an optional dashed threshold and markers."""
    n = max((len(s.values) for s in series), default=0)
    ident = f' id="{escape(css_id)}"' if css_id else ""
    parts = [
        f'<svg{ident} class="chart" viewBox="0 0 {_W} {_H}" role="img" '
        f'aria-label="{escape(label)}" preserveAspectRatio="xMidYMid meet">',
        f"<title>{escape(label)}</title>",
    ]
    if n == 0:
        parts.append(
            f'<text class="empty" x="{_W // 2}" y="{_H // 2}" text-anchor="middle">'
            "no data yet</text>"
        )
        return "".join(parts) + "</svg>"
    parts += _axes(n, x_label)
    if threshold is not None:
        y = _f(_y(threshold))
        parts.append(
            f'<line class="threshold" x1="{_PAD_L}" x2="{_W - _PAD_R}" y1="{y}" y2="{y}"/>'
            f'<text class="threshold-label" x="{_W - _PAD_R - 4}" y="{y}" dy="-4" '
            f'text-anchor="end">threshold {threshold:.2f}</text>'
        )
    for m in markers:
        x = _f(_x(m.index, n))
        # Labels right of the middle are written leftwards so they stay inside the chart.
        side = 'text-anchor="end" dx="-3"' if m.index > (n - 1) / 2 else 'dx="3"'
        parts.append(
            f'<g class="marker"><line x1="{x}" x2="{x}" y1="{_PAD_T}" y2="{_H - _PAD_B}"/>'
            f'<text x="{x}" y="{_PAD_T + 10}" {side}>{escape(m.label)}</text></g>'
        )
    for k, s in enumerate(series):
        colour = _PALETTE[k % len(_PALETTE)]
        lines, marks = _polyline(s.values, n)
        dash = "" if k == 0 else f' stroke-dasharray="{2 + 2 * k} {2 + k}"'
        parts.append(
            f'<g class="series" data-series="{escape(s.name)}" stroke="{colour}" fill="{colour}">'
        )
        parts += [f'<polyline points="{pts}" fill="none"{dash}/>' for pts in lines]
        parts += marks
        parts.append("</g>")
    return "".join(parts) + "</svg>" + _legend(series)


def _legend(series: Sequence[Series]) -> str:
    if len(series) < 2:
        return ""
    items = []
    for k, s in enumerate(series):
        colour = _PALETTE[k % len(_PALETTE)]
        dash = "" if k == 0 else f' stroke-dasharray="{2 + 2 * k} {2 + k}"'
        items.append(
            '<li><svg width="28" height="10" aria-hidden="true">'
            '<line x1="0" x2="28" y1="5" y2="5" '
            f'stroke="{colour}" stroke-width="2"{dash}/></svg> {escape(s.name)}</li>'
        )
    return f'<ul class="legend">{"".join(items)}</ul>'


def bar_chart(counts: Sequence[tuple[str, int]], *, label: str) -> str:
    """Horizontal bars with the name and the count written beside each."""
    top = max((c for _, c in counts), default=0) or 1
    row, width = 26, 480
    parts = [
        f'<svg class="bars" viewBox="0 0 {width} {row * max(len(counts), 1) + 4}" role="img" '
        f'aria-label="{escape(label)}"><title>{escape(label)}</title>'
    ]
    for i, (name, count) in enumerate(counts):
        y = i * row + 2
        w = _f(300 * count / top)
        parts.append(
            f'<text x="56" y="{y + 16}" text-anchor="end">{escape(name)}</text>'
            f'<rect x="64" y="{y + 3}" width="{w}" height="18" fill="{_PALETTE[0]}"/>'
            f'<text x="{_f(70 + 300 * count / top)}" y="{y + 16}">{count}</text>'
        )
    return "".join(parts) + "</svg>"


def meter(value: float, *, threshold: float | None = None, label: str, width: int = 160) -> str:
    """A small bar for a value in [0, 1], with the threshold as a dark tick."""
    v = min(max(value, 0.0), 1.0)
    below = threshold is not None and value < threshold
    parts = [
        f'<svg class="meter{" below" if below else ""}" width="{width}" height="14" '
        f'viewBox="0 0 {width} 14" role="img" aria-label="{escape(label)}">'
        f"<title>{escape(label)}</title>"
        f'<rect class="track" x="0" y="2" width="{width}" height="10" rx="2"/>'
        f'<rect class="fill" x="0" y="2" width="{_f(width * v)}" height="10" rx="2"/>'
    ]
    if threshold is not None:
        x = _f(width * min(max(threshold, 0.0), 1.0))
        parts.append(f'<line class="tick" x1="{x}" x2="{x}" y1="0" y2="14"/>')
    return "".join(parts) + "</svg>"


def _depths(nodes: Sequence[GraphNode]) -> dict[str, int]:
    """Longest path from a root for each node (the graph is acyclic; unknown ids ignored)."""
    by_id = {n.id: n for n in nodes}
    depth: dict[str, int] = {}
    for node in nodes:  # iterative DFS: a 500-task chain must not hit the recursion limit
        stack: list[tuple[str, bool]] = [(node.id, False)]
        while stack:
            current, expanded = stack.pop()
            if current in depth:
                continue
            deps = [d for d in by_id[current].depends_on if d in by_id]
            if expanded or not deps:
                depth[current] = 1 + max((depth.get(d, 0) for d in deps), default=-1)
                continue
            stack.append((current, True))
            stack += [(d, False) for d in deps if d not in depth]
    return depth


_NODE_W, _NODE_H, _GAP_X, _GAP_Y = 132, 40, 44, 14


def dependency_graph(nodes: Sequence[GraphNode], *, label: str) -> str:
    """Tasks in columns by dependency depth, edges from a dependency to its dependants.

    Each node shows its id and its status as a word; ready tasks get a dashed outline
    and the word "ready"; the fill colour repeats the status for a quick glance.
    """
    if not nodes:
        return '<p class="empty">no tasks</p>'
    depth = _depths(nodes)
    columns: dict[int, list[GraphNode]] = {}
    for n in nodes:
        columns.setdefault(depth[n.id], []).append(n)
    pos: dict[str, tuple[float, float]] = {}
    for d, col in columns.items():
        for r, n in enumerate(col):
            pos[n.id] = (8 + d * (_NODE_W + _GAP_X), 8 + r * (_NODE_H + _GAP_Y))
    width = 16 + len(columns) * (_NODE_W + _GAP_X) - _GAP_X
    height = 16 + max(len(c) for c in columns.values()) * (_NODE_H + _GAP_Y) - _GAP_Y
    parts = [
        f'<svg class="graph" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        f'role="img" aria-label="{escape(label)}"><title>{escape(label)}</title>'
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" '
        'markerHeight="7" orient="auto"><path d="M0,0 L10,5 L0,10 z" class="arrowhead"/>'
        "</marker></defs>"
    ]
    for n in nodes:
        x2, y2 = pos[n.id]
        for dep in n.depends_on:
            if dep not in pos:
                continue
            x1, y1 = pos[dep]
            sx, sy, ex, ey = x1 + _NODE_W, y1 + _NODE_H / 2, x2, y2 + _NODE_H / 2
            mid = (sx + ex) / 2
            parts.append(
                f'<path class="edge" d="M{_f(sx)},{_f(sy)} C{_f(mid)},{_f(sy)} {_f(mid)},{_f(ey)} '
                f'{_f(ex)},{_f(ey)}" marker-end="url(#arrow)"/>'
            )
    for n in nodes:
        x, y = pos[n.id]
        state = "ready" if n.ready else n.status.replace("_", " ")
        short = n.id if len(n.id) <= 16 else n.id[:15] + "…"
        tip = f"{n.id}: {n.title} ({state})" if n.title else f"{n.id} ({state})"
        parts.append(
            f'<g class="node st-{escape(n.status)}{" ready" if n.ready else ""}" '
            f'data-task-id="{escape(n.id)}"><title>{escape(tip)}</title>'
            f'<rect x="{_f(x)}" y="{_f(y)}" width="{_NODE_W}" height="{_NODE_H}" rx="6"/>'
            f'<text class="nid" x="{_f(x + 8)}" y="{_f(y + 16)}">{escape(short)}</text>'
            f'<text class="nst" x="{_f(x + 8)}" y="{_f(y + 32)}">{escape(state)}</text></g>'
        )
    return "".join(parts) + "</svg>"
