"""The dashboard as an ASGI app: stable routes, fragments for live updates, a change marker.

Routes (all GET, read-only):

- ``/`` plans and loops of a project (``?project=``; default: the first project);
- ``/plans/{plan_id}``, ``/loops/{loop_id}``, ``/intercepts``;
- any page with ``?fragment=1``: only its ``<main>`` content (the live script swaps it in);
- ``/api/changes``: ``{"marker": ...}``, which moves whenever any process changes the store;
- ``/api/health``: what this is and which database it shows (``loopcore dashboard`` probes it);
- ``/static/dashboard.css`` and ``/static/dashboard.js``.

Store reads are synchronous; Starlette runs ``def`` endpoints in its thread pool.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from loopcore.errors import NotFound
from loopcore.store import Store
from server.team import current_identity
from server.web import pages, views
from server.web.assets import CSS, JS

__all__ = ["HEALTH_APP", "dashboard_app"]

HEALTH_APP = "loopcore-dashboard"

# Everything the page uses comes from this origin; no inline script, no frames.
_HEADERS = {
    "content-security-policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
        "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    ),
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "cache-control": "no-store",
}

StoreOf = Callable[[], Store]


def _visible(store: Store) -> list[str]:
    """The projects this request may see: every one, or a team member's own (``server.team``)."""
    known = views.projects(store)
    who = current_identity.get()
    return known if who is None else [p for p in known if p in who.projects]


def _plan_for(store: Store, plan_id: str) -> Any:
    """The plan's view, or None when it does not exist or belongs to another team."""
    try:
        view = views.plan_view(store, plan_id)
    except NotFound:
        return None
    return view if view.plan.project in _visible(store) else None


def _loop_for(store: Store, loop_id: str) -> Any:
    """The loop's view, or None when it does not exist or belongs to another team."""
    view = views.loop_view(store, loop_id)
    return view if view is not None and view.loop.project in _visible(store) else None


def _shell(request: Request, store: Store, project: str | None) -> pages.Shell:
    known = _visible(store)
    chosen = project if project in known else (known[0] if known else None)
    return pages.Shell(request.scope.get("root_path", ""), known, chosen)


def _respond(
    request: Request, shell: pages.Shell, store: Store, *, title: str, path: str, body: str,
    status: int = 200,
) -> Response:  # fmt: skip
    if request.query_params.get("fragment"):
        return HTMLResponse(body, status_code=status, headers=_HEADERS)
    doc = pages.page(shell, title=title, path=path, marker=views.change_marker(store), body=body)
    return HTMLResponse(doc, status_code=status, headers=_HEADERS)


def _routes(store_of: StoreOf) -> list[Route]:
    def home(request: Request) -> Response:
        store = store_of()
        shell = _shell(request, store, request.query_params.get("project"))
        view = views.project_view(store, shell.project) if shell.project else None
        body = pages.project_fragment(shell, view)
        return _respond(request, shell, store, title="Plans", path="/", body=body)

    def plan(request: Request) -> Response:
        store = store_of()
        plan_id = request.path_params["plan_id"]
        view = _plan_for(store, plan_id)
        if view is None:
            shell = _shell(request, store, None)
            body = pages.not_found_fragment(f"no plan {plan_id!r} in this database")
            return _respond(
                request, shell, store, title="Not found", path="/", body=body, status=404
            )
        shell = _shell(request, store, view.plan.project)
        body = pages.plan_fragment(shell, view)
        return _respond(request, shell, store, title=view.plan.goal[:80], path="/", body=body)

    def loop(request: Request) -> Response:
        store = store_of()
        loop_id = request.path_params["loop_id"]
        view = _loop_for(store, loop_id)
        shell = _shell(request, store, view.loop.project if view else None)
        if view is None:
            body = pages.not_found_fragment(f"no loop {loop_id!r} in this database")
            return _respond(
                request, shell, store, title="Not found", path="/", body=body, status=404
            )
        body = pages.loop_fragment(shell, view)
        return _respond(request, shell, store, title=view.loop.goal[:80], path="/", body=body)

    def intercepts(request: Request) -> Response:
        store = store_of()
        shell = _shell(request, store, request.query_params.get("project"))
        view = views.intercepts_view(store, shell.project) if shell.project else None
        body = pages.intercepts_fragment(shell, view)
        return _respond(request, shell, store, title="Intercepts", path="/intercepts", body=body)

    def changes(request: Request) -> Response:
        return JSONResponse({"marker": views.change_marker(store_of())}, headers=_HEADERS)

    def health(request: Request) -> Response:
        body = {"app": HEALTH_APP, "db": store_of().location, "pid": os.getpid()}
        return JSONResponse(body, headers=_HEADERS)

    def favicon(request: Request) -> Response:
        return Response(status_code=204)

    def css(request: Request) -> Response:
        return Response(CSS, media_type="text/css", headers={"cache-control": "no-cache"})

    def js(request: Request) -> Response:
        return Response(JS, media_type="text/javascript", headers={"cache-control": "no-cache"})

    return [
        Route("/", home),
        Route("/plans/{plan_id}", plan),
        Route("/loops/{loop_id}", loop),
        Route("/intercepts", intercepts),
        Route("/api/changes", changes),
        Route("/api/health", health),
        Route("/static/dashboard.css", css),
        Route("/static/dashboard.js", js),
        Route("/favicon.ico", favicon),
    ]


def dashboard_app(store_of: StoreOf, *, allowed_hosts: Sequence[str] | None = None) -> Starlette:
    """The read-only dashboard over the store ``store_of()`` returns.

    Args:
        store_of: gives the open store (called per request, so a server can hand over
            the store its runtime holds while sessions come and go).
        allowed_hosts: Host header names accepted (DNS-rebinding protection); None
            accepts any (the caller then checks hosts itself).
    """
    middleware = []
    if allowed_hosts is not None:
        middleware.append(Middleware(TrustedHostMiddleware, allowed_hosts=list(allowed_hosts)))
    return Starlette(routes=_routes(store_of), middleware=middleware)
