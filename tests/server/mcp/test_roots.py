"""The project of a session: LOOPCORE_PROJECT, else the host's first root, else the cwd."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from mcp import Client
from mcp.types import ListRootsResult, Root

from server.app import build_server
from server.mcp.roots import project_of_roots
from tests.server.helpers import make_settings, ok

pytestmark = pytest.mark.anyio

TASKS = [{"id": "a", "title": "A"}]


class Roots:
    """A host's roots/list answer, counting how often it was asked."""

    def __init__(self, *uris: str) -> None:
        self.uris = uris
        self.asked = 0

    async def __call__(self, context: Any) -> ListRootsResult:
        self.asked += 1
        return ListRootsResult(roots=[Root(uri=u) for u in self.uris])  # type: ignore[arg-type]


def test_the_first_file_root_is_the_project() -> None:
    """file:// roots give their path (percent-decoded); other schemes are skipped."""
    assert (
        project_of_roots(["https://x/y", "file:///work/my%20repo/", "file:///b"]) == "/work/my repo"
    )
    assert project_of_roots(["https://x/y"]) is None


async def test_a_handshake_host_s_first_root_is_the_project(tmp_path: Path) -> None:
    """Two sessions with different roots on one server and database see only their own plans."""
    server = build_server(make_settings(tmp_path, project=None))
    a_roots, b_roots = Roots("file:///work/repo-a"), Roots("file:///work/repo-b")
    async with Client(server, mode="legacy", list_roots_callback=a_roots) as a:
        plan = await ok(a, "plan_create", {"goal": "g", "tasks": TASKS})
        await ok(a, "plan_status", {"plan_id": plan["plan_id"]})
        stats = await ok(a, "stats", {})
    async with Client(server, mode="legacy", list_roots_callback=b_roots) as b:
        theirs = await b.call_tool("plan_status", {"plan_id": plan["plan_id"]})
        listed = await ok(b, "plan_list", {})
    async with Client(
        server, mode="legacy", list_roots_callback=Roots("file:///work/repo-a")
    ) as a2:
        again = await ok(a2, "plan_list", {})
    assert stats["project"] == "/work/repo-a"
    assert a_roots.asked == 1  # once per session, however many calls
    assert theirs.is_error and "no plan" in str(theirs.content)
    assert listed["plans"] == []
    assert [p["plan_id"] for p in again["plans"]] == [plan["plan_id"]]


async def test_loopcore_project_wins_over_roots(tmp_path: Path) -> None:
    """With LOOPCORE_PROJECT set, the host is not even asked."""
    roots = Roots("file:///work/repo-a")
    async with Client(
        build_server(make_settings(tmp_path, project="named")),
        mode="legacy",
        list_roots_callback=roots,
    ) as c:
        stats = await ok(c, "stats", {})
    assert (stats["project"], roots.asked) == ("named", 0)


@pytest.mark.parametrize("mode", ["legacy", "2026-07-28"])
async def test_without_roots_the_working_directory_is_the_project(
    tmp_path: Path, mode: str
) -> None:
    """A host without roots (or the 2026-07-28 era) gets the working directory's key."""
    async with Client(build_server(make_settings(tmp_path, project=None)), mode=mode) as c:
        stats = await ok(c, "stats", {})
    assert stats["project"] == str(Path.cwd().resolve())
