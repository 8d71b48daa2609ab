"""FastAPI dependencies: they read request state and show in OpenAPI."""

from __future__ import annotations

from typing import Annotated, Any

import pytest
from fastapi import Depends, FastAPI
from pydantic import BaseModel

from jwe_middleware import Claims, JWEMiddleware
from jwe_middleware.dependencies import (
    CurrentClaims,
    CurrentUser,
    JWEAuth,
    OptionalClaims,
    RequireScopes,
)
from tests._helpers import bearer, decoder_options, request, token

HTTPS = "https://api.test"


class Profile(BaseModel):
    sub: str
    email: str


# Module level, so that FastAPI can resolve the postponed annotations below.
auth = JWEAuth.password_flow("/token", {"orders:read": "Read orders"})


def make_app(**options: Any) -> FastAPI:
    app = FastAPI()

    @app.get("/claims")
    def claims(claims: CurrentClaims) -> dict[str, Any]:
        return {"sub": claims["sub"], "type": type(claims).__name__}

    @app.get("/user")
    def user(user: CurrentUser) -> dict[str, Any]:
        return {"identity": user.identity, "authenticated": user.is_authenticated}

    @app.get("/optional")
    def optional(claims: OptionalClaims) -> dict[str, Any]:
        return {"sub": None if claims is None else claims["sub"]}

    @app.get("/orders", dependencies=[RequireScopes("orders:read")])
    def orders() -> dict[str, str]:
        return {"ok": "yes"}

    @app.get("/admin", dependencies=[RequireScopes("orders:read", "admin")])
    def admin() -> dict[str, str]:
        return {"ok": "yes"}

    @app.get("/profile")
    def profile(profile: Annotated[Profile, Depends(auth.user_as(Profile))]) -> Profile:
        return profile

    @app.get("/flow", dependencies=[auth.require_scopes("orders:read")])
    def flow(claims: Annotated[Claims, Depends(auth.claims)]) -> dict[str, str]:
        return {"sub": claims["sub"]}

    app.add_middleware(JWEMiddleware, **{**decoder_options(), **options})
    return app


def test_current_claims_reads_request_state() -> None:
    response = request(make_app(), "GET", f"{HTTPS}/claims", headers=bearer(token()))
    assert response.json() == {"sub": "alice", "type": "Claims"}


def test_current_user_is_authenticated_user() -> None:
    response = request(make_app(), "GET", f"{HTTPS}/user", headers=bearer(token()))
    assert response.json() == {"identity": "alice", "authenticated": True}


def test_optional_claims_none_when_anonymous() -> None:
    app = make_app(optional=True)
    assert request(app, "GET", f"{HTTPS}/optional").json() == {"sub": None}
    response = request(app, "GET", f"{HTTPS}/optional", headers=bearer(token()))
    assert response.json() == {"sub": "alice"}


def test_current_claims_anonymous_in_optional_mode_is_401() -> None:
    response = request(make_app(optional=True), "GET", f"{HTTPS}/claims")
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Bearer realm="api"'


@pytest.mark.parametrize(
    ("path", "scope", "status"),
    [
        ("/orders", "profile orders:read", 200),
        ("/orders", "profile", 403),
        ("/admin", "orders:read", 403),
        ("/admin", "orders:read admin", 200),
        ("/flow", "orders:read", 200),
        ("/flow", "", 403),
    ],
)
def test_require_scopes_grants_or_403(path: str, scope: str, status: int) -> None:
    value = token({"sub": "alice", "scope": scope})
    response = request(make_app(), "GET", f"{HTTPS}{path}", headers=bearer(value))
    assert response.status_code == status


def test_require_scopes_403_names_scope_in_challenge() -> None:
    value = token({"sub": "bob", "scope": "profile"})
    response = request(make_app(), "GET", f"{HTTPS}/orders", headers=bearer(value))
    assert response.headers["www-authenticate"] == (
        'Bearer realm="api", error="insufficient_scope", scope="orders:read"'
    )
    assert response.json() == {"detail": "Insufficient scope"}


def test_require_scopes_without_names_is_value_error() -> None:
    with pytest.raises(ValueError):
        RequireScopes()


def test_user_as_builds_pydantic_model() -> None:
    response = request(make_app(), "GET", f"{HTTPS}/profile", headers=bearer(token()))
    assert response.json() == {"sub": "alice", "email": "alice@example.org"}


def test_user_as_claims_not_fitting_model_is_401() -> None:
    value = token({"sub": "alice"})
    response = request(make_app(), "GET", f"{HTTPS}/profile", headers=bearer(value))
    assert response.status_code == 401
    assert 'error="invalid_token"' in response.headers["www-authenticate"]


def test_openapi_lists_bearer_and_password_schemes() -> None:
    app = make_app(exempt_paths=["/openapi.json"])
    schema = request(app, "GET", f"{HTTPS}/openapi.json").json()
    schemes = schema["components"]["securitySchemes"]
    assert schemes["JWEBearer"] == {
        "type": "http",
        "description": "An encrypted (JWE) bearer token.",
        "scheme": "bearer",
    }
    assert schemes["JWE"]["flows"]["password"]["tokenUrl"] == "/token"
    assert schema["paths"]["/flow"]["get"]["security"] == [{"JWE": ["orders:read"]}]
