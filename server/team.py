"""A team on one server: members' identity per request, project boundaries, replicas.

- **Identity per request.** ``TeamAuth`` (the ASGI middleware of the HTTP
  transports) sets the ``current_identity`` context variable for each request
  of a member: the MCP SDK snapshots the context of the request that carries
  each message and runs the handler in it, and ``anyio.to_thread`` carries it
  into worker threads, so ``Deps.project`` and the tool guard below see the
  member and the project of *this* request. Outside a member's request (stdio,
  ``LOOPCORE_TOKEN``, loopback without a token) it is None and the process's
  ``LOOPCORE_PROJECT`` applies, as before.
- **Project boundary.** ``scoped(fn)`` wraps every tool: for a member, a
  ``plan_id`` or ``loop_id`` of another project is "not found" exactly as an
  unknown id, and the ``agent`` argument is the member's name (the identity on
  claims and in the journal).
- **Tokens.** The bearer token is hashed (sha256) and looked up in the
  ``members`` table, cached for at most ``CACHE_S`` (so ``loopcore members
  revoke`` is refused by every replica within a second; while the database is
  unreachable the last answer for a member stays, so their tool calls get the
  store's clear error, and unknown tokens get 503). The project is chosen
  by the ``X-Loopcore-Project`` header among the member's projects (their first
  by default); any other project is refused with 403.
- **Replicas.** ``ReplicaBridge``: on PostgreSQL, each committed write that wrote
  journal lines is announced with ``NOTIFY loopcore`` (a publisher thread fed by
  the store's commit hook), and one autocommit ``LISTEN`` connection per process
  forwards other replicas' announcements to the local ``ChangeNotifier``,
  reconnecting when the connection drops.
- **/healthz** for a load balancer: 200 with the schema version when the
  database answers, 503 when it does not; no token needed and nothing secret in it.
"""

from __future__ import annotations

import functools
import hmac
import inspect
import json
import os
import queue
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar, cast

import anyio
import anyio.to_thread
import structlog
from starlette.types import ASGIApp, Receive, Scope, Send

from loopcore.errors import LoopNotFound, PlanNotFound, StoreError
from loopcore.members import Member, MemberService, hash_token
from loopcore.store.postgres import is_pg_store
from server.mcp.notify import ChangeNotifier, loop_uri, plan_uris

if TYPE_CHECKING:  # psycopg is imported by the replica bridge only (PostgreSQL, HTTP)
    import psycopg

    from loopcore.store.postgres import PostgresStore
    from loopcore.store.postgres.store import JournalLine

__all__ = [
    "CACHE_S",
    "CHANNEL",
    "PROJECT_HEADER",
    "Identity",
    "ReplicaBridge",
    "TeamAuth",
    "current_identity",
    "require_owned",
    "scoped",
]

log = structlog.get_logger(__name__)

PROJECT_HEADER = "x-loopcore-project"
CHANNEL = "loopcore"
CACHE_S = 1.0  # longest a revoked token keeps working on a replica that saw it just before
F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True, slots=True)
class Identity:
    """Who sent this request (a member) and which of their projects it is for."""

    member: str
    project: str
    projects: tuple[str, ...] = ()  # every project of the member (the dashboard lists them)


current_identity: ContextVar[Identity | None] = ContextVar("loopcore_identity", default=None)


def _bearer(header: bytes) -> bytes:
    """``Authorization`` with its scheme spelt ``Bearer`` (RFC 9110: case-insensitive)."""
    scheme, _, token = header.strip().partition(b" ")
    return b"Bearer " + token.strip() if scheme.lower() == b"bearer" else header


def request_project(default: str) -> str:
    """The project of this request: a member's (``current_identity``), else the session's
    (``server.mcp.roots``), else ``default`` (the process's setting or working directory).

    The one rule tools, resolvers and resources read, so none of them can disagree.
    """
    from server.mcp.roots import CURRENT_PROJECT

    who = current_identity.get()
    if who is not None:
        return who.project
    return CURRENT_PROJECT.get() or default


# ------------------------------------------------------------------ project boundary


def require_owned(services: Any, kind: str, ident: str | None) -> None:
    """Raise "not found" when a member's request names a plan or loop of another project.

    Raises:
        PlanNotFound, LoopNotFound: the id is unknown or belongs to another project.
    """
    who = current_identity.get()
    if who is None or ident is None:
        return
    if kind == "plan":
        if services.plans.get(ident).project != who.project:
            raise PlanNotFound(ident)
    elif services.loops.status(ident).loop.project != who.project:
        raise LoopNotFound(ident)


def scoped(fn: F, services: Callable[[], Any]) -> F:
    """Wrap a tool so a member stays inside their project and claims under their name.

    Tools without ``plan_id``, ``loop_id`` or ``agent`` parameters are returned as
    they are. The wrapper keeps ``fn``'s signature (the SDK builds schemas from it)
    and stays sync or async like ``fn``.
    """
    sig = inspect.signature(fn)
    names = {"plan_id", "loop_id", "agent"} & set(sig.parameters)
    if not names:
        return fn

    def prepare(args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
        who = current_identity.get()
        if who is None:
            return kwargs
        bound = sig.bind_partial(*args, **kwargs).arguments
        got = services()
        require_owned(got, "plan", bound.get("plan_id"))
        require_owned(got, "loop", bound.get("loop_id"))
        if "agent" in names:
            bound["agent"] = who.member
        return dict(bound)

    if inspect.iscoroutinefunction(fn):
        afn = cast(Callable[..., Awaitable[Any]], fn)

        @functools.wraps(fn)
        async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
            if current_identity.get() is not None:
                kwargs = await anyio.to_thread.run_sync(prepare, args, kwargs)
                args = ()
            return await afn(*args, **kwargs)

        return cast(F, async_wrapper)

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if current_identity.get() is not None:
            kwargs = prepare(args, kwargs)
            args = ()
        return fn(*args, **kwargs)

    return cast(F, wrapper)


# ------------------------------------------------------------------ authentication


class _MemberCache:
    """Token hash -> (member or None, when looked up); entries live ``CACHE_S`` at most."""

    def __init__(self, members: Callable[[], MemberService]) -> None:
        self._members = members
        self._lock = threading.Lock()
        self._entries: dict[str, tuple[Member | None, float]] = {}
        self._any: tuple[bool, float] | None = None

    def lookup(self, token: str) -> Member | None:
        key = hash_token(token)
        now = time.monotonic()
        with self._lock:
            hit = self._entries.get(key)
        if hit is not None and now - hit[1] < CACHE_S:
            return hit[0]
        try:
            member = self._members().lookup(token)
        except StoreError:
            # The database is unreachable, so nothing can be revoked meanwhile and no tool
            # can run: the last answer lets the request through to a clear tool error.
            if hit is None or hit[0] is None:
                raise
            return hit[0]
        with self._lock:
            if len(self._entries) > 4096:
                self._entries.clear()
            self._entries[key] = (member, now)
        return member

    def any_active(self) -> bool:
        now = time.monotonic()
        cached = self._any
        if cached is not None and now - cached[1] < CACHE_S:
            return cached[0]
        try:
            found = self._members().any_active()
        except StoreError:
            if cached is None:
                raise
            return cached[0]
        self._any = (found, now)
        return found


async def _respond(
    send: Send, status: int, body: dict[str, Any], *extra: tuple[bytes, bytes]
) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), *extra],
        }
    )
    await send({"type": "http.response.body", "body": json.dumps(body).encode()})


def _header(scope: Scope, name: bytes) -> bytes | None:
    return next((v for k, v in scope.get("headers", []) if k == name), None)


class TeamAuth:
    """ASGI middleware: ``/healthz``, the single-user token, members' tokens and projects.

    A request passes with no identity when it carries ``LOOPCORE_TOKEN`` or when
    neither a token is set nor any member exists (one person on loopback). A
    member's token passes with the member's identity; anything else is 401, and
    a project the member does not have is 403.

    Args:
        app: the MCP transport app.
        services: the open store's services (``Runtime.services``).
        token: the single-user token (``LOOPCORE_TOKEN``), if set.
        bridge: the replica bridge to run for the app's lifetime (PostgreSQL).
    """

    def __init__(
        self,
        app: ASGIApp,
        services: Callable[[], Any],
        token: str | None,
        bridge: ReplicaBridge | None = None,
    ) -> None:
        self.app = app
        self._services = services
        self._expected = None if token is None else f"Bearer {token}".encode()
        self._cache = _MemberCache(lambda: MemberService(self._services().store))
        self._bridge = bridge

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(scope, receive, send)
            return
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope.get("path") == "/healthz":
            await self._health(send)
            return
        given = _bearer(_header(scope, b"authorization") or b"")
        if self._expected is not None and hmac.compare_digest(given, self._expected):
            await self.app(scope, receive, send)
            return
        try:
            member = await anyio.to_thread.run_sync(self._member, given)
        except StoreError as exc:  # the caller is not known yet: no database detail for them
            log.warning("http_token_check_failed", error=str(exc))
            detail = "the token cannot be checked: the database is unreachable; try again"
            await _respond(send, 503, {"error": "unavailable", "detail": detail})
            return
        if member is None:
            log.info("http_unauthorized", path=scope.get("path"), client=str(scope.get("client")))
            await _respond(
                send,
                401,
                {"error": "unauthorized", "detail": "missing, wrong or revoked bearer token"},
                (b"www-authenticate", b'Bearer realm="loopcore"'),
            )
            return
        if not isinstance(member, Member):  # nobody to tell apart: one person on loopback
            await self.app(scope, receive, send)
            return
        asked = _header(scope, PROJECT_HEADER.encode())
        project = member.projects[0] if not asked else asked.decode("utf-8", "replace")
        if project not in member.projects:
            await _respond(
                send,
                403,
                {
                    "error": "forbidden",
                    "detail": f"member {member.name!r} has no project {project!r}; "
                    f"theirs: {', '.join(member.projects)}",
                },
            )
            return
        who = Identity(member=member.name, project=project, projects=tuple(member.projects))
        reset = current_identity.set(who)
        try:
            await self.app(scope, receive, send)
        finally:
            current_identity.reset(reset)

    def _member(self, given: bytes) -> Member | bool | None:
        """The member holding the bearer token; True when no token is needed at all."""
        if given.startswith(b"Bearer "):
            member = self._cache.lookup(given[7:].decode("utf-8", "replace").strip())
            if member is not None:
                return member
        if self._expected is None and not given and not self._cache.any_active():
            return True
        return None

    async def _health(self, send: Send) -> None:
        def probe() -> dict[str, Any]:
            store = self._services().store
            return {
                "status": "ok",
                "database": "postgresql" if is_pg_store(store) else "sqlite",
                "schema_version": store.schema_version(),
            }

        try:
            body = await anyio.to_thread.run_sync(probe)
        except StoreError:
            await _respond(send, 503, {"status": "unavailable", "detail": "database unreachable"})
            return
        if self._bridge is not None:
            body["replica_listening"] = self._bridge.listening
        await _respond(send, 200, body)

    async def _lifespan(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self._bridge is None:
            await self.app(scope, receive, send)
            return
        async with anyio.create_task_group() as tg:
            tg.start_soon(self._bridge.listen)
            try:
                await self.app(scope, receive, send)
            finally:
                tg.cancel_scope.cancel()
                self._bridge.close()


# ------------------------------------------------------------------ replicas


def _uris(lines: Sequence[JournalLine]) -> list[str]:
    uris: dict[str, None] = {}
    for _kind, plan_id, loop_id, _seq in lines:
        if plan_id is not None:
            uris.update(dict.fromkeys(plan_uris(plan_id)))
        if loop_id is not None:
            uris[loop_uri(loop_id)] = None
    return list(uris)


class ReplicaBridge:
    """NOTIFY other replicas after each commit; LISTEN and forward theirs to subscribers.

    Args:
        url: the PostgreSQL URL (the same database as the store).
        store: the store whose commits are announced.
        notifier: where other replicas' changes are forwarded.
        retry_s: the pause before reconnecting a dropped connection.
    """

    def __init__(
        self, url: str, store: PostgresStore, notifier: ChangeNotifier, retry_s: float = 0.5
    ) -> None:
        self._url = url
        self._notifier = notifier
        self._retry_s = retry_s
        self.origin = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self._queue: queue.SimpleQueue[list[str] | None] = queue.SimpleQueue()
        self._publisher = threading.Thread(
            target=self._publish, name="loopcore-notify", daemon=True
        )
        self._publisher.start()
        self.listening = False  # the LISTEN connection is up (shown by /healthz)
        store.add_commit_hook(self._committed)

    def _committed(self, lines: Sequence[JournalLine]) -> None:
        uris = _uris(lines)
        if uris:
            self._queue.put(uris)

    def _publish(self) -> None:
        import psycopg

        conn: psycopg.Connection[Any] | None = None
        while True:
            item = self._queue.get()
            if item is None:
                break
            uris = set(item)
            while True:  # fold whatever else is waiting into one NOTIFY
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    self._queue.put(None)
                    break
                uris.update(more)
            payload = json.dumps({"origin": self.origin, "uris": sorted(uris)})
            for _ in range(2):
                try:
                    if conn is None or conn.closed:
                        conn = psycopg.connect(self._url, autocommit=True, connect_timeout=5)
                    conn.execute("SELECT pg_notify(%s, %s)", (CHANNEL, payload))
                    break
                except psycopg.Error as exc:
                    log.warning("replica_notify_failed", error=str(exc).strip())
                    if conn is not None:
                        conn.close()
                    conn = None
        if conn is not None:
            conn.close()

    async def listen(self) -> None:
        """Forward other replicas' changes until cancelled, reconnecting when needed."""
        import psycopg

        while True:
            try:
                aconn = await psycopg.AsyncConnection.connect(
                    self._url, autocommit=True, connect_timeout=5
                )
            except psycopg.Error as exc:
                log.warning("replica_listen_connect_failed", error=str(exc).strip())
                await anyio.sleep(self._retry_s)
                continue
            try:
                async with aconn:
                    await aconn.execute(f"LISTEN {CHANNEL}")
                    log.info("replica_listening", channel=CHANNEL, origin=self.origin)
                    self.listening = True
                    async for note in aconn.notifies():
                        await self._forward(note.payload)
            except psycopg.Error as exc:
                self.listening = False
                log.warning("replica_listen_dropped", error=str(exc).strip())
                await anyio.sleep(self._retry_s)

    async def _forward(self, payload: str) -> None:
        try:
            data = json.loads(payload)
            origin, uris = data["origin"], data["uris"]
        except (ValueError, KeyError, TypeError):
            log.warning("replica_notify_unreadable", payload=payload[:200])
            return
        if origin == self.origin:  # this process's tools announced it already
            return
        await self._notifier.changed(*(str(u) for u in uris))

    def close(self) -> None:
        """Stop the publisher thread (after sending what is queued)."""
        self._queue.put(None)
        self._publisher.join(timeout=5)
