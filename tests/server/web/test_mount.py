"""The dashboard mounted at /dashboard in serve's HTTP app, behind the bearer token."""

from __future__ import annotations

from pathlib import Path

import httpx

from server.app import build_server
from server.cli.serve import http_app
from tests.server.helpers import make_settings
from tests.server.web.conftest import Served
from tests.server.web.seed import seed


def test_the_http_app_serves_the_dashboard_behind_the_token(tmp_path: Path) -> None:
    """No token: 401; with it: the plan page, its links under /dashboard."""
    settings = make_settings(tmp_path, transport="http", token="s3cret")
    mcp = build_server(settings)
    mcp.deps.runtime.acquire()
    try:
        plan_id = seed(mcp.deps.runtime.services.store).plan_id
        with Served(http_app(mcp, settings)) as base:
            bare = httpx.get(f"{base}/dashboard/plans/{plan_id}")
            auth = {"authorization": "Bearer s3cret"}
            page = httpx.get(f"{base}/dashboard/plans/{plan_id}", headers=auth)
            home = httpx.get(f"{base}/dashboard/", headers=auth)
    finally:
        mcp.deps.runtime.release()
    assert bare.status_code == 401
    assert page.status_code == 200 and "Ship the billing service" in page.text
    assert 'href="/dashboard/static/dashboard.css"' in page.text
    assert f'href="/dashboard/plans/{plan_id}"' in home.text
