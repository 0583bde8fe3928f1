"""Charts as SVG: words beside colours, thresholds, and a graph laid out by depth."""

from __future__ import annotations

import re

from server.web.charts import (
    GraphNode,
    Marker,
    Series,
    bar_chart,
    dependency_graph,
    line_chart,
    meter,
)


def test_graph_columns_follow_dependency_depth() -> None:
    """A task sits one column right of its deepest dependency."""
    nodes = [
        GraphNode(id="a", status="done"),
        GraphNode(id="b", status="pending", depends_on=("a",), ready=True),
        GraphNode(id="c", status="pending", depends_on=("a", "b")),
    ]
    svg = dependency_graph(nodes, label="g")
    xs = {
        m[0]: float(m[1])
        for m in re.findall(r'data-task-id="(\w)"><title>[^<]*</title><rect x="([\d.]+)"', svg)
    }
    assert xs["a"] < xs["b"] < xs["c"]
    assert svg.count('class="edge"') == 3


def test_graph_writes_each_status_and_marks_the_ready_set() -> None:
    """Status words are text in the nodes; a ready task says 'ready' and has the ready class."""
    nodes = [GraphNode(id="a", status="failed"), GraphNode(id="b", status="pending", ready=True)]
    svg = dependency_graph(nodes, label="g")
    assert '<text class="nst" ' in svg and ">failed</text>" in svg and ">ready</text>" in svg
    assert 'class="node st-pending ready" data-task-id="b"' in svg


def test_a_500_task_chain_is_laid_out_without_recursion() -> None:
    """A long chain is 500 columns deep (the depth walk is iterative)."""
    nodes = [
        GraphNode(id=f"t{i}", status="pending", depends_on=(f"t{i - 1}",) if i else ())
        for i in range(500)
    ]
    svg = dependency_graph(nodes, label="chain")
    assert svg.count('class="edge"') == 499
    assert f'x="{8 + 499 * (132 + 44)}.0"' in svg


def test_line_chart_draws_threshold_markers_and_a_gap() -> None:
    """The threshold is a labelled line, a marker is labelled, a None splits the line."""
    svg = line_chart(
        [Series(name="s", values=[0.2, None, 0.5, 0.9])],
        label="scores",
        x_label="i",
        threshold=0.72,
        markers=[Marker(index=2, label="replan r2")],
    )
    assert "threshold 0.72" in svg and "replan r2" in svg
    assert svg.count("<polyline") == 2
    assert 'aria-label="scores"' in svg


def test_an_empty_chart_says_so() -> None:
    """No values: the chart says there is no data instead of drawing nothing."""
    assert "no data yet" in line_chart([Series(name="s", values=[])], label="x", x_label="i")


def test_meter_below_threshold_is_marked_and_labelled() -> None:
    """A value under the threshold gets the 'below' class and keeps its label."""
    svg = meter(0.5, threshold=0.72, label="confidence 0.50, below threshold 0.72")
    assert 'class="meter below"' in svg and "below threshold 0.72" in svg


def test_bars_write_names_and_counts() -> None:
    """Each bar has its name and its count as text."""
    svg = bar_chart([("A", 3), ("B", 1)], label="grades")
    assert ">A</text>" in svg and ">3</text>" in svg and ">1</text>" in svg
