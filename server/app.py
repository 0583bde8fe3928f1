"""``build_server``: the MCP server with every tool group, resources and prompts.

The store is opened once per process whatever the transport: the lifespan
(once per process for stdio and streamable HTTP, once per connection for SSE)
only acquires and releases the shared ``Runtime``, which opens the store on
first use (migrated, restored, logged on stderr) and closes it after the last
session.

The tool groups (``TOOL_GROUPS``) are imported, with their schemas and the domain they
use, when the first tool is needed (a call, or a ``tools/list`` without a saved
catalogue: ``server.catalogue``): a server that has answered ``initialize`` and
``tools/list`` has imported none of them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from importlib import import_module
from typing import Any

import anyio.to_thread
import structlog
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.subscriptions import InMemorySubscriptionBus
from mcp.types import CallToolResult, InputRequiredResult
from mcp.types import Tool as MCPTool

from loopcore import __version__
from loopcore.clock import Clock, system_clock
from loopcore.store import Store
from server import catalogue
from server.catalogue import LazyTools
from server.errors import fit_advice
from server.mcp import prompts, resources
from server.mcp.apps import declare_plan_view, plan_apps
from server.mcp.handlers import install_protocol_handlers
from server.mcp.notify import ChangeNotifier
from server.mcp.roots import CURRENT_PROJECT, session_project
from server.runtime import Runtime
from server.schemas.compact import compact_schema, shallow_output
from server.settings import Settings
from server.tools.deps import Deps

__all__ = ["INSTRUCTIONS", "TOOL_GROUPS", "LoopcoreServer", "build_server", "catalogue_variant"]

log = structlog.get_logger(__name__)

# Each group: a module with ``register(mcp, deps)``, imported when the first tool is needed.
# A new group is added here.
TOOL_GROUPS: tuple[str, ...] = (
    "server.tools.intercept",
    "server.tools.verify",
    "server.tools.refine",
    "server.tools.plans",
    "server.tools.plan_admin",
    "server.tools.loops",
    "server.tools.insights",
)

INSTRUCTIONS = """\
loopcore checks your work instead of taking your word for it.
- Before a non-trivial request, call intercept (when listed): it scores the request and asks \
the questions that close its gaps.
- Before saying something is done, call verify_output with an evaluator spec (regex, \
json_schema, length, completeness, evidence, composite, command; fields and examples in the \
resource loopcore://evaluators) and fix what it reports. Checking records nothing.
- To improve one output: loop_start, then loop_step with each attempt until decision is \
"stop", then loop_end.
- For multi-step work: plan_create with tasks (depends_on, acceptance specs), then repeat \
plan_next_task -> work -> verify_output (fix, check again) -> plan_record (records the \
final result). When needs_replan is true, read plan_explain and call plan_replan.
Scores are 0..1; every call that fails says which field was wrong and what is allowed."""


def catalogue_variant(settings: Settings) -> str:
    """The settings the registered tools depend on, besides the code: the key of their saved
    catalogue (``server.catalogue``). The tool set, and whether agents may answer approvals
    (``approval_decide``); ``tests/server/test_app.py`` checks that no other setting changes
    the catalogue."""
    return f"tools={settings.tools};agent_approvals={settings.agent_approvals}"


class LoopcoreServer(MCPServer[Runtime]):
    """``MCPServer`` whose ``tools/list`` publishes compacted schemas (``server.schemas.compact``).

    ``deps`` is what the tool groups were registered with (its ``runtime`` holds the
    shared store), set by ``build_server``.
    """

    deps: Deps
    _published: tuple[tuple[str, ...], list[MCPTool]] | None = None

    async def _project(self, context: Context[Any, Any] | None) -> str:
        """This request's project (``server.mcp.roots``)."""
        request = getattr(context, "_request_context", None) if context is not None else None
        runtime = self.deps.runtime
        return await session_project(request, runtime.settings.project, runtime.project)

    async def read_resource(self, uri: Any, context: Context[Any, Any] | None = None) -> Any:
        """Read the resource in its session's project (``server.mcp.roots``)."""
        token = CURRENT_PROJECT.set(await self._project(context))
        try:
            return await super().read_resource(uri, context)
        finally:
            CURRENT_PROJECT.reset(token)

    @property
    def lazy_tools(self) -> LazyTools:
        """The tool manager (``server.catalogue.LazyTools``, set by ``build_server``)."""
        manager = self._tool_manager
        if not isinstance(manager, LazyTools):
            raise TypeError("LoopcoreServer's tool manager must be a LazyTools")
        return manager

    async def list_tools(self) -> list[MCPTool]:
        """Every tool, its schemas compacted: kept until the set of tools changes, and kept
        between starts beside the code (``server.catalogue``), so a start neither builds
        nor imports a tool."""
        tools = self.lazy_tools
        current = tools.names if tools.loaded else None  # None: the loader's, not loaded yet
        if self._published is None or current not in (None, self._published[0]):
            self._published = await self._catalogue()
        return list(self._published[1])

    async def _catalogue(self) -> tuple[tuple[str, ...], list[MCPTool]]:
        """The published tools and their names: the saved catalogue when it lists the tools
        registered (all of them, before they are loaded), else built (and saved)."""
        tools = self.lazy_tools
        key = catalogue.fingerprint(catalogue_variant(self.deps.settings))
        saved = catalogue.load(key)
        if saved is not None:
            names = tuple(t.name for t in saved)
            if not tools.loaded or tools.names == names:
                return names, saved
        compacted = [
            t.model_copy(
                update={
                    "input_schema": compact_schema(t.input_schema),
                    "output_schema": shallow_output(t.output_schema),
                }
            )
            for t in await super().list_tools()
        ]
        if tools.as_registered:  # not a set changed since by add_tool or remove_tool
            catalogue.save(key, compacted)
        return tuple(t.name for t in compacted), compacted

    async def call_tool(
        self, name: str, arguments: dict[str, Any], context: Context[Runtime, Any] | None = None
    ) -> CallToolResult | InputRequiredResult:
        """Call a tool in its session's project (``server.mcp.roots``); a call its resolvers
        would do nothing for takes its fast path."""
        token = CURRENT_PROJECT.set(await self._project(context))
        try:
            self.lazy_tools.load()  # the tool groups register the fast paths too
            route = self.deps.fast_paths.get(name)
            if route is None or not route.when(arguments, context):
                return await super().call_tool(name, arguments, context)
            if context is None:
                context = Context(mcp_server=self, subscriptions=self._subscriptions)
            result: CallToolResult = await route.tool.run(arguments, context, convert_result=True)
            return result
        finally:
            CURRENT_PROJECT.reset(token)


def build_server(
    settings: Settings, store: Store | None = None, clock: Clock | None = None
) -> LoopcoreServer:
    """The loopcore MCP server.

    Args:
        settings: the server settings (``Settings.load()`` at the entry point).
        store: an opened store to use (tests); by default ``settings.db`` is opened
            when the first session starts.
        clock: the source of time (default: the system clock).
    """
    runtime = Runtime(settings, clock or system_clock, store)
    bus = InMemorySubscriptionBus()

    @asynccontextmanager
    async def lifespan(_: MCPServer[Runtime]) -> AsyncIterator[Runtime]:
        await anyio.to_thread.run_sync(runtime.acquire)
        try:
            yield runtime
        finally:
            await anyio.to_thread.run_sync(runtime.release)

    mcp = LoopcoreServer(
        "loopcore",
        title="loopcore",
        instructions=fit_advice(INSTRUCTIONS, settings.tools),
        version=__version__,
        lifespan=lifespan,
        subscriptions=bus,
        log_level=settings.log_level.upper(),  # type: ignore[arg-type]
        extensions=[plan_apps()],
    )
    deps = Deps(settings=settings, runtime=runtime, notifier=ChangeNotifier(bus))
    mcp.deps = deps
    # Tools are registered, then built, on first use (server.catalogue): a start does neither.
    mcp._tool_manager = LazyTools(
        mcp.settings.warn_on_duplicate_tools, loader=_tool_loader(mcp, deps)
    )
    resources.register(mcp, deps)
    prompts.register(mcp, settings.tools)
    install_protocol_handlers(mcp, deps.notifier, runtime.pool)
    return mcp


def _tool_loader(mcp: LoopcoreServer, deps: Deps) -> Callable[[], None]:
    """What registers every tool group on ``mcp`` (run once, when the first tool is needed)."""

    def load() -> None:
        for name in TOOL_GROUPS:
            import_module(name).register(mcp, deps)
        declare_plan_view(mcp)

    return load
