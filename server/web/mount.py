"""The dashboard under ``loopcore serve --transport http``, at ``/dashboard``.

It reads the store the server's runtime holds (open for the life of the process in
``run_serve``), and sits behind whatever wraps the HTTP app (the bearer token when
one is set). Host headers are checked like the MCP endpoint's: loopback names, the
bound host and ``LOOPCORE_ALLOWED_HOSTS``.
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.routing import Mount

from server.runtime import Runtime
from server.settings import Settings
from server.web.routes import dashboard_app

__all__ = ["DASHBOARD_PATH", "mount_dashboard"]

DASHBOARD_PATH = "/dashboard"
_WILDCARDS = ("0.0.0.0", "::", "[::]")  # noqa: S104 - compared against, never bound


def _host_names(settings: Settings) -> list[str]:
    names = ["127.0.0.1", "localhost", "::1", "[::1]"]
    if settings.host not in _WILDCARDS:
        names.append(settings.host)
    names += sorted(settings.allowed_hosts)
    return list(dict.fromkeys(names))


def mount_dashboard(app: Starlette, runtime: Runtime, settings: Settings) -> None:
    """Add the read-only dashboard to ``app`` at ``/dashboard``."""
    web = dashboard_app(lambda: runtime.services.store, allowed_hosts=_host_names(settings))
    app.router.routes.append(Mount(DASHBOARD_PATH, app=web))
