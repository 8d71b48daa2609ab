"""The competing apps: one Starlette JSON route behind different authentication layers.

Every app is ``Starlette(routes=[...], middleware=[...])`` with one ``async``
route at ``/me`` answering ``{"sub": ...}``, so the only difference between
two apps is the layer in front of the route. Keys are imported once, when an
app is built; nothing but ours caches a decoded token.

``served_app`` is the factory ``benchmarks.http`` hands to uvicorn; it reads
its choice and its key files from the environment.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any

import jwt as pyjwt
from starlette.applications import Starlette
from starlette.authentication import (
    AuthCredentials,
    AuthenticationBackend,
    AuthenticationError,
    SimpleUser,
)
from starlette.middleware import Middleware
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint
from starlette.requests import HTTPConnection, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from jwe_middleware import JWEMiddleware, KeyRing, TokenDecoder, TokenMetrics

from ._tokens import AUDIENCE, ISSUER, Scenario

__all__ = [
    "PATH",
    "STATS_PATH",
    "DecodingMiddleware",
    "bare",
    "decoder_for",
    "floor",
    "noop_base_http",
    "ours",
    "pyjwt_app",
    "rival",
    "served_app",
]

PATH = "/me"
STATS_PATH = "/stats"
LEEWAY = 30

Decode = Callable[[str], Mapping[str, Any]]


# Routes.


async def anonymous(request: Request) -> Response:
    return JSONResponse({"sub": "anonymous"})


async def from_claims(request: Request) -> Response:
    return JSONResponse({"sub": request.state.claims["sub"]})


async def from_user(request: Request) -> Response:
    return JSONResponse({"sub": request.user.display_name})


def _app(endpoint: Callable[[Request], Any], *middleware: Middleware) -> Starlette:
    return Starlette(routes=[Route(PATH, endpoint)], middleware=list(middleware))


# a. and e.: no authentication.


def bare() -> ASGIApp:
    return _app(anonymous)


class _NothingMiddleware(BaseHTTPMiddleware):
    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        return await call_next(request)


def noop_base_http() -> ASGIApp:
    """The cost of ``BaseHTTPMiddleware`` itself: a dispatch that does nothing."""
    return _app(anonymous, Middleware(_NothingMiddleware))


class _ClaimsFloor:
    """A pure ASGI middleware that authenticates nothing: it puts claims decoded
    once, at build time, on every request. No authenticating middleware that
    hands claims to the route through the scope can cost less."""

    def __init__(self, app: ASGIApp, *, claims: Mapping[str, Any]) -> None:
        self.app = app
        self._claims = claims

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            scope.setdefault("state", {})["claims"] = self._claims
        await self.app(scope, receive, send)


def floor(claims: Mapping[str, Any]) -> ASGIApp:
    return _app(from_claims, Middleware(_ClaimsFloor, claims=claims))


# b. ours.


def decoder_for(scenario: Scenario) -> TokenDecoder:
    signing = scenario.signing_key
    return TokenDecoder(
        decryption_keys=KeyRing([scenario.decryption_key]),
        verification_keys=None if signing is None else KeyRing([signing.public()]),
        issuer=ISSUER,
        audience=AUDIENCE,
    )


def ours(decoder: TokenDecoder, **options: Any) -> ASGIApp:
    """``JWEMiddleware`` with its defaults (cache included) unless ``options`` say otherwise."""
    return _app(from_claims, Middleware(JWEMiddleware, decoder=decoder, **options))


# c. Starlette's AuthenticationMiddleware with PyJWT: signed, not encrypted.


class _PyJWTBackend(AuthenticationBackend):
    def __init__(self, key: Any, algorithm: str) -> None:
        self._key = key
        self._algorithms = [algorithm]

    async def authenticate(self, conn: HTTPConnection) -> tuple[AuthCredentials, SimpleUser]:
        scheme, _, token = conn.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise AuthenticationError("missing token")
        try:
            claims = pyjwt.decode(
                token, self._key, algorithms=self._algorithms, audience=AUDIENCE,
                issuer=ISSUER, leeway=LEEWAY, options={"require": ["exp"]},
            )
        except pyjwt.InvalidTokenError as exc:
            raise AuthenticationError("invalid token") from exc
        return AuthCredentials(str(claims.get("scope", "")).split()), SimpleUser(claims["sub"])


def _unauthorized(conn: HTTPConnection, exc: Exception) -> Response:
    return JSONResponse({"detail": "invalid token"}, status_code=401)


def pyjwt_app(key: Any, algorithm: str) -> ASGIApp:
    """``key`` is the HS256 secret or the ES256 public key object."""
    backend = _PyJWTBackend(key, algorithm)
    return _app(
        from_user, Middleware(AuthenticationMiddleware, backend=backend, on_error=_unauthorized)
    )


# d. joserfc and jwcrypto in a pure ASGI middleware shaped like ours, no cache.


class DecodingMiddleware:
    """Refuse plain HTTP, decode the bearer token with ``decode``, put the claims in state."""

    def __init__(self, app: ASGIApp, *, decode: Decode) -> None:
        self.app = app
        self._decode = decode
        self._refusal = JSONResponse({"detail": "invalid token"}, status_code=401)
        self._insecure = JSONResponse({"detail": "HTTPS is required"}, status_code=403)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope["scheme"] != "https":
            await self._insecure(scope, receive, send)
            return
        claims = self._claims(scope)
        if claims is None:
            await self._refusal(scope, receive, send)
            return
        scope.setdefault("state", {})["claims"] = claims
        await self.app(scope, receive, send)

    def _claims(self, scope: Scope) -> Mapping[str, Any] | None:
        token = _bearer(scope["headers"])
        if token is None:
            return None
        try:
            return self._decode(token)
        except Exception:
            # Each rival library raises its own family of errors; all of
            # them mean an invalid token here.
            return None


def _bearer(headers: list[tuple[bytes, bytes]]) -> str | None:
    for name, value in headers:
        if name == b"authorization":
            scheme, _, token = value.partition(b" ")
            return token.decode("ascii") if scheme.lower() == b"bearer" and token else None
    return None


def rival(decode: Decode) -> ASGIApp:
    return _app(from_claims, Middleware(DecodingMiddleware, decode=decode))


# The app uvicorn serves for benchmarks.http.

APP_VARIABLE = "JWE_BENCH_APP"
DECRYPTION_VARIABLE = "JWE_BENCH_DECRYPTION_KEYS"
VERIFICATION_VARIABLE = "JWE_BENCH_VERIFICATION_KEYS"


def served_app() -> ASGIApp:
    """``bare`` or ``ours`` per ``JWE_BENCH_APP``; ours reads its keys from JWKS files."""
    choice = os.environ[APP_VARIABLE]
    if choice == "bare":
        return bare()
    if choice != "ours":
        raise ValueError(f"{APP_VARIABLE} must be 'bare' or 'ours', not {choice!r}")
    verification = os.environ.get(VERIFICATION_VARIABLE)
    decoder = TokenDecoder(
        decryption_keys=KeyRing.from_file(os.environ[DECRYPTION_VARIABLE]),
        verification_keys=KeyRing.from_file(verification) if verification else None,
        issuer=ISSUER,
        audience=AUDIENCE,
    )
    return _counted(decoder)


def _counted(decoder: TokenDecoder) -> ASGIApp:
    # The counting hook lets the load generator check afterwards that cold
    # tokens really missed the cache and warm ones hit it.
    metrics = TokenMetrics()

    async def stats(request: Request) -> Response:
        return JSONResponse(metrics.snapshot())

    routes = [Route(PATH, from_claims), Route(STATS_PATH, stats)]
    middleware = Middleware(
        JWEMiddleware, decoder=decoder, on_event=metrics, exempt_paths=[STATS_PATH]
    )
    return Starlette(routes=routes, middleware=[middleware])
