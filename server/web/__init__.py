"""The dashboard: a read-only web view of plans, loops and intercepts, live.

``dashboard_app(store_of)`` is the ASGI app (mounted at ``/dashboard`` by ``loopcore
serve --transport http``); ``loopcore dashboard`` runs it on its own (``server.web.cli``).
"""

from __future__ import annotations

from server.web.routes import HEALTH_APP, dashboard_app

__all__ = ["HEALTH_APP", "dashboard_app"]
