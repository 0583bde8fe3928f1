"""Finding the Node 22 tools (conformance suite, Inspector, Claude Code) for the e2e tests."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def node_env() -> dict[str, str]:
    """The environment with Node 22 and .ci/tools first on PATH; skip (fail in CI) without it."""
    node_bin = os.environ.get("LOOPCORE_NODE_BIN", "")
    if not node_bin:
        why = "needs Node 22 tools: `source .ci/node.sh` sets LOOPCORE_NODE_BIN"
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true but LOOPCORE_NODE_BIN is unset; {why}")
        pytest.skip(why)
    tools = REPO / ".ci" / "tools" / "node_modules" / ".bin"
    path = os.pathsep.join([node_bin, str(tools), os.environ.get("PATH", "")])
    return {**os.environ, "PATH": path}


def program(name: str, env: dict[str, str]) -> str:
    """The absolute path of a Node tool on ``env``'s PATH; fail when it is not installed."""
    found = shutil.which(name, path=env["PATH"])
    if found is None:
        pytest.fail(f"{name} is not installed: run `source .ci/node.sh`")
    return found
