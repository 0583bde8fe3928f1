"""The README's tool table is the live server's tools/list."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import anyio
import pytest
from mcp.types import Tool, ToolAnnotations

from server.docs import END, README, START, live_tools, render_block, render_table, updated_readme

REPO = Path(__file__).resolve().parents[2]


def _tool(name: str, description: str, annotations: ToolAnnotations | None) -> Tool:
    return Tool(
        name=name, description=description, input_schema={"type": "object"}, annotations=annotations
    )


def test_readme_tool_table_matches_the_live_server() -> None:
    """README.md holds exactly the table the running server's tools/list produces."""
    tools, core = anyio.run(live_tools)
    readme = README.read_text(encoding="utf-8")
    block = render_block(tools, core)
    assert START in readme and END in readme, (
        "README has no tool block: python -m server.docs --write"
    )
    assert block in readme, "README's tool table is stale: run python -m server.docs --write"


def test_live_server_core_set_is_a_subset_with_the_design_tools() -> None:
    """The core set is DESIGN.md's list, all of it present in the full set."""
    tools, core = anyio.run(live_tools)
    assert core == {
        "intercept",
        "verify_output",
        "loop_start",
        "loop_step",
        "loop_end",
        "plan_create",
        "plan_next_task",
        "plan_record",
        "plan_status",
    }
    assert core <= {t.name for t in tools}


def test_table_rows_carry_first_sentence_flags_and_set() -> None:
    """One row per tool: first sentence (pipes escaped), the hints (MCP defaults), the set."""
    tools = [
        _tool("look", "Reads a | b. Then more.", ToolAnnotations(read_only_hint=True)),
        _tool(
            "wipe",
            "Deletes it.\nForever.",
            ToolAnnotations(destructive_hint=True, idempotent_hint=True),
        ),
        _tool("bare", "No hints", None),
        _tool(
            "safe", "Writes safely.", ToolAnnotations(read_only_hint=False, destructive_hint=False)
        ),
    ]
    assert render_table(tools, {"look"}).splitlines()[2:] == [
        "| `look` | Reads a \\| b. | yes | — | — | core |",
        "| `wipe` | Deletes it. | no | yes | yes | all |",
        "| `bare` | No hints | no | yes | no | all |",
        "| `safe` | Writes safely. | no | no | no | all |",
    ]


def test_block_is_appended_under_a_tools_heading_when_missing() -> None:
    """A README without markers gets "## Tools" and the block at the end."""
    block = f"{START}\nx\n{END}"
    assert updated_readme("# t\n\nbody\n", block) == f"# t\n\nbody\n\n## Tools\n\n{block}\n"


def test_only_the_marked_block_is_replaced() -> None:
    """Text before and after the markers is kept byte for byte."""
    readme = f"# t\n\n## Tools\n\n{START}\nold | table\n{END}\n\nafter\n"
    assert (
        updated_readme(readme, f"{START}\nnew\n{END}")
        == f"# t\n\n## Tools\n\n{START}\nnew\n{END}\n\nafter\n"
    )


@pytest.mark.slow
def test_check_fails_on_a_stale_readme_and_write_fixes_it(tmp_path: Path) -> None:
    """``--check`` exits 1 on a stale copy; ``--write`` regenerates it; ``--check`` then passes."""
    readme = tmp_path / "README.md"
    readme.write_text(f"# loopcore\n\n## Tools\n\n{START}\nstale\n{END}\n", encoding="utf-8")
    cmd = [sys.executable, "-m", "server.docs", "--readme", str(readme)]
    stale = subprocess.run([*cmd, "--check"], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert stale.returncode == 1
    assert "-stale" in stale.stdout
    wrote = subprocess.run([*cmd, "--write"], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert wrote.returncode == 0, wrote.stderr
    fresh = subprocess.run([*cmd, "--check"], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert (fresh.returncode, fresh.stdout) == (0, "")
    assert readme.read_text(encoding="utf-8").startswith(
        "# loopcore\n\n## Tools\n\n<!-- tools:start -->"
    )
