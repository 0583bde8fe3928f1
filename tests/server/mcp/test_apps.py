"""The plan view as an MCP App: declared on plan_status, read as a ui:// resource, and
plan_status unchanged for a host that does not render Apps."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from mcp import Client
from mcp.client import advertise
from mcp.server.apps import APP_MIME_TYPE, EXTENSION_ID

from server.app import build_server
from server.mcp.apps import PLAN_VIEW_URI
from tests.server.helpers import ERAS, make_settings, new_plan, ok

pytestmark = pytest.mark.anyio

APPS = [advertise(EXTENSION_ID, {"mimeTypes": [APP_MIME_TYPE]})]


def _client(tmp_path: Path, mode: str, *, apps: bool) -> Client:
    server = build_server(make_settings(tmp_path))
    return Client(server, mode=mode, extensions=APPS if apps else None)


async def _status(client: Client, plan_id: str) -> dict[str, Any]:
    args = {"plan_id": plan_id, "task_id": "a", "output": "three words here"}
    await ok(client, "plan_record", args)
    return await ok(client, "plan_status", {"plan_id": plan_id})


@ERAS
async def test_plan_status_declares_the_plan_view(tmp_path: Path, mode: str) -> None:
    """tools/list carries _meta.ui.resourceUri on plan_status, and only there."""
    async with _client(tmp_path, mode, apps=True) as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
    ui = (tools["plan_status"].meta or {}).get("ui")
    assert ui == {"resourceUri": PLAN_VIEW_URI, "visibility": ["model", "app"]}
    assert [n for n, t in tools.items() if (t.meta or {}).get("ui")] == ["plan_status"]


@ERAS
async def test_the_ui_resource_is_html_of_the_app_profile(tmp_path: Path, mode: str) -> None:
    """resources/read of the ui:// URI answers the app MIME type and a document that draws."""
    async with _client(tmp_path, mode, apps=True) as client:
        read = await client.read_resource(PLAN_VIEW_URI)
    content = read.contents[0]
    text = getattr(content, "text", "")
    assert content.mime_type == APP_MIME_TYPE
    assert text.startswith("<!doctype html>")
    assert "ui/notifications/tool-result" in text and "confidence-chart" in text


@ERAS
async def test_an_apps_host_gets_the_tasks_the_view_draws(tmp_path: Path, mode: str) -> None:
    """With Apps advertised, plan_status lists the tasks and their dependencies."""
    async with _client(tmp_path, mode, apps=True) as client:
        status = await _status(client, await new_plan(client))
    assert [(t["id"], t["status"], t.get("depends_on", [])) for t in status["tasks"]] == [
        ("a", "done", []),
        ("b", "pending", ["a"]),
        ("c", "pending", ["b"]),
    ]


@ERAS
async def test_a_host_without_apps_gets_todays_result(tmp_path: Path, mode: str) -> None:
    """Without Apps, plan_status is the compact result it always was (no task list)."""
    async with _client(tmp_path, mode, apps=False) as client:
        plan_id = await new_plan(client)
        status = await _status(client, plan_id)
        verbose = await ok(client, "plan_status", {"plan_id": plan_id, "verbose": True})
    assert "tasks" not in status or status["tasks"] == []
    assert status["ready"] == ["b"] and status["counts"]["done"] == 1
    assert [t["id"] for t in verbose["tasks"]] == ["a", "b", "c"]
