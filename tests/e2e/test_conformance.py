"""The official MCP conformance suite against ``loopcore serve --transport http``."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.node_tools import node_env, program
from tests.e2e.serving import free_port

REPO = Path(__file__).resolve().parents[2]
LOOPCORE = Path(sys.executable).parent / "loopcore"
BASELINE = REPO / ".ci" / "conformance-expected-failures.yml"

# Scenarios that exercise what loopcore itself implements: never allowed in the baseline.
MUST_PASS = {
    "server-initialize",
    "logging-set-level",
    "ping",
    "completion-complete",
    "tools-list",
    "tools-call-simple-text",
    "tools-call-error",
    "server-sse-multiple-streams",
    "resources-list",
    "resources-subscribe",
    "resources-unsubscribe",
    "prompts-list",
    "dns-rebinding-protection",
}


def _wait_for_port(port: int, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"loopcore serve exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.1)
    pytest.fail(f"loopcore serve did not listen on {port}:\n{log.read_text()[-3000:]}")


@pytest.fixture
def node_tools_env() -> dict[str, str]:
    """The Node 22 environment (requested first, so a missing Node skips before any server)."""
    return node_env()


@pytest.fixture
def http_url(node_tools_env: dict[str, str], tmp_path: Path) -> Iterator[str]:
    """A ``loopcore serve --transport http`` subprocess on a free loopback port."""
    port = free_port()
    log = tmp_path / "server.log"
    env = {"HOME": str(tmp_path), "PATH": os.environ.get("PATH", "")}
    cmd = [str(LOOPCORE), "serve", "--transport", "http", "--port", str(port)]
    with log.open("wb") as sink:
        proc = subprocess.Popen(
            [*cmd, "--db", str(tmp_path / "lc.db")], env=env, stdout=sink, stderr=sink
        )
    try:
        _wait_for_port(port, proc, log)
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _baseline() -> dict[str, str]:
    """Scenario -> reason comment of every entry in the expected-failures file."""
    entries = {}
    for line in BASELINE.read_text(encoding="utf-8").splitlines():
        m = re.match(r"^\s+-\s+([a-z0-9-]+)\s*(?:#\s*(.*))?$", line)
        if m:
            entries[m.group(1)] = (m.group(2) or "").strip()
    return entries


def test_baseline_lists_only_fixture_scenarios_with_reasons() -> None:
    """Every expected failure names the suite fixture it needs; none is a feature we serve."""
    entries = _baseline()
    assert len(entries) == 17
    assert not MUST_PASS & set(entries)
    for scenario, reason in entries.items():
        assert re.search(r"fixture (tool|resource|template|prompt) test", reason), scenario


@pytest.mark.slow
@pytest.mark.node
def test_conformance_suite_passes_outside_the_fixture_baseline(
    http_url: str, tmp_path: Path
) -> None:
    """``conformance server`` exits 0: only the baseline's fixture scenarios fail."""
    env = node_env()
    cmd = [program("conformance", env), "server", "--url", http_url]
    proc = subprocess.run(
        [*cmd, "--expected-failures", str(BASELINE), "-o", str(tmp_path / "results")],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=100,
    )
    report = proc.stdout[-6000:] + proc.stderr[-2000:]
    assert proc.returncode == 0, report
    assert "Baseline check passed" in proc.stdout, report
    passed = set(re.findall(r"^✓ ([a-z0-9-]+):", proc.stdout, re.MULTILINE))
    assert passed >= MUST_PASS, report
