"""The example service: ``uvicorn example_app.main:app`` (see ``__main__``).

- ``POST /token``: OAuth2 password login; answers a nested token (ES256
  signed by this service, then RSA-OAEP-256 + A256GCM encrypted to it).
- ``GET /me``: the current user, from the token's claims.
- ``GET /orders``: needs the ``orders:read`` scope.
- ``POST /logout``: revokes the caller's token.
- ``GET /health``, ``GET /.well-known/jwks.json``, ``GET /metrics``: public.

Demo users: alice / alice-demo (profile, orders:read), bob / bob-demo
(profile). ``REDIS_URL`` switches revocation to Redis, shared by instances.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException
from fastapi.responses import PlainTextResponse
from fastapi.security import OAuth2PasswordRequestForm
from pydantic import BaseModel

from jwe_middleware import (
    JWEMiddleware,
    KeyRing,
    TokenDecoder,
    TokenIssuer,
)
from jwe_middleware.dependencies import JWEAuth
from jwe_middleware.revocation import (
    MemoryRevocationStore,
    RedisRevocationStore,
    RevocationStore,
)
from jwe_middleware.telemetry import PrometheusMetrics

from .devmaterial import ensure_dev_material

ISSUER = "https://127.0.0.1:8443"
AUDIENCE = "example-api"
TOKEN_LIFETIME = 900

SCOPES = {"profile": "Read your profile", "orders:read": "Read your orders"}
USERS: dict[str, dict[str, Any]] = {
    "alice": {
        "password_sha256": hashlib.sha256(b"alice-demo").hexdigest(),
        "claims": {
            "sub": "alice",
            "name": "Alice Example",
            "email": "alice@example.org",
            "scope": "profile orders:read",
        },
    },
    "bob": {
        "password_sha256": hashlib.sha256(b"bob-demo").hexdigest(),
        "claims": {
            "sub": "bob",
            "name": "Bob Example",
            "email": "bob@example.org",
            "scope": "profile",
        },
    },
}

material = ensure_dev_material()
issuer = TokenIssuer(
    encryption_key=material.encryption_key.public(),
    signing_key=material.signing_key,
    issuer=ISSUER,
    audience=AUDIENCE,
    lifetime=TOKEN_LIFETIME,
)


def _revocation_store() -> RevocationStore:
    url = os.environ.get("REDIS_URL")
    return RedisRevocationStore.from_url(url) if url else MemoryRevocationStore()


revocation = _revocation_store()
metrics = PrometheusMetrics()
auth = JWEAuth.password_flow("/token", SCOPES)


class User(BaseModel):
    """The current user, built from the token's claims."""

    sub: str
    name: str | None = None
    email: str | None = None
    scope: str = ""


CurrentUser = Annotated[User, Depends(auth.user_as(User))]

decoder = TokenDecoder(
    decryption_keys=KeyRing([material.encryption_key]),
    verification_keys=KeyRing([material.signing_key.public()]),
    issuer=ISSUER,
    audience=AUDIENCE,
)

app = FastAPI(title="jwe-middleware example")
app.add_middleware(
    JWEMiddleware,
    decoder=decoder,
    revocation=revocation,
    on_event=metrics,
    exempt_paths=[
        "/health",
        "/token",
        "/.well-known/jwks.json",
        "/metrics",
        "/docs",
        "/docs/oauth2-redirect",
        "/openapi.json",
    ],
)


def _password_matches(user: dict[str, Any], password: str) -> bool:
    digest = hashlib.sha256(password.encode("utf-8")).hexdigest()
    return hmac.compare_digest(digest, user["password_sha256"])


@app.post("/token")
def login(form: Annotated[OAuth2PasswordRequestForm, Depends()]) -> dict[str, Any]:
    user = USERS.get(form.username)
    if user is None or not _password_matches(user, form.password):
        raise HTTPException(401, "Incorrect username or password",
                            headers={"WWW-Authenticate": "Bearer"})
    token = issuer.issue(user["claims"])
    return {"access_token": token, "token_type": "bearer", "expires_in": TOKEN_LIFETIME}


@app.get("/me")
def me(user: CurrentUser) -> User:
    return user


@app.get("/orders", dependencies=[auth.require_scopes("orders:read")])
def orders(claims: Annotated[Any, Depends(auth.claims)]) -> dict[str, Any]:
    return {"owner": claims["sub"], "orders": [{"id": 1, "item": "tea"}]}


@app.post("/logout")
async def logout(claims: Annotated[Any, Depends(auth.claims)]) -> dict[str, bool]:
    # Until exp plus the decoder's leeway: the last moment it would accept.
    until = decoder.accepted_until(claims) or 0
    try:
        await revocation.revoke(claims["jti"], until)
    except Exception as exc:
        # Whatever the store raised, the token is not revoked: say so, as a
        # 503 the client may retry, never a 500.
        raise HTTPException(503, "Logout is temporarily unavailable") from exc
    return {"revoked": True}


@app.get("/health")
def health() -> dict[str, str]:
    return {"status": "ok"}


@app.get("/.well-known/jwks.json")
def jwks() -> dict[str, Any]:
    ring = KeyRing([material.encryption_key, material.signing_key])
    return ring.public_jwks()


@app.get("/metrics", response_class=PlainTextResponse)
def prometheus_metrics() -> bytes:
    return metrics.render()
