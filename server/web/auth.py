"""The token check of a dashboard bound off loopback.

The same rule as ``loopcore serve``: with a token set, every request must carry
``Authorization: Bearer <token>`` (compared in constant time). A browser cannot add
that header, so the gate also accepts the token in an ``HttpOnly``, ``SameSite=Strict``
cookie, which ``GET /login?token=...`` sets after checking the token (then redirects to
``/``, so the token leaves the address bar).
"""

from __future__ import annotations

import hmac
import json
from urllib.parse import parse_qs

from starlette.types import ASGIApp, Receive, Scope, Send

__all__ = ["COOKIE", "TokenGate"]

COOKIE = "loopcore_dashboard"


def _cookie(scope: Scope) -> bytes:
    for key, value in scope.get("headers", []):
        if key != b"cookie":
            continue
        for part in value.split(b";"):
            name, _, given = part.strip().partition(b"=")
            if name == COOKIE.encode():
                return bytes(given)
    return b""


class TokenGate:
    """ASGI middleware: a bearer header or the login cookie must carry the token."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self._token = token.encode()
        self._bearer = b"Bearer " + self._token

    def _allowed(self, scope: Scope) -> bool:
        header = next((v for k, v in scope.get("headers", []) if k == b"authorization"), b"")
        return hmac.compare_digest(header, self._bearer) or hmac.compare_digest(
            _cookie(scope), self._token
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope.get("path") == "/login":
            await self._login(scope, send)
            return
        if self._allowed(scope):
            await self.app(scope, receive, send)
            return
        await _answer(send, 401, {"error": "unauthorized", "detail": "missing or wrong token"})

    async def _login(self, scope: Scope, send: Send) -> None:
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        given = (query.get("token") or [""])[0].encode()
        if not hmac.compare_digest(given, self._token):
            await _answer(send, 401, {"error": "unauthorized", "detail": "wrong token"})
            return
        root = scope.get("root_path", "") or ""
        cookie = f"{COOKIE}={given.decode()}; HttpOnly; SameSite=Strict; Path={root or '/'}"
        await send(
            {
                "type": "http.response.start",
                "status": 303,
                "headers": [(b"location", f"{root}/".encode()), (b"set-cookie", cookie.encode())],
            }
        )
        await send({"type": "http.response.body", "body": b""})


async def _answer(send: Send, status: int, body: dict[str, str]) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"www-authenticate", b'Bearer realm="loopcore"'),
            ],
        }
    )
    await send({"type": "http.response.body", "body": json.dumps(body).encode()})
