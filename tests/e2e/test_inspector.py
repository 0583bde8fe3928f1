"""MCP Inspector (``inspector --cli``) against the stdio server."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.node_tools import node_env

REPO = Path(__file__).resolve().parents[2]
LOOPCORE = Path(sys.executable).parent / "loopcore"

pytestmark = [pytest.mark.slow, pytest.mark.node]


def _inspect(tmp_path: Path, *args: str) -> tuple[int, Any, str]:
    """Run ``inspector --cli <loopcore> serve ...``; (exit status, parsed result, stderr)."""
    env = node_env()
    inspector = shutil.which("inspector", path=env["PATH"])
    if inspector is None:
        pytest.fail("inspector is not installed: run `source .ci/node.sh`")
    # The inspector keeps a catalog under ~/.mcp-inspector: give it a home of its own.
    env["HOME"] = str(tmp_path)
    server = [str(LOOPCORE), "serve", "-e", f"LOOPCORE_DB={tmp_path / 'lc.db'}"]
    proc = subprocess.run(
        [inspector, "--cli", *server, "--format", "json", "-q", *args],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=100,
    )
    result = json.loads(proc.stdout)["result"] if proc.stdout.strip() else None
    return proc.returncode, result, proc.stderr


def test_inspector_lists_the_tools(tmp_path: Path) -> None:
    """tools/list through the Inspector shows every tool with an input and output schema."""
    code, result, err = _inspect(tmp_path, "--method", "tools/list")
    assert code == 0, err
    tools = {t["name"]: t for t in result["tools"]}
    assert {"intercept", "verify_output", "plan_create", "loop_start"} <= set(tools)
    assert tools["verify_output"]["inputSchema"]["type"] == "object"
    assert "outputSchema" in tools["verify_output"]


def test_inspector_finds_no_schema_portability_errors(tmp_path: Path) -> None:
    """``tools/list --strict`` exits 0: no tool schema has an error-severity portability issue."""
    code, _, err = _inspect(tmp_path, "--method", "tools/list", "--strict")
    assert code == 0, err


def test_inspector_calls_verify_output_with_a_regex_spec(tmp_path: Path) -> None:
    """tools/call verify_output with a JSON-valued regex spec returns a structured pass."""
    spec = {"type": "regex", "required": [r"\b0 failed\b"], "forbidden": ["Traceback"]}
    code, result, err = _inspect(
        tmp_path,
        "--method",
        "tools/call",
        "--tool-name",
        "verify_output",
        "--tool-arg",
        "output=pytest: 12 passed, 0 failed",
        f"evaluator={json.dumps(spec)}",
    )
    assert code == 0, err
    assert result["isError"] is False
    assert result["structuredContent"]["passed"] is True
    assert result["structuredContent"]["score"] == 1.0


def test_inspector_sees_a_failing_regex_spec(tmp_path: Path) -> None:
    """The same spec on output with a traceback does not pass and names the deficiency."""
    spec = {"type": "regex", "required": [r"\b0 failed\b"], "forbidden": ["Traceback"]}
    code, result, err = _inspect(
        tmp_path,
        "--method",
        "tools/call",
        "--tool-name",
        "verify_output",
        "--tool-arg",
        "output=Traceback (most recent call last): boom",
        f"evaluator={json.dumps(spec)}",
    )
    assert code == 0, err
    assert result["structuredContent"]["passed"] is False
    assert result["structuredContent"]["deficiencies"]
