"""How a tool group registers its tools: one helper applies the rules to every tool.

``add_tool`` is the only way tools reach the server, so every tool gets the
same treatment: the ``LOOPCORE_TOOLS=core|all`` filter, domain errors mapped
to tool errors (``server.errors.map_errors``), its MCP annotations, and its
docstring (written for a model) as the description. Tools carry no separate
human title: hosts show the name, and every byte of ``tools/list`` counts.

Strings stay strings: the SDK JSON-decodes a string argument whose annotation
is not exactly ``str`` (``str | None`` included), so ``plan_record(output='{"a":
1}')`` would arrive as a dict and be refused. ``add_tool`` gives every tool
metadata that leaves text parameters as sent (``_KeepText``); the pre-parsing
stays for the others (a spec sent as JSON text still becomes an object).

A result is serialised once: the SDK's own conversion dumps a returned model
twice (its text block, then its structured content) and validates it again;
``_KeepText.convert_result`` gives the same two from one dump (see there).
"""

from __future__ import annotations

import functools
import inspect
import types
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Union, get_args, get_origin

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.tools import Tool
from mcp.server.mcpserver.utilities.func_metadata import FuncMetadata
from mcp.types import CallToolResult, InputRequiredResult, TextContent, ToolAnnotations
from pydantic import BaseModel
from pydantic_core import to_json

from server.catalogue import LazyTools
from server.errors import map_errors
from server.settings import ToolSet

__all__ = ["CORE_TOOLS", "FastPath", "add_tool", "enabled", "fast_path", "text_fields"]

# The tools a host with a tight tool budget gets (DESIGN.md, "The tools").
CORE_TOOLS = frozenset(
    {
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
)


def enabled(name: str, toolset: ToolSet) -> bool:
    """Whether the tool ``name`` is exposed under ``toolset``."""
    return toolset == "all" or name in CORE_TOOLS


def _is_text(annotation: Any) -> bool:
    """``str``, or a union of ``str`` and ``None`` (the annotations a model's text goes to)."""
    if annotation is str:
        return True
    if get_origin(annotation) not in (Union, types.UnionType):
        return False
    args = [a for a in get_args(annotation) if a is not type(None)]
    return bool(args) and all(
        a is str or (get_origin(a) is Annotated and get_args(a)[0] is str) for a in args
    )


def text_fields(arg_model: type[BaseModel]) -> frozenset[str]:
    """The argument names (and aliases) of a tool whose values are text."""
    names: set[str] = set()
    for name, info in arg_model.model_fields.items():
        if _is_text(info.annotation):
            names.add(name)
            if info.alias:
                names.add(info.alias)
    return frozenset(names)


_TEXT_FIELDS: dict[type[BaseModel], frozenset[str]] = {}


def _text_fields(arg_model: type[BaseModel]) -> frozenset[str]:
    """``text_fields``, worked out once per argument model."""
    found = _TEXT_FIELDS.get(arg_model)
    if found is None:
        found = _TEXT_FIELDS[arg_model] = text_fields(arg_model)
    return found


class _KeepText(FuncMetadata):
    """The SDK's argument metadata, except that text arguments are never JSON-decoded and a
    returned model is serialised once."""

    def pre_parse_json(self, data: dict[str, Any]) -> dict[str, Any]:
        keep = _text_fields(self.arg_model)
        rest = {k: v for k, v in data.items() if k not in keep}
        if not any(isinstance(v, str) for v in rest.values()):
            return dict(data)  # nothing the SDK would decode (it only reads strings)
        parsed = super().pre_parse_json(rest)
        return {k: data[k] if k in keep else parsed[k] for k in data}

    def convert_result(self, result: Any) -> CallToolResult | InputRequiredResult:
        """The SDK's result, from one dump of the returned model.

        For an instance of the tool's own output model (what every loopcore tool returns)
        the SDK writes the model as indented JSON for the text block, validates it again
        (a no-op: pydantic does not revalidate an instance) and dumps it for the structured
        content: two runs of the serializer. Here the structured content is dumped once
        and the text block is that dump as indented JSON, the same bytes
        (``tests/server/tools/test_common.py`` compares them); a model with aliases, where
        the two differ, and any other result go through the SDK.
        """
        model: type[BaseModel] | None = self.output_model if self.output_schema else None
        if model is None or self.wrap_output or type(result) is not model or _aliased(model):
            return super().convert_result(result)
        data = result.model_dump(mode="json", by_alias=True)
        text = to_json(data, indent=2).decode()
        return CallToolResult(
            content=[TextContent(type="text", text=text)], structured_content=data
        )


_ALIASED: dict[type[BaseModel], bool] = {}


def _aliased(model: type[BaseModel]) -> bool:
    """Whether any field of ``model`` has an alias (its text block would use the names, its
    structured content the aliases)."""
    found = _ALIASED.get(model)
    if found is None:
        fields = model.model_fields.values()
        found = _ALIASED[model] = any(f.alias or f.serialization_alias for f in fields)
    return found


def _annotations(
    read_only: bool, destructive: bool, idempotent: bool, open_world: bool
) -> ToolAnnotations:
    """The MCP hints; destructive and idempotent only mean something for a tool that writes."""
    if read_only:
        return ToolAnnotations(read_only_hint=True, open_world_hint=open_world)
    # readOnlyHint and idempotentHint default to false, so they are only sent when true (every
    # byte of tools/list counts); destructiveHint and openWorldHint default to true and are
    # always sent.
    return ToolAnnotations(
        destructive_hint=destructive,
        idempotent_hint=True if idempotent else None,
        open_world_hint=open_world,
    )


def add_tool(
    mcp: MCPServer[Any],
    toolset: ToolSet,
    fn: Callable[..., Any],
    *,
    read_only: bool,
    destructive: bool = False,
    idempotent: bool = False,
    open_world: bool = False,
) -> bool:
    """Register ``fn`` as the tool named after it, unless ``toolset`` leaves it out.

    Args:
        mcp: the server.
        toolset: ``core`` or ``all`` (from the settings).
        fn: the tool function; its docstring is the description a model reads.
        read_only: the tool changes nothing (``readOnlyHint``).
        destructive: the tool may delete or overwrite data (``destructiveHint``).
        idempotent: repeating the same call changes nothing more (``idempotentHint``).
        open_world: the tool reaches outside loopcore's own store (``openWorldHint``).

    Returns:
        True when the tool was registered (on loopcore's server it is built on first use,
        ``server.catalogue``).
    """
    name = fn.__name__
    if not enabled(name, toolset):
        return False
    wrapped = map_errors(fn, toolset)
    description = " ".join(inspect.cleandoc(fn.__doc__ or "").split())
    annotations = _annotations(read_only, destructive, idempotent, open_world)

    def build() -> Tool:
        tool = Tool.from_function(
            wrapped,
            name=name,
            description=description,
            annotations=annotations,
            structured_output=True,
        )
        # The SDK offers no public hook for argument parsing; the tool it built is given
        # metadata that keeps text as sent (see the module docstring).
        tool.fn_metadata = _KeepText.model_validate(dict(tool.fn_metadata), from_attributes=False)
        return tool

    manager = mcp._tool_manager
    if isinstance(manager, LazyTools):  # loopcore's server: built on first use
        manager.defer(name, build)
    else:
        manager._tools[name] = build()
    return True


@dataclass(frozen=True)
class FastPath:
    """A twin of a tool without its resolvers, for calls that would make them do nothing.

    The SDK runs a tool's ``Resolve`` parameters before its body on every call
    (0.2-0.3 ms for intercept's two). ``when(arguments, context)`` picks the twin (the
    context is None for a call made outside a request); it takes the same arguments,
    is validated the same way and answers the same result. The
    twin's ``Tool`` (an argument model and schemas, ~5 ms) is built on its first call,
    not while the server starts: tools/list never shows it.
    """

    when: Callable[[Mapping[str, Any], Context[Any, Any] | None], bool]
    build: Callable[[], Tool]

    @functools.cached_property
    def tool(self) -> Tool:
        """The twin, built on first use."""
        return self.build()


def fast_path(
    name: str,
    when: Callable[[Mapping[str, Any], Context[Any, Any] | None], bool],
    fn: Callable[..., Any],
    toolset: ToolSet = "all",
) -> FastPath:
    """The fast path of the tool ``name``: ``fn`` as that tool, errors mapped, text kept."""

    def build() -> Tool:
        tool = Tool.from_function(map_errors(fn, toolset), name=name, structured_output=True)
        tool.fn_metadata = _KeepText.model_validate(dict(tool.fn_metadata), from_attributes=False)
        return tool

    return FastPath(when=when, build=build)
