"""The dashboard: a read-only web view of plans, loops and intercepts, live.

``dashboard_app(store_of)`` is the ASGI app (mounted at ``/dashboard`` by ``loopcore
serve --transport http``); ``loopcore dashboard`` runs it on its own (``server.web.cli``).
The web stack is imported on first use of these names, so the CLI can build its parser
without it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from server.web.routes import HEALTH_APP, dashboard_app

__all__ = ["HEALTH_APP", "dashboard_app"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from server.web import routes

        return getattr(routes, name)
    raise AttributeError(name)
