"""Tools built on first use, and the published catalogue kept between starts."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from mcp import Client
from mcp.server.mcpserver.tools import Tool

from server import catalogue
from server.app import build_server
from server.catalogue import LazyTools
from tests.server.helpers import ERAS, make_settings, ok

pytestmark = pytest.mark.anyio


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Catalogues kept in a folder of this test's own."""
    where = tmp_path / "cache"
    monkeypatch.setattr(catalogue, "cache_dir", lambda: where)
    return where


def _wire(tools: list[Any]) -> list[dict[str, Any]]:
    return [t.model_dump(by_alias=True, exclude_none=True, mode="json") for t in tools]


async def _listed(tmp_path: Path, mode: str, **settings: Any) -> list[dict[str, Any]]:
    async with Client(build_server(make_settings(tmp_path, **settings)), mode=mode) as c:
        return _wire((await c.list_tools()).tools)


@ERAS
@pytest.mark.parametrize("tools", ["all", "core"])
async def test_the_saved_catalogue_is_the_built_one(
    tmp_path: Path, folder: Path, mode: str, tools: str
) -> None:
    """A second start lists, from the saved catalogue, exactly what the first one built."""
    built = await _listed(tmp_path, mode, tools=tools)
    saved = list(folder.glob("loopcore-tools-*.json"))
    again = await _listed(tmp_path, mode, tools=tools)
    assert len(saved) == 1
    assert again == built
    assert len(built) == (24 if tools == "all" else 9)


@ERAS
async def test_a_start_registers_no_tool_and_a_call_builds_one(
    tmp_path: Path, folder: Path, mode: str
) -> None:
    """With a saved catalogue, listing registers and builds nothing; the first call registers
    every tool and builds the one called."""
    await _listed(tmp_path, mode)
    mcp = build_server(make_settings(tmp_path))
    manager = mcp.lazy_tools
    async with Client(mcp, mode=mode) as c:
        listed = len((await c.list_tools()).tools)
        after_list = (manager.loaded, len(manager._order), len(manager._tools))
        res = await ok(c, "plan_create", {"goal": "ship", "tasks": [{"id": "a", "title": "A"}]})
        again = len((await c.list_tools()).tools)
    assert (listed, after_list) == (24, (False, 0, 0))
    assert (manager.loaded, len(manager.names), list(manager._tools)) == (True, 24, ["plan_create"])
    assert res["plan_id"].startswith("pl_")
    assert again == 24


async def test_a_tool_added_at_run_time_is_listed_and_not_saved(
    tmp_path: Path, folder: Path
) -> None:
    """A tool added to a built server is listed beside the saved catalogue's, which stays."""
    await _listed(tmp_path, "legacy")
    (saved,) = folder.glob("loopcore-tools-*.json")
    kept = saved.read_text()
    mcp = build_server(make_settings(tmp_path))

    def extra() -> str:
        """A tool added after the server was built."""
        return "x"

    mcp.add_tool(extra)
    async with Client(mcp, mode="legacy") as c:
        names = [t.name for t in (await c.list_tools()).tools]
    assert (len(names), names[-1]) == (25, "extra")
    assert saved.read_text() == kept


async def test_an_unreadable_catalogue_is_built_again(tmp_path: Path, folder: Path) -> None:
    """A damaged file is not believed: the tools are built and the file written again."""
    built = await _listed(tmp_path, "legacy")
    (saved,) = folder.glob("loopcore-tools-*.json")
    saved.write_text('[{"name": 1}]')
    assert await _listed(tmp_path, "legacy") == built
    assert saved.read_text().startswith('[{"name": "intercept"')


async def test_an_unwritable_folder_only_means_building(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """When the catalogue cannot be kept, every start builds the tools, as before."""
    blocked = tmp_path / "a-file"
    blocked.write_text("")
    monkeypatch.setattr(catalogue, "cache_dir", lambda: blocked / "cache")
    first = await _listed(tmp_path, "legacy")
    assert await _listed(tmp_path, "legacy") == first


def test_the_key_changes_with_the_code_and_the_variant(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Editing a source file, or other settings the tools depend on, is another catalogue."""
    source = tmp_path / "server" / "mod.py"
    source.parent.mkdir()
    source.write_text("x = 1\n")
    real = catalogue._package_root
    monkeypatch.setattr(
        catalogue, "_package_root", lambda n: source.parent if n == "server" else real(n)
    )
    key = catalogue.fingerprint("tools=all")
    assert catalogue.fingerprint("tools=all") == key
    assert catalogue.fingerprint("tools=core") != key
    stamp = source.stat().st_mtime_ns + 1_000_000_000
    os.utime(source, ns=(stamp, stamp))
    assert catalogue.fingerprint("tools=all").split("-")[0] != key.split("-")[0]


def _tool(name: str) -> Tool:
    def fn() -> str:
        return name

    return Tool.from_function(fn, name=name)


def test_lazy_tools_keep_the_order_of_registration() -> None:
    """Tools are listed in the order they were registered, whichever was built first."""
    tools = LazyTools()
    for name in ("b", "a", "c"):
        tools.defer(name, lambda n=name: _tool(n))  # type: ignore[misc]
    assert tools.get_tool("c") is not None
    assert ([t.name for t in tools.list_tools()], tools.pending) == (["b", "a", "c"], False)


def test_lazy_tools_refuse_a_name_twice_and_amend_on_build() -> None:
    """A second registration of a name is an error; an amendment applies when it is built."""
    tools = LazyTools()
    tools.defer("a", lambda: _tool("a"))
    with pytest.raises(ValueError, match="registered twice"):
        tools.defer("a", lambda: _tool("a"))
    tools.amend("a", lambda t: setattr(t, "meta", {"ui": 1}))
    built = tools.get_tool("a")
    assert built is not None and built.meta == {"ui": 1}


def test_the_loader_runs_once_when_a_tool_is_first_needed() -> None:
    """Nothing is registered until a tool is needed; then the loader runs, once."""
    runs: list[str] = []

    def loader() -> None:
        runs.append("load")
        tools.defer("a", lambda: _tool("a"))

    tools = LazyTools(loader=loader)
    before = (tools.loaded, list(runs))
    assert tools.get_tool("a") is not None
    assert [t.name for t in tools.list_tools()] == ["a"]
    assert (before, tools.loaded, runs, tools.as_registered) == ((False, []), True, ["load"], True)


def test_a_failing_loader_leaves_nothing_half_registered() -> None:
    """A loader that fails is run again on the next use, from a clean slate."""
    attempts: list[int] = []

    def loader() -> None:
        tools.defer("a", lambda: _tool("a"))
        attempts.append(1)
        if len(attempts) == 1:
            raise ImportError("a tool module failed to import")

    tools = LazyTools(loader=loader)
    with pytest.raises(ImportError, match="failed to import"):
        tools.list_tools()
    assert (tools.loaded, tools._order) == (False, [])
    assert [t.name for t in tools.list_tools()] == ["a"]
    assert len(attempts) == 2
