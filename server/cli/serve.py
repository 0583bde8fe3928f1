"""``loopcore serve``: stdio, SSE or streamable HTTP, with the HTTP safety rules.

- stdio: the MCP wire is stdout; everything else (logs) goes to stderr.
- HTTP (``/mcp``) and SSE (``/sse`` + ``/messages/``) bind 127.0.0.1 by default.
  Binding any other address is refused unless a bearer token is set, and then
  every HTTP request must carry ``Authorization: Bearer <token>`` (compared in
  constant time; 401 otherwise). DNS-rebinding protection (Host and Origin
  checks) stays on, with the bound host and ``LOOPCORE_ALLOWED_HOSTS`` added to
  the loopback names, and request bodies are capped at ``max_request_bytes``.
- HTTP limits (``server.httplimits``): request headers must arrive within
  ``http_header_timeout_s`` and the body within ``http_body_timeout_s`` (else the
  connection is closed); at most ``http_max_connections`` connections are served
  (more are answered 503); at most ``http_max_sessions`` streamable HTTP sessions,
  each closed after ``http_session_idle_s`` without a request; descriptor
  exhaustion is logged once a minute, not per failed accept.

What only HTTP needs (uvicorn's protocol classes, the dashboard, the team middleware,
psycopg for the replica bridge) is imported when HTTP is served: a stdio server
starts without it.
"""

from __future__ import annotations

import hmac
import json
import logging
from typing import TYPE_CHECKING, Any, cast

import anyio
import structlog
from mcp.server.mcpserver import MCPServer
from mcp.server.transport_security import TransportSecuritySettings
from starlette.types import ASGIApp, Receive, Scope, Send

from loopcore.members import MemberService
from loopcore.store.postgres import is_pg_store, is_postgres_url
from server.app import LoopcoreServer, build_server
from server.mcp.stdio import run_stdio
from server.settings import Settings, SettingsError
from server.startup import paused_gc

if TYPE_CHECKING:
    import uvicorn

__all__ = [
    "BearerAuth",
    "check_bind",
    "http_app",
    "run_serve",
    "team_app",
    "transport_security",
    "uvicorn_config",
]

log = structlog.get_logger(__name__)

_LOOPBACK = ("127.0.0.1", "localhost", "[::1]")


def check_bind(settings: Settings, *, members: bool = False) -> None:
    """Refuse a non-loopback bind without a token (a team's members' tokens count).

    Raises:
        SettingsError: the host is reachable from other machines and no token is set.
    """
    if settings.transport == "stdio" or settings.loopback or settings.token is not None:
        return
    if not members:
        raise SettingsError(
            f"refusing to bind {settings.host}: it is reachable from other machines; set "
            "LOOPCORE_TOKEN so every request must carry 'Authorization: Bearer <token>', "
            "add members (loopcore members add NAME --project P), or bind 127.0.0.1"
        )


def transport_security(settings: Settings) -> TransportSecuritySettings:
    """DNS-rebinding protection allowing loopback, the bound host and the configured hosts."""
    names = list(_LOOPBACK)
    extra = [settings.host, *sorted(settings.allowed_hosts)]
    names += [f"[{h}]" if ":" in h and not h.startswith("[") else h for h in extra]
    # A wildcard bind address is never a Host header clients send: leave it out.
    wildcard = ("0.0.0.0", "[::]")  # noqa: S104 - compared against, never bound
    names = list(dict.fromkeys(n for n in names if n not in wildcard))
    hosts = [*names, *(f"{n}:*" for n in names)]
    origins = [
        f"{scheme}://{n}{port}"
        for n in names
        for scheme in ("http", "https")
        for port in ("", ":*")
    ]
    return TransportSecuritySettings(
        enable_dns_rebinding_protection=True, allowed_hosts=hosts, allowed_origins=origins
    )


class BearerAuth:
    """ASGI middleware: every HTTP request must carry ``Authorization: Bearer <token>``.

    The scheme is case-insensitive (RFC 9110 section 11.1): ``bearer`` and ``BEARER`` work.
    """

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self._expected = token.encode()

    def _accepts(self, header: bytes) -> bool:
        scheme, _, given = header.strip().partition(b" ")
        # compare_digest even on a wrong scheme: the time taken says nothing of the token.
        same = hmac.compare_digest(given.strip(), self._expected)
        return same and scheme.lower() == b"bearer"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":  # lifespan events pass through
            await self.app(scope, receive, send)
            return
        given = next((v for k, v in scope.get("headers", []) if k == b"authorization"), b"")
        if self._accepts(given):
            await self.app(scope, receive, send)
            return
        log.info("http_unauthorized", path=scope.get("path"), client=str(scope.get("client")))
        body = json.dumps({"error": "unauthorized", "detail": "missing or wrong bearer token"})
        await send(
            {
                "type": "http.response.start",
                "status": 401,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"www-authenticate", b'Bearer realm="loopcore"'),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body.encode()})


def http_app(mcp: MCPServer[Any], settings: Settings) -> ASGIApp:
    """The ASGI app of the HTTP or SSE transport, behind the token check when one is set."""
    from server.web.mount import mount_dashboard

    security = transport_security(settings)
    app: ASGIApp
    if settings.transport == "sse":
        app = mcp.sse_app(
            max_request_body_size=settings.max_request_bytes,
            transport_security=security,
            host=settings.host,
        )
    else:
        web = mcp.streamable_http_app(
            streamable_http_path="/mcp",
            max_request_body_size=settings.max_request_bytes,
            transport_security=security,
            host=settings.host,
            max_sessions=settings.http_max_sessions,
            session_idle_timeout=settings.http_session_idle_s,
        )
        if isinstance(mcp, LoopcoreServer):  # the read-only dashboard at /dashboard
            mount_dashboard(web, mcp.deps.runtime, settings)
        app = web
    return team_app(app, mcp, settings)


def team_app(app: ASGIApp, mcp: MCPServer[Any], settings: Settings) -> ASGIApp:
    """``app`` behind ``server.team.TeamAuth``: ``/healthz``, the single-user token, members.

    On PostgreSQL the replica bridge (NOTIFY after commit, one LISTEN connection)
    runs for the app's lifetime. The store must be open (``run_serve`` opens it).
    """
    from server.team import ReplicaBridge, TeamAuth

    deps = cast(LoopcoreServer, mcp).deps
    token = None if settings.token is None else settings.token.get_secret_value()
    bridge = None
    if is_postgres_url(settings.db):  # only then is the store (opened by run_serve) read here
        store = deps.runtime.services.store
        if is_pg_store(store):
            bridge = ReplicaBridge(str(settings.db), store, deps.notifier)
    return TeamAuth(app, lambda: deps.runtime.services, token, bridge)


def run_serve(settings: Settings) -> int:
    """Serve until interrupted; returns the exit code.

    Raises:
        SettingsError: a non-loopback bind without a token.
        StoreError: the database cannot be opened or is newer than this code.
    """
    with paused_gc(freeze=True):  # what start-up builds stays for the process's life
        mcp = build_server(settings)
        # Open the store before serving: a database that cannot be used (newer than this
        # code, unwritable) fails here with a clear message instead of inside the first
        # session, and SSE connections then share this one opening instead of reopening it
        # per connection.
        runtime = mcp.deps.runtime
        runtime.acquire()
    try:
        if settings.transport != "stdio":  # a member's token only counts over HTTP
            check_bind(settings, members=MemberService(runtime.services.store).any_active())
        return _serve(mcp, settings)
    finally:
        runtime.release()


def _serve(mcp: LoopcoreServer, settings: Settings) -> int:
    log.info(
        "serving",
        transport=settings.transport,
        host=None if settings.transport == "stdio" else settings.host,
        port=None if settings.transport == "stdio" else settings.port,
        tools=settings.tools,
        project=settings.project_key,
    )
    if settings.transport == "stdio":
        anyio.run(run_stdio, mcp, settings.max_request_bytes)
        return 0
    import uvicorn

    from server.httplimits import QuietAcceptErrors

    logging.getLogger("asyncio").addFilter(QuietAcceptErrors())
    uvicorn.Server(uvicorn_config(mcp, settings)).run()
    return 0


def uvicorn_config(mcp: LoopcoreServer, settings: Settings) -> uvicorn.Config:
    """The uvicorn configuration of the HTTP and SSE transports, with their limits."""
    import uvicorn

    from server.httplimits import timed_protocol

    return uvicorn.Config(
        http_app(mcp, settings),
        host=settings.host,
        port=settings.port,
        log_config=None,  # uvicorn's loggers propagate to our stderr handler
        access_log=False,
        lifespan="on",
        http=timed_protocol(settings.http_header_timeout_s, settings.http_body_timeout_s),
        limit_concurrency=settings.http_max_connections,
        timeout_keep_alive=5,
    )
