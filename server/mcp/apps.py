"""The plan view as an MCP App (``io.modelcontextprotocol/ui``, ``mcp.server.apps``).

``plan_status`` carries ``_meta.ui.resourceUri = ui://loopcore/plan.html``. A host
that renders MCP Apps (and advertised the extension with the app MIME type) shows
that HTML beside the tool call: it receives the tool result, draws the dependency
graph with status words and colours, and the confidence against the threshold;
it then asks the host to read ``loopcore://plans/{plan_id}/journal`` to draw the
confidence over time with the replans. For such a host ``plan_status`` lists the
tasks (the graph needs them); every other host gets exactly today's result.

The HTML is self-contained: no network access (``connect_domains`` empty), no
external script or style.
"""

from __future__ import annotations

from importlib.resources import files
from typing import Any

from mcp.server.apps import Apps, ResourceCsp

from server.catalogue import LazyTools

__all__ = ["PLAN_VIEW_URI", "declare_plan_view", "plan_apps"]

PLAN_VIEW_URI = "ui://loopcore/plan.html"
VIEW_TOOL = "plan_status"

# Shipped in the wheel beside this module (hatch packages every file under server/).
PLAN_VIEW_HTML = files("server.mcp").joinpath("plan_view.html").read_text(encoding="utf-8")


def plan_apps() -> Apps:
    """The Apps extension with the plan view's ``ui://`` resource."""
    apps = Apps()
    apps.add_html_resource(
        PLAN_VIEW_URI,
        PLAN_VIEW_HTML,
        name="plan_view",
        title="Plan",
        description="A plan's dependency graph and confidence against its threshold.",
        csp=ResourceCsp(connect_domains=[]),
        prefers_border=True,
    )
    return apps


def declare_plan_view(mcp: Any) -> None:
    """Bind ``plan_status`` to the plan view (``_meta.ui``), when the tool is registered."""
    # The SDK stamps _meta.ui only on tools registered through Apps.tool(); plan_status is
    # registered with the other plan tools, so its _meta is set here, once, at build time.
    ui: dict[str, Any] = {"resourceUri": PLAN_VIEW_URI, "visibility": ["model", "app"]}

    def stamp(tool: Any) -> None:
        tool.meta = {**(tool.meta or {}), "ui": ui}

    manager = mcp._tool_manager
    if isinstance(manager, LazyTools):  # stamped when the tool is built (server.catalogue)
        manager.amend(VIEW_TOOL, stamp)
        return
    tool = manager.get_tool(VIEW_TOOL)
    if tool is not None:
        stamp(tool)
