"""build_server: the tool set, annotations, tools/list size, the shared store, crash handling."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Literal, get_args, get_origin

import anyio
import pytest
from mcp import Client

from loopcore.errors import StoreError
from server import catalogue
from server.app import build_server, catalogue_variant
from server.logs import configure_logging
from server.settings import Settings
from server.tools._common import CORE_TOOLS
from tests.server.helpers import ERAS, err, make_settings, new_plan, ok, text_of

# (readOnlyHint, destructiveHint, idempotentHint) of the tools this layer defines.
HINTS = {
    "verify_output": (True, None, None),
    "plan_create": (False, False, None),
    "plan_next_task": (False, False, None),
    "plan_record": (False, False, None),
    "plan_replan": (False, False, None),
    "plan_update_task": (False, False, True),
    "plan_status": (True, None, None),
    "plan_list": (True, None, None),
    "plan_explain": (True, None, None),
    "plan_archive": (False, False, True),
    "plan_delete": (False, True, True),
    "loop_start": (False, False, None),
    "loop_step": (False, False, None),
    "loop_end": (False, False, True),
    "loop_status": (True, None, None),
    "stats": (True, None, None),
}


async def _tools_json(tmp_path: Path, toolset: str) -> list[dict[str, object]]:
    async with Client(build_server(make_settings(tmp_path, tools=toolset))) as c:
        tools = (await c.list_tools()).tools
    return [t.model_dump(mode="json", by_alias=True, exclude_none=True) for t in tools]


@pytest.mark.anyio
async def test_every_tool_of_this_layer_is_listed(tmp_path: Path) -> None:
    """With LOOPCORE_TOOLS=all every tool of the design's table is listed."""
    names = {str(t["name"]) for t in await _tools_json(tmp_path, "all")}
    assert set(HINTS) <= names


@pytest.mark.anyio
async def test_core_lists_exactly_the_core_tools(tmp_path: Path) -> None:
    """LOOPCORE_TOOLS=core keeps exactly the core set, whichever group registers them."""
    names = {str(t["name"]) for t in await _tools_json(tmp_path, "core")}
    assert names == CORE_TOOLS


@pytest.mark.anyio
async def test_annotations_match_what_each_tool_does(tmp_path: Path) -> None:
    """Each tool carries the read-only, destructive and idempotent hints of what it does."""
    tools = {str(t["name"]): t for t in await _tools_json(tmp_path, "all")}
    got = {}
    for name in HINTS:
        a = tools[name]["annotations"]
        assert isinstance(a, dict)
        assert a["openWorldHint"] is False
        # readOnlyHint is left out when false, its MCP default.
        got[name] = (
            a.get("readOnlyHint", False),
            a.get("destructiveHint"),
            a.get("idempotentHint"),
        )
    assert got == HINTS


@pytest.mark.anyio
async def test_every_tool_has_a_description_and_output_schema(tmp_path: Path) -> None:
    """Every tool tells a model what it is for and publishes the shape of its result."""
    for tool in await _tools_json(tmp_path, "all"):
        assert len(str(tool["description"])) > 40, tool["name"]
        assert isinstance(tool.get("outputSchema"), dict), tool["name"]


@pytest.mark.anyio
async def test_tools_list_stays_under_20_kb(tmp_path: Path) -> None:
    """The whole tools/list (every tool) stays under the 20 KB hosts can afford."""
    size = len(json.dumps(await _tools_json(tmp_path, "all"), separators=(",", ":")))
    assert size < 20_000


@pytest.mark.anyio
async def test_core_tools_list_stays_under_8_kb(tmp_path: Path) -> None:
    """LOOPCORE_TOOLS=core, for hosts with tight tool budgets, stays under 8 KB."""
    size = len(json.dumps(await _tools_json(tmp_path, "core"), separators=(",", ":")))
    assert size < 8_000


@pytest.mark.anyio
@ERAS
async def test_published_schema_is_compact_but_validation_is_not(tmp_path: Path, mode: str) -> None:
    """Titles are gone from the published schema, yet a bad nested task is still refused."""
    tools = {str(t["name"]): t for t in await _tools_json(tmp_path, "all")}
    assert '"title": "' not in json.dumps(tools["plan_replan"]["inputSchema"])
    async with Client(build_server(make_settings(tmp_path)), mode=mode) as c:
        plan_id = await new_plan(c)
        text = await err(
            c, "plan_replan", {"plan_id": plan_id, "reason": "r", "add": [{"id": "x y"}]}
        )
    assert "add" in text


@pytest.mark.anyio
async def test_concurrent_sessions_share_one_store(tmp_path: Path) -> None:
    """Two sessions on one server see each other's plans; the store closes after the last."""
    server = build_server(make_settings(tmp_path))
    runtime = server.deps.runtime
    async with Client(server) as first, Client(server) as second:
        plan_id = await new_plan(first)
        seen = await ok(second, "plan_status", {"plan_id": plan_id})
        report = runtime.report
    assert seen["plan_id"] == plan_id
    assert report is not None
    assert report.migrated_from == 0
    with pytest.raises(StoreError):
        _ = runtime.services


@pytest.mark.anyio
async def test_unexpected_exception_is_logged_and_withheld(tmp_path: Path) -> None:
    """A crash is answered without internals, logged with its traceback, and the session lives."""
    server = build_server(make_settings(tmp_path))

    def explode() -> str:
        """A tool that fails the way a bug would."""
        raise RuntimeError("secret internal detail")

    server.add_tool(explode)
    log = io.StringIO()
    configure_logging("info", stream=log)
    try:
        async with Client(server) as c:
            crashed = await c.call_tool("explode", {})
            after = await ok(c, "stats", {})
    finally:
        configure_logging()
    assert crashed.is_error
    assert "secret" not in text_of(crashed)
    assert "Traceback" in log.getvalue()
    assert "secret internal detail" in log.getvalue()
    assert after["project"] == "test-project"


@pytest.mark.anyio
async def test_many_concurrent_calls_in_one_session(tmp_path: Path) -> None:
    """Twenty concurrent plan_record calls on one plan all land."""
    tasks = [{"id": f"t{i}", "title": f"T{i}"} for i in range(20)]
    async with Client(build_server(make_settings(tmp_path))) as c:
        plan_id = await new_plan(c, tasks)

        async def record(i: int) -> None:
            await ok(c, "plan_record", {"plan_id": plan_id, "task_id": f"t{i}", "output_score": 1})

        async with anyio.create_task_group() as tg:
            for i in range(20):
                tg.start_soon(record, i)
        status = await ok(c, "plan_status", {"plan_id": plan_id})
    assert status["counts"]["done"] == 20


# A valid value other than the default, for settings whose type gives none to derive.
_OTHER_VALUES: dict[str, object] = {
    "project": "another-project",
    "token": "s3cret",
    "provider_api_key": "k3y",
    "allow_commands": "pytest",
    "provider_base_url": "http://127.0.0.1:9/v1",
    "provider_model": "a-model",
    "allowed_hosts": "example.org",
    "price_input_per_1k": 0.5,
    "price_output_per_1k": 1.5,
    "host": "127.0.0.2",
    "command_environ": {"A": "b"},
}


def _other_value(name: str, default: object) -> object:
    """A value of the setting ``name`` other than ``default`` (checked by ``Settings``)."""
    if name in _OTHER_VALUES:
        return _OTHER_VALUES[name]
    if isinstance(default, bool):
        return not default
    if isinstance(default, int | float):
        return default / 2 if isinstance(default, float) else default + 1
    annotation = Settings.model_fields[name].annotation
    assert get_origin(annotation) is Literal, f"no other value of {name}: add one to _OTHER_VALUES"
    return next(v for v in get_args(annotation) if v != default)


async def _built_catalogue(tmp_path: Path, **settings: object) -> list[dict[str, object]]:
    mcp = build_server(make_settings(tmp_path, **settings))
    return [t.model_dump(mode="json", by_alias=True) for t in await mcp.list_tools()]


@pytest.mark.anyio
async def test_the_catalogue_key_covers_every_setting_that_changes_the_tools(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each setting in turn takes another value: when the built tools/list changes, so does
    ``catalogue_variant`` (the saved catalogue's key), and the catalogue is answered before
    the tool modules are imported, so a setting it missed would publish a stale list."""
    monkeypatch.setattr(catalogue, "load", lambda key: None)  # always built, never read
    monkeypatch.setattr(catalogue, "save", lambda key, tools: None)
    base_settings = make_settings(tmp_path)
    base = await _built_catalogue(tmp_path)
    changed = []
    for name in Settings.model_fields:
        if name == "db":
            continue  # every test has its own; the catalogue cannot read it
        value = _other_value(name, getattr(base_settings, name))
        other = make_settings(tmp_path, **{name: value})
        if await _built_catalogue(tmp_path, **{name: value}) != base:
            changed.append(name)
            assert catalogue_variant(other) != catalogue_variant(base_settings), name
    assert sorted(changed) == ["agent_approvals", "tools"]
