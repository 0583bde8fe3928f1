"""``loopcore serve`` over streamable HTTP and SSE, and the bind and token rules."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import httpx
import httpx2
import pytest
from mcp import Client
from mcp.client.sse import sse_client
from mcp.client.streamable_http import streamable_http_client

from tests.e2e.serving import INIT, LOOPCORE, http_server, server_env

pytestmark = pytest.mark.slow

TASKS = [{"id": "a", "title": "A", "acceptance": {"type": "length", "min_words": 2}}]
JSON_HEADERS = {"content-type": "application/json", "accept": "application/json, text/event-stream"}


async def _ok(client: Client, tool: str, args: dict[str, Any]) -> dict[str, Any]:
    result = await client.call_tool(tool, args)
    assert not result.is_error, result.content
    return dict(result.structured_content or {})


async def _plan_round_trip(first: Client, second: Client) -> tuple[str, dict[str, Any]]:
    plan_id = str((await _ok(first, "plan_create", {"goal": "g", "tasks": TASKS}))["plan_id"])
    await _ok(first, "plan_record", {"plan_id": plan_id, "task_id": "a", "output": "two words"})
    return plan_id, await _ok(second, "plan_status", {"plan_id": plan_id})


@pytest.mark.anyio
async def test_streamable_http_serves_two_clients_one_store(tmp_path: Path) -> None:
    """Two HTTP clients of one server share its store: one records, the other sees it."""
    with http_server(tmp_path, "http") as (port, _):
        url = f"http://127.0.0.1:{port}/mcp"
        async with Client(url) as first, Client(url, mode="legacy") as second:
            names = {t.name for t in (await first.list_tools()).tools}
            plan_id, status = await _plan_round_trip(first, second)
    assert "plan_create" in names
    assert (status["plan_id"], status["complete"]) == (plan_id, True)


@pytest.mark.anyio
async def test_sse_serves_two_connections_one_store(tmp_path: Path) -> None:
    """Two SSE connections (a lifespan each) share one store, opened once."""
    with http_server(tmp_path, "sse") as (port, log):
        url = f"http://127.0.0.1:{port}/sse"
        async with Client(sse_client(url)) as first, Client(sse_client(url)) as second:
            plan_id, status = await _plan_round_trip(first, second)
        log.seek(0)
        text = log.read()
    assert (status["plan_id"], status["complete"]) == (plan_id, True)
    assert text.count("store_restored") == 1


def test_foreign_host_header_is_refused(tmp_path: Path) -> None:
    """DNS-rebinding protection: a request naming another host is refused."""
    with http_server(tmp_path, "http") as (port, _):
        response = httpx.post(
            f"http://127.0.0.1:{port}/mcp",
            json=INIT,
            headers={**JSON_HEADERS, "host": "evil.example:80"},
            timeout=10,
        )
    assert response.status_code == 421


def test_oversized_request_is_refused(tmp_path: Path) -> None:
    """A request body over LOOPCORE_MAX_REQUEST_BYTES is refused before it is parsed."""
    with http_server(tmp_path, "http", {"LOOPCORE_MAX_REQUEST_BYTES": "4096"}) as (port, _):
        body = {**INIT, "params": {**INIT["params"], "pad": "x" * 8000}}  # type: ignore[dict-item]
        response = httpx.post(
            f"http://127.0.0.1:{port}/mcp", json=body, headers=JSON_HEADERS, timeout=10
        )
    assert response.status_code == 413


def test_non_loopback_bind_without_token_is_refused(tmp_path: Path) -> None:
    """Binding 0.0.0.0 without LOOPCORE_TOKEN exits 2 with a clear message, binding nothing."""
    proc = subprocess.run(
        [LOOPCORE, "serve", "--transport", "http", "--host", "0.0.0.0", "--port", "1"],
        env=server_env(tmp_path / "loopcore.db"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert "refusing to bind 0.0.0.0" in proc.stderr
    assert "LOOPCORE_TOKEN" in proc.stderr
    assert proc.stdout == ""


def test_token_required_on_every_request(tmp_path: Path) -> None:
    """With LOOPCORE_TOKEN set, no header or a wrong token gets 401; the right one is served."""
    with http_server(tmp_path, "http", {"LOOPCORE_TOKEN": "s3cret"}) as (port, _):
        url = f"http://127.0.0.1:{port}/mcp"
        missing = httpx.post(url, json=INIT, headers=JSON_HEADERS, timeout=10)
        wrong = httpx.post(
            url, json=INIT, headers={**JSON_HEADERS, "authorization": "Bearer nope"}, timeout=10
        )
        right = httpx.post(
            url, json=INIT, headers={**JSON_HEADERS, "authorization": "Bearer s3cret"}, timeout=10
        )
    assert (missing.status_code, wrong.status_code, right.status_code) == (401, 401, 200)
    assert missing.headers["www-authenticate"].startswith("Bearer")


@pytest.mark.anyio
async def test_token_client_runs_a_session(tmp_path: Path) -> None:
    """The official client with the bearer header runs tools over HTTP."""
    with http_server(tmp_path, "http", {"LOOPCORE_TOKEN": "s3cret"}) as (port, _):
        headers = {"authorization": "Bearer s3cret"}
        async with httpx2.AsyncClient(headers=headers) as http:
            transport = streamable_http_client(f"http://127.0.0.1:{port}/mcp", http_client=http)
            async with Client(transport) as client:
                stats = await _ok(client, "stats", {})
    assert stats["project"] == "e2e"
