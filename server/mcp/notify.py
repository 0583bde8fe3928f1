"""Resource-change notifications, for both protocol eras.

A tool that changes a plan or a loop calls ``changed(uri, ...)`` once. The
2026-07-28 era is served through the server's ``SubscriptionBus`` (clients
open a ``subscriptions/listen`` stream); handshake-era clients subscribe with
``resources/subscribe``, whose handler (``server.mcp.handlers``) records the
session here with ``subscribe`` so ``changed`` can send them
``notifications/resources/updated`` too.
"""

from __future__ import annotations

import threading
from typing import Protocol

import structlog
from mcp.server.subscriptions import ResourceUpdated, SubscriptionBus

__all__ = ["ChangeNotifier", "LegacySession", "loop_uri", "plan_uris"]

log = structlog.get_logger(__name__)


class LegacySession(Protocol):
    """What a handshake-era session must offer to be notified."""

    async def send_resource_updated(self, uri: str) -> None:
        """Send ``notifications/resources/updated`` for ``uri``."""
        ...


def plan_uris(plan_id: str) -> tuple[str, ...]:
    """The resources a change to one plan touches: the list, the plan and its journal."""
    return (
        "loopcore://plans",
        f"loopcore://plans/{plan_id}",
        f"loopcore://plans/{plan_id}/journal",
    )


def loop_uri(loop_id: str) -> str:
    """The resource of one loop."""
    return f"loopcore://loops/{loop_id}"


class ChangeNotifier:
    """Fans a resource change out to listen streams and to legacy subscribers."""

    def __init__(self, bus: SubscriptionBus) -> None:
        self._bus = bus
        self._lock = threading.Lock()
        self._legacy: dict[str, list[LegacySession]] = {}

    def subscribe(self, uri: str, session: LegacySession) -> None:
        """Record that ``session`` wants updates of ``uri`` (``resources/subscribe``)."""
        with self._lock:
            sessions = self._legacy.setdefault(uri, [])
            if not any(s is session for s in sessions):
                sessions.append(session)

    def unsubscribe(self, uri: str, session: LegacySession) -> None:
        """Forget one subscription (``resources/unsubscribe``); unknown ones are ignored."""
        with self._lock:
            kept = [s for s in self._legacy.get(uri, []) if s is not session]
            if kept:
                self._legacy[uri] = kept
            else:
                self._legacy.pop(uri, None)

    async def changed(self, *uris: str) -> None:
        """Tell every subscriber of each of ``uris`` that it changed.

        A legacy session that fails to take the notification (it has gone) is
        dropped; a notification never fails the tool call that caused it.
        """
        for uri in uris:
            await self._bus.publish(ResourceUpdated(uri=uri))
            with self._lock:
                sessions = list(self._legacy.get(uri, []))
            for session in sessions:
                try:
                    await session.send_resource_updated(uri)
                except Exception:  # a closed session must not fail the caller's tool call
                    log.info("resource_subscriber_dropped", uri=uri)
                    self.unsubscribe(uri, session)
