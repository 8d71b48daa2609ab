"""A JWKS endpoint for tests: uvicorn over TLS on 127.0.0.1, in a thread."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response

from jwe_middleware import Key

from ._tls import TLSFiles

__all__ = ["JWKSEndpoint", "serve_https"]


class JWKSEndpoint:
    """What the test server answers; tests change it between requests."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.body = b'{"keys": []}'
        self.status = 200
        self.headers: dict[str, str] = {}
        self.delay = 0.0
        self.hits = 0

    def publish(self, *keys: Key) -> None:
        self.body = json.dumps({"keys": [key.public_jwk() for key in keys]}).encode()

    async def handle(self, request: Request) -> Response:
        self.hits += 1
        started = time.monotonic()
        # Polled, so a test can end a slow answer by setting delay to 0.
        while time.monotonic() - started < self.delay:
            await asyncio.sleep(0.01)
        media_type = "application/jwk-set+json"
        return Response(self.body, self.status, headers=self.headers, media_type=media_type)


@contextmanager
def serve_https(app: Starlette, tls: TLSFiles) -> Iterator[str]:
    """Run ``app`` with uvicorn over TLS in a thread; yield its base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(
        app,
        ssl_certfile=str(tls.cert_pem),
        ssl_keyfile=str(tls.key_pem),
        lifespan="off",
        log_level="warning",
        access_log=False,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        _wait_until(lambda: server.started or not thread.is_alive(), seconds=5.0)
        assert server.started, "the test server did not start"
        yield f"https://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=5.0)
        sock.close()


def _wait_until(condition: Any, *, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.01)
