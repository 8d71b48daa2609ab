"""The middleware's own answers: 400, 401, 403 and 503, built once.

Every invalid token gets the same bytes, whatever check failed (RFC 7516
section 11.5, RFC 6750 section 3.1): no error description, no hint. Bodies are
JSON ``{"detail": ...}``, the shape FastAPI's own errors have. Nothing here
echoes a token, a claim or exception text.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from starlette.types import Receive, Send

__all__ = ["ErrorBody", "Rejection", "Rejections"]

ErrorBody = Callable[[int, str], Mapping[str, Any]]

# Close code for a refused websocket (RFC 6455 section 7.4.1: policy violation).
WS_POLICY_VIOLATION = 1008
WS_TRY_AGAIN_LATER = 1013

_DETAILS = {
    "insecure_transport": "HTTPS is required",
    "invalid_request": "Invalid request",
    "missing_token": "Not authenticated",
    "invalid_token": "Invalid token",
    "insufficient_scope": "Insufficient scope",
    "unavailable": "Authentication is temporarily unavailable",
}


def default_error_body(status: int, error: str) -> Mapping[str, Any]:
    """The default body: ``{"detail": "<a fixed sentence>"}``."""
    return {"detail": _DETAILS.get(error, "Request refused")}


class Rejection:
    """One precomputed refusal: status, headers and body."""

    __slots__ = ("body", "headers", "status", "ws_code")

    def __init__(
        self, status: int, error: str, challenge: str | None, ws_code: int, body_for: ErrorBody
    ) -> None:
        self.status = status
        self.ws_code = ws_code
        self.body = json.dumps(body_for(status, error), separators=(",", ":")).encode("utf-8")
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(self.body)).encode("ascii")),
            # Refusals about credentials must not be stored by caches.
            (b"cache-control", b"no-store"),
        ]
        if challenge is not None:
            headers.append((b"www-authenticate", challenge.encode("ascii")))
        self.headers = headers

    async def send(self, scope_type: str, receive: Receive, send: Send) -> None:
        if scope_type == "websocket":
            await _close_websocket(self.ws_code, receive, send)
            return
        await send({"type": "http.response.start", "status": self.status, "headers": self.headers})
        await send({"type": "http.response.body", "body": self.body})


async def _close_websocket(code: int, receive: Receive, send: Send) -> None:
    # Closing before accept makes the server answer the handshake with 403
    # (ASGI websocket spec); the connect message is read first, as ASGI asks.
    message = await receive()
    if message["type"] == "websocket.connect":
        await send({"type": "websocket.close", "code": code})


class Rejections:
    """All the refusals one middleware can send, for one realm."""

    def __init__(self, realm: str, body_for: ErrorBody | None = None) -> None:
        if not realm or '"' in realm or "\\" in realm or not realm.isprintable():
            raise ValueError("realm must be printable text without quotes or backslashes")
        if not realm.isascii():
            raise ValueError("realm must be ASCII")
        body = body_for or default_error_body
        bearer = f'Bearer realm="{realm}"'
        self.insecure = Rejection(403, "insecure_transport", None, WS_POLICY_VIOLATION, body)
        self.missing = Rejection(401, "missing_token", bearer, WS_POLICY_VIOLATION, body)
        self.invalid = Rejection(
            401, "invalid_token", f'{bearer}, error="invalid_token"', WS_POLICY_VIOLATION, body
        )
        self.bad_request = Rejection(
            400, "invalid_request", f'{bearer}, error="invalid_request"', WS_POLICY_VIOLATION, body
        )
        self.unavailable = Rejection(503, "unavailable", None, WS_TRY_AGAIN_LATER, body)
