"""Protocol methods ``MCPServer`` leaves unserved: logging level, completion, subscriptions.

- ``logging/setLevel``: the level is kept per connection (``client_log_level``) and the
  change is logged on stderr. loopcore sends no ``notifications/message``: its log is
  structlog on stderr, and protocol logging is retired in the 2026-07-28 era.
- ``completion/complete``: by argument name, for any prompt or resource template: ``plan_id``
  (this project's plans), ``task_id`` (the tasks of the ``plan_id`` already given),
  ``loop_id`` (open loops), ``evaluator``/``evaluator_type``/``type`` (evaluator types).
  Anything else completes to nothing, never to an error.
- ``resources/subscribe`` / ``unsubscribe`` (handshake era): one subscriber per connection is
  registered with the server's ``ChangeNotifier``, which sends it
  ``notifications/resources/updated``; it is dropped when the connection closes. Any URI may be
  subscribed (a plan may be created after the subscription); a connection may hold at most
  ``MAX_SUBSCRIPTIONS``. The 2026-07-28 era uses ``subscriptions/listen`` instead.
- ``ping`` is served by the SDK.

``install_protocol_handlers`` also adds one server middleware that sees every request: it
gives the request its session's share of the evaluation pool (``server.pool``), and turns
the SDK's bare ``Invalid request parameters`` for a request sent before ``initialize`` into
an error that says so.

The SDK offers no public way to add spec methods after construction other than the low-level
server's ``add_request_handler`` (its ``MethodBinding`` docs point there), hence
``mcp._lowlevel_server`` below.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import anyio.to_thread
import structlog
from mcp import MCPError
from mcp.server.connection import _NO_CHANNEL
from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.server.mcpserver import MCPServer
from mcp.server.session import ServerSession
from mcp.types import (
    INVALID_PARAMS,
    INVALID_REQUEST,
    CompleteRequestParams,
    CompleteResult,
    Completion,
    EmptyResult,
    LoggingLevel,
    SetLevelRequestParams,
    SubscribeRequestParams,
    UnsubscribeRequestParams,
)

from loopcore.errors import LoopcoreError
from server.mcp.notify import ChangeNotifier
from server.mcp.roots import session_project
from server.pool import EvaluationPool, session_share
from server.runtime import Runtime, Services

__all__ = [
    "MAX_SUBSCRIPTIONS",
    "SessionMiddleware",
    "client_log_level",
    "install_protocol_handlers",
]

log = structlog.get_logger(__name__)

MAX_COMPLETIONS = 100  # the spec's cap on completion values
MAX_SUBSCRIPTIONS = 1000
MAX_URI_CHARS = 2048
_LEVEL_KEY = "loopcore.log_level"
_SUBSCRIBER_KEY = "loopcore.subscriber"


def _connection_state(ctx: ServerRequestContext[Any, Any]) -> dict[str, Any]:
    """The per-connection scratch dict (``Connection.state``) of the request's connection.

    ``ServerSession`` is a per-request proxy and does not expose its connection publicly.
    """
    state: dict[str, Any] = ctx.session._connection.state
    return state


def client_log_level(ctx: ServerRequestContext[Any, Any]) -> LoggingLevel | None:
    """The level the client set with ``logging/setLevel`` on this connection, if any."""
    level: LoggingLevel | None = _connection_state(ctx).get(_LEVEL_KEY)
    return level


async def _set_level(
    ctx: ServerRequestContext[Any, Any], params: SetLevelRequestParams
) -> EmptyResult:
    _connection_state(ctx)[_LEVEL_KEY] = params.level
    log.info("client_log_level_set", level=params.level)
    return EmptyResult()


def _prefixed(candidates: Sequence[str], prefix: str) -> Completion:
    """Candidates starting with ``prefix``, at most ``MAX_COMPLETIONS`` of them."""
    hits = [c for c in candidates if c.startswith(prefix)]
    return Completion(
        values=hits[:MAX_COMPLETIONS], total=len(hits), has_more=len(hits) > MAX_COMPLETIONS
    )


def _plan_ids(seen: _Seen, _: dict[str, str]) -> list[str]:
    services, project = seen
    page = services.plans.list_plans(project, limit=100)
    return [p.id for p in page.plans]


def _task_ids(seen: _Seen, given: dict[str, str]) -> list[str]:
    plan_id = given.get("plan_id")
    if not plan_id:
        return []
    status = seen[0].plans.status(plan_id, verbose=True)
    return [t.id for t in status.tasks]


def _loop_ids(seen: _Seen, _: dict[str, str]) -> list[str]:
    services, project = seen
    return [loop.id for loop in services.loops.list_open(project, limit=100)]


def _evaluators(_: _Seen, __: dict[str, str]) -> list[str]:
    from loopcore.evaluators.factory import evaluator_types  # the factory loads on first use

    return evaluator_types()


# The services as the session's project sees them, and that project.
_Seen = tuple[Services, str]

_SOURCES: dict[str, Callable[[_Seen, dict[str, str]], list[str]]] = {
    "plan_id": _plan_ids,
    "task_id": _task_ids,
    "loop_id": _loop_ids,
    "evaluator": _evaluators,
    "evaluator_type": _evaluators,
    "type": _evaluators,
}


async def _complete(
    ctx: ServerRequestContext[Any, Any], params: CompleteRequestParams
) -> CompleteResult:
    source = _SOURCES.get(params.argument.name)
    runtime = ctx.lifespan_context
    if source is None or not isinstance(runtime, Runtime):
        return CompleteResult(completion=Completion(values=[]))
    given = dict((params.context.arguments if params.context else None) or {})
    try:
        project = await session_project(ctx, runtime.settings.project, runtime.project)
        seen = (runtime.services.for_project(project), project)
        # The services are synchronous SQLite reads: keep them off the event loop.
        candidates = await anyio.to_thread.run_sync(source, seen, given)
    except LoopcoreError as exc:  # e.g. an unknown plan_id in the context: nothing to offer
        log.debug("completion_unavailable", argument=params.argument.name, reason=str(exc))
        candidates = []
    return CompleteResult(completion=_prefixed(candidates, params.argument.value))


class _Subscriber:
    """One connection's subscriptions: the stable object the notifier holds.

    The notifier identifies subscribers by identity, and ``ServerSession`` is rebuilt for every
    request, so the first request's session is kept; without a ``related_request_id`` it
    sends on the connection's standalone channel, which outlives that request.
    """

    def __init__(self, session: ServerSession) -> None:
        self._session = session
        self.uris: set[str] = set()

    async def send_resource_updated(self, uri: str) -> None:
        """Send ``notifications/resources/updated`` for ``uri`` to this connection."""
        await self._session.send_resource_updated(uri)


def _subscriber(ctx: ServerRequestContext[Any, Any], notifier: ChangeNotifier) -> _Subscriber:
    """This connection's subscriber, created (with its cleanup at close) on first use."""
    state = _connection_state(ctx)
    sub: _Subscriber | None = state.get(_SUBSCRIBER_KEY)
    if sub is None:
        sub = state[_SUBSCRIBER_KEY] = _Subscriber(ctx.session)

        def forget(s: _Subscriber = sub) -> None:
            for uri in list(s.uris):
                notifier.unsubscribe(uri, s)
            s.uris.clear()

        ctx.session._connection.exit_stack.callback(forget)
    return sub


def _subscription_handlers(notifier: ChangeNotifier) -> tuple[Any, Any]:
    async def subscribe(
        ctx: ServerRequestContext[Any, Any], params: SubscribeRequestParams
    ) -> EmptyResult:
        uri = str(params.uri)
        if len(uri) > MAX_URI_CHARS:
            raise MCPError(INVALID_PARAMS, f"uri is longer than {MAX_URI_CHARS} characters")
        sub = _subscriber(ctx, notifier)
        if uri not in sub.uris and len(sub.uris) >= MAX_SUBSCRIPTIONS:
            raise MCPError(INVALID_PARAMS, f"at most {MAX_SUBSCRIPTIONS} subscriptions per session")
        sub.uris.add(uri)
        notifier.subscribe(uri, sub)
        log.debug("resource_subscribed", uri=uri)
        return EmptyResult()

    async def unsubscribe(
        ctx: ServerRequestContext[Any, Any], params: UnsubscribeRequestParams
    ) -> EmptyResult:
        uri = str(params.uri)
        sub = _subscriber(ctx, notifier)
        sub.uris.discard(uri)
        notifier.unsubscribe(uri, sub)
        log.debug("resource_unsubscribed", uri=uri)
        return EmptyResult()

    return subscribe, unsubscribe


def session_key(ctx: ServerRequestContext[Any, Any]) -> object | None:
    """What identifies the request's session, for its share of the evaluation pool.

    A streamable HTTP session has an id; a stdio, SSE or in-memory stream has one outbound
    channel shared by its requests (a handshake-era connection, or every 2026-07-28 request
    on that stream). A stateless HTTP request has neither: ``None`` (no share, the pool's
    bound only).
    """
    connection = ctx.session._connection
    if connection.session_id:
        return ("http-session", connection.session_id)
    return None if connection.outbound is _NO_CHANNEL else connection.outbound


class SessionMiddleware:
    """Server middleware: the session's evaluation share, and a clear pre-``initialize`` error.

    Args:
        pool: the evaluation pool whose per-session share each session gets.
    """

    def __init__(self, pool: EvaluationPool) -> None:
        self._pool = pool

    async def __call__(
        self, ctx: ServerRequestContext[Any, Any], call_next: CallNext
    ) -> HandlerResult:
        key = session_key(ctx)
        token = session_share.set(None if key is None else self._pool.share(key))
        try:
            return await call_next(ctx)
        except MCPError as exc:
            gated = exc.code == INVALID_PARAMS and ctx.method not in ("initialize", "ping")
            if not gated or ctx.session._connection.initialize_accepted:
                raise
            log.warning("request_before_initialize", method=ctx.method)
            raise MCPError(
                INVALID_REQUEST,
                f"'{ctx.method}' was sent before the session was initialized: send 'initialize', "
                "then the 'notifications/initialized' notification, then other requests",
            ) from exc
        finally:
            session_share.reset(token)


def install_protocol_handlers(
    mcp: MCPServer[Any],
    notifier: ChangeNotifier | None = None,
    pool: EvaluationPool | None = None,
) -> None:
    """Serve ``logging/setLevel``, ``completion/complete`` and, given the server's notifier,
    ``resources/subscribe`` and ``resources/unsubscribe`` on ``mcp``.

    Args:
        mcp: the server (``build_server`` calls this once, after registering resources).
        notifier: the ``ChangeNotifier`` the tools announce changes to; without it the
            subscription methods stay unserved (and ``resources.subscribe`` unadvertised).
        pool: the evaluation pool; with it, ``SessionMiddleware`` wraps every request.
    """
    low = mcp._lowlevel_server
    if pool is not None:
        low.middleware.append(SessionMiddleware(pool))
    low.add_request_handler("logging/setLevel", SetLevelRequestParams, _set_level)
    low.add_request_handler("completion/complete", CompleteRequestParams, _complete)
    if notifier is None:
        log.warning("resource_subscriptions_unserved", reason="no ChangeNotifier given")
        return
    subscribe, unsubscribe = _subscription_handlers(notifier)
    low.add_request_handler("resources/subscribe", SubscribeRequestParams, subscribe)
    low.add_request_handler("resources/unsubscribe", UnsubscribeRequestParams, unsubscribe)
