"""``loopcore dashboard`` as a real process: one per machine, the token rule, and the
dashboard under ``serve --transport http``."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import httpx
import pytest

from loopcore.store import open_store
from tests.e2e.dashboard import dashboard, run_cli, serve_http
from tests.e2e.serving import free_port
from tests.server.web.seed import seed

pytestmark = pytest.mark.slow


def _seeded(tmp_path: Path) -> str:
    store, _ = open_store(tmp_path / "loopcore.db")
    try:
        return seed(store).plan_id
    finally:
        store.close()


def test_the_dashboard_prints_its_url_and_serves_the_plans(tmp_path: Path) -> None:
    """It binds 127.0.0.1, prints the URL, serves the plan page and records itself."""
    plan_id = _seeded(tmp_path)
    port = free_port()
    with dashboard(tmp_path, "--port", str(port)) as (proc, line):
        page = httpx.get(f"http://127.0.0.1:{port}/plans/{plan_id}", timeout=10)
        state = json.loads((tmp_path / "data" / "loopcore" / "dashboard.json").read_text())
    assert line == f"loopcore dashboard: http://127.0.0.1:{port}/"
    assert page.status_code == 200 and "Ship the billing service" in page.text
    entry = state[str((tmp_path / "loopcore.db").resolve())]
    assert (entry["pid"], entry["port"], entry["host"]) == (proc.pid, port, "127.0.0.1")


def test_a_second_start_prints_the_running_url(tmp_path: Path) -> None:
    """A second start on the same database exits 0 with the first one's URL."""
    _seeded(tmp_path)
    port = free_port()
    with dashboard(tmp_path, "--port", str(port)) as (first, line):
        assert line.endswith(f":{port}/")
        second = run_cli(tmp_path, "dashboard")
        assert first.poll() is None
    assert second.returncode == 0
    assert second.stdout.strip() == f"loopcore dashboard already running: http://127.0.0.1:{port}/"


def test_a_second_start_on_the_same_port_finds_it_without_the_state_file(tmp_path: Path) -> None:
    """With the state file gone, the taken port is probed and recognised."""
    _seeded(tmp_path)
    port = free_port()
    with dashboard(tmp_path, "--port", str(port)) as (_, line):
        assert line
        (tmp_path / "data" / "loopcore" / "dashboard.json").unlink()
        second = run_cli(tmp_path, "dashboard", "--port", str(port))
    assert (second.returncode, second.stdout.strip()) == (
        0,
        f"loopcore dashboard already running: http://127.0.0.1:{port}/",
    )


def test_an_explicit_port_taken_by_another_program_is_an_error(tmp_path: Path) -> None:
    """--port on a port something else listens on: exit 2, naming the port."""
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen(1)
        port = other.getsockname()[1]
        proc = run_cli(tmp_path, "dashboard", "--port", str(port))
    assert proc.returncode == 2
    assert f"port {port} on 127.0.0.1 is in use by another program" in proc.stderr


def test_a_non_loopback_bind_needs_a_token(tmp_path: Path) -> None:
    """--host 0.0.0.0 without LOOPCORE_TOKEN exits 2 and binds nothing."""
    proc = run_cli(tmp_path, "dashboard", "--host", "0.0.0.0", "--port", str(free_port()))
    assert proc.returncode == 2
    assert "refusing to bind 0.0.0.0" in proc.stderr and "LOOPCORE_TOKEN" in proc.stderr
    assert proc.stdout == ""


def test_with_a_token_every_request_must_carry_it(tmp_path: Path) -> None:
    """Bound to 0.0.0.0 with a token: 401 without it, 200 with the bearer header."""
    _seeded(tmp_path)
    port = free_port()
    token = {"LOOPCORE_TOKEN": "s3cret"}
    with dashboard(tmp_path, "--host", "0.0.0.0", "--port", str(port), env_extra=token) as (
        _,
        line,
    ):
        bare = httpx.get(f"http://127.0.0.1:{port}/", timeout=10)
        right = httpx.get(
            f"http://127.0.0.1:{port}/", headers={"authorization": "Bearer s3cret"}, timeout=10
        )
    assert line.startswith(f"loopcore dashboard: http://0.0.0.0:{port}/")
    assert (bare.status_code, right.status_code) == (401, 200)


def test_serve_http_mounts_the_dashboard_behind_the_token(tmp_path: Path) -> None:
    """/dashboard under serve --transport http: 401 without the token, the pages with it."""
    plan_id = _seeded(tmp_path)
    with serve_http(tmp_path, LOOPCORE_TOKEN="s3cret") as (port, _):
        base = f"http://127.0.0.1:{port}/dashboard"
        auth = {"authorization": "Bearer s3cret"}
        bare = httpx.get(f"{base}/plans/{plan_id}", timeout=10)
        page = httpx.get(f"{base}/plans/{plan_id}", headers=auth, timeout=10)
        marker = httpx.get(f"{base}/api/changes", headers=auth, timeout=10)
        evil = httpx.get(f"{base}/", headers={**auth, "host": "evil.example"}, timeout=10)
    assert bare.status_code == 401
    assert page.status_code == 200 and "Ship the billing service" in page.text
    assert 'href="/dashboard/static/dashboard.css"' in page.text
    assert marker.json()["marker"].count(".") == 2
    assert evil.status_code == 400
