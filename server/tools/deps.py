"""What a tool group is given when it registers: settings, the runtime, the notifier.

A group is one module under ``server/tools/`` with::

    def register(mcp: MCPServer[Any], deps: Deps) -> None:
        @deps.tool(mcp, read_only=True, idempotent=True)
        def my_tool(...) -> SomeOutModel:
            \"\"\"What it is for, when to call it, what comes back.\"\"\"
            return ...deps.services().plans...

``deps.tool`` applies the ``LOOPCORE_TOOLS`` filter, the error mapping and the
annotations (``server.tools._common.add_tool``). Services are synchronous:
call them from ``def`` tools (run in a worker thread) or through
``deps.run_sync`` from ``async def`` tools; a call of one short transaction
(claim a task, record a score) through ``deps.run_store``, which on SQLite runs it
on the event loop when no lock is in its way, and in a worker thread when one is.
Anything that runs an evaluator (a spec, a command) goes through ``deps.run_eval``
instead: the evaluation pool (``server.pool``), bounded and shared fairly between
sessions. ``run_sync`` and ``run_eval`` run the call
again when its transaction lost a race (``RetryableStoreError``: a deadlock or a
serialization failure on PostgreSQL, which left nothing written), so an agent of a
busy team does not see one.
"""

from __future__ import annotations

import functools
import random
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

import anyio
import anyio.to_thread
from mcp.server.mcpserver import Context, MCPServer

from loopcore.errors import RetryableStoreError
from loopcore.evaluators import AttemptExpired, attempt
from loopcore.store.protocol import WouldWait
from server.mcp.notify import ChangeNotifier
from server.pool import INLINE_ATTEMPT_S
from server.runtime import Runtime, Services
from server.settings import Settings
from server.team import request_project, scoped
from server.tools._common import FastPath, add_tool, enabled, fast_path

__all__ = ["RETRIES", "Deps", "retried"]

F = TypeVar("F", bound=Callable[..., Any])
R = TypeVar("R")

RETRIES = 3  # extra attempts of a service call whose transaction lost a race
_GAVE_UP = object()  # what ``Deps._here`` returns for a call it did not run to the end


async def retried(call: Callable[[], Awaitable[R]], retries: int = RETRIES) -> R:
    """``call()``, run again after a ``RetryableStoreError`` (nothing was written) up to
    ``retries`` times, with a short jittered back-off; the last error is raised."""
    attempt = 0
    while True:
        try:
            return await call()
        except RetryableStoreError:
            if attempt >= retries:
                raise
            attempt += 1
            await anyio.sleep(0.005 * attempt * (0.5 + random.random()))  # noqa: S311 (jitter)


@dataclass(frozen=True, kw_only=True)
class Deps:
    """Dependencies of every tool group.

    Attributes:
        settings: the server settings.
        runtime: the shared store and services (open while a session is).
        notifier: tells resource subscribers what changed.
        fast_paths: resolver-free twins of tools, by tool name (see ``FastPath``).
    """

    settings: Settings
    runtime: Runtime
    notifier: ChangeNotifier
    fast_paths: dict[str, FastPath] = field(default_factory=dict)

    @property
    def project(self) -> str:
        """The project key of this request: a member's request (``server.team``) carries its
        own; otherwise the session's (``server.mcp.roots``), else the process's."""
        return request_project(self.runtime.project)

    def services(self) -> Services:
        """The domain services seen from this project: other projects' ids are not found.

        Raises ``StoreError`` outside a session.
        """
        return self.runtime.services.for_project(self.project)

    async def run_sync(self, fn: Callable[..., R], *args: Any, **kwargs: Any) -> R:
        """Run a blocking service call in a worker thread from an async tool (again when its
        transaction lost a race)."""
        call = functools.partial(fn, *args, **kwargs)
        return await retried(lambda: anyio.to_thread.run_sync(call))

    async def run_store(self, fn: Callable[..., R], *args: Any, **kwargs: Any) -> R:
        """``run_sync`` for a short service call (a few statements, one write transaction):
        where the store allows it (SQLite, ``Store.at_once``) it runs here and now, with
        no hand-over to a worker thread and back (about a fifth of such a call's time);
        when a lock is held elsewhere it gave up before doing anything (``WouldWait``)
        and runs in a worker thread, where it may wait."""
        got = self._here(fn, args, kwargs)
        return await self.run_sync(fn, *args, **kwargs) if got is _GAVE_UP else got

    def attempt_at_once(self, fn: Callable[..., R], *args: Any, **kwargs: Any) -> R | None:
        """``fn`` here and now, for a call that reads, evaluates in memory and writes once
        (``loop_step``), when the store allows it (``Store.at_once``); None when it gave up
        before writing anything: a lock in its way or a program to run (``WouldWait``), or
        an evaluation past ``INLINE_ATTEMPT_S`` (``AttemptExpired``). The caller then runs
        it where it may wait (``run_eval``)."""
        got = self._here(fn, args, kwargs)
        return None if got is _GAVE_UP else got

    def _here(self, fn: Callable[..., R], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        """``fn(*args, **kwargs)`` on this thread under ``Store.at_once`` and the inline
        evaluation deadline (a call that evaluates nothing never meets it), or ``_GAVE_UP``
        when the store cannot, or the call met a wait or the deadline before writing."""
        with self.runtime.services.store.at_once() as now:
            if now:
                try:
                    with attempt(INLINE_ATTEMPT_S):
                        return fn(*args, **kwargs)
                except (WouldWait, AttemptExpired):
                    pass
        return _GAVE_UP

    def fast_path(
        self, name: str, *, when: Callable[[Mapping[str, Any], Context[Any, Any] | None], bool]
    ) -> Callable[[F], F]:
        """Decorator: the function answers calls of tool ``name`` for which ``when`` holds
        (kept inside a member's project and name like the tool, ``server.team.scoped``)."""

        def decorator(fn: F) -> F:
            if enabled(name, self.settings.tools):
                twin = scoped(fn, self.services)
                self.fast_paths[name] = fast_path(name, when, twin, self.settings.tools)
            return fn

        return decorator

    async def run_eval(self, fn: Callable[..., R], *args: Any, **kwargs: Any) -> R:
        """Run blocking work that evaluates (a spec, a command) on the evaluation pool (again
        when its transaction lost a race)."""
        return await retried(lambda: self.runtime.pool.run(fn, *args, **kwargs))

    def tool(
        self,
        mcp: MCPServer[Any],
        *,
        read_only: bool,
        destructive: bool = False,
        idempotent: bool = False,
        open_world: bool = False,
    ) -> Callable[[F], F]:
        """Decorator: register the function as a tool (see ``add_tool``)."""

        def decorator(fn: F) -> F:
            add_tool(
                mcp,
                self.settings.tools,
                scoped(fn, self.services),
                read_only=read_only,
                destructive=destructive,
                idempotent=idempotent,
                open_world=open_world,
            )
            return fn

        return decorator
