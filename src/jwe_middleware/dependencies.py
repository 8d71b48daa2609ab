"""FastAPI dependencies: the current claims, the current user, scope checks.

They read what ``JWEMiddleware`` left on the request and never decrypt
again. Each one also depends on a FastAPI security scheme, so the bearer
scheme shows in the OpenAPI document and Swagger UI's Authorize button
works; the scheme itself decides nothing.

    auth = JWEAuth()                               # bearer scheme
    auth = JWEAuth.password_flow("/token", {...})  # OAuth2 password flow

The module-level ``CurrentClaims``, ``OptionalClaims``, ``CurrentUser`` and
``RequireScopes`` use a plain bearer scheme.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Annotated, Any, TypeVar

from fastapi import Depends, HTTPException, Request, Security
from fastapi.security import HTTPBearer, OAuth2PasswordBearer, SecurityScopes
from pydantic import BaseModel, ValidationError

from ._state import TokenUser
from .claims import Claims

__all__ = [
    "CurrentClaims",
    "CurrentUser",
    "JWEAuth",
    "OptionalClaims",
    "RequireScopes",
]

logger = logging.getLogger("jwe_middleware")

# The dependency functions below are closures. With postponed annotations
# FastAPI resolves each annotation by name in this module's globals, so the
# closures name only global types and put the closed-over dependency in the
# parameter's default (``x: Claims = Depends(dep)``), which is evaluated
# when the function is defined.

ModelT = TypeVar("ModelT", bound=BaseModel)


class JWEAuth:
    """Dependencies bound to one OpenAPI security scheme and realm."""

    def __init__(self, scheme: Callable[..., Any] | None = None, *, realm: str = "api") -> None:
        """``scheme`` is a FastAPI security scheme instance (``HTTPBearer``,
        ``OAuth2PasswordBearer``, ``APIKeyCookie``...), used for OpenAPI only."""
        self.scheme: Callable[..., Any] = scheme or HTTPBearer(
            auto_error=False,
            scheme_name="JWEBearer",
            description="An encrypted (JWE) bearer token.",
        )
        self.realm = realm
        self.claims = self._claims_dependency()
        self.optional_claims = self._optional_dependency()
        self.user = self._user_dependency()

    @classmethod
    def password_flow(
        cls, token_url: str, scopes: Mapping[str, str] | None = None, *, realm: str = "api"
    ) -> JWEAuth:
        """Advertise an OAuth2 password flow whose token endpoint is ``token_url``."""
        scheme = OAuth2PasswordBearer(
            tokenUrl=token_url, scopes=dict(scopes or {}), auto_error=False, scheme_name="JWE"
        )
        return cls(scheme, realm=realm)

    def require_scopes(self, *scopes: str) -> Any:
        """A dependency that answers 403 ``insufficient_scope`` unless every
        scope is granted (RFC 6750 section 3.1)."""
        if not scopes or not all(isinstance(scope, str) and scope for scope in scopes):
            raise ValueError("require_scopes needs at least one scope name")
        return Security(self._scope_checker(), scopes=list(scopes))

    def user_as(self, model: type[ModelT]) -> Callable[..., Any]:
        """A dependency returning ``model`` validated from the claims."""
        claims_dependency = self.claims

        def build_user(claims: Claims = Depends(claims_dependency)) -> ModelT:
            try:
                return model.model_validate(claims.to_dict())
            except ValidationError as exc:
                # The claims passed every token check but do not describe a
                # user this app understands: the token is not usable here.
                raise self._unauthorized('error="invalid_token"') from exc

        return build_user

    def _claims_dependency(self) -> Callable[..., Any]:
        def current_claims(request: Request, _credentials: Any = Depends(self.scheme)) -> Claims:
            claims = _claims_of(request)
            if claims is None:
                raise self._unauthorized(None)
            return claims

        return current_claims

    def _optional_dependency(self) -> Callable[..., Any]:
        def optional_claims(
            request: Request, _credentials: Any = Depends(self.scheme)
        ) -> Claims | None:
            return _claims_of(request)

        return optional_claims

    def _user_dependency(self) -> Callable[..., Any]:
        claims_dependency = self.claims

        def current_user(claims: Claims = Depends(claims_dependency)) -> TokenUser:
            return TokenUser(claims)

        return current_user

    def _scope_checker(self) -> Callable[..., Any]:
        claims_dependency = self.claims

        def check_scopes(
            security_scopes: SecurityScopes, claims: Claims = Depends(claims_dependency)
        ) -> Claims:
            missing = set(security_scopes.scopes) - claims.scopes
            if missing:
                raise self._forbidden(security_scopes.scope_str)
            return claims

        return check_scopes

    def _unauthorized(self, error: str | None) -> HTTPException:
        challenge = f'Bearer realm="{self.realm}"' + (f", {error}" if error else "")
        detail = "Not authenticated" if error is None else "Invalid token"
        return HTTPException(401, detail, headers={"WWW-Authenticate": challenge})

    def _forbidden(self, scope: str) -> HTTPException:
        challenge = f'Bearer realm="{self.realm}", error="insufficient_scope", scope="{scope}"'
        return HTTPException(403, "Insufficient scope", headers={"WWW-Authenticate": challenge})


def _claims_of(request: Request) -> Claims | None:
    claims = request.scope.get("state", {}).get("claims")
    if claims is None and "claims" not in request.scope.get("state", {}):
        logger.warning("no claims on the request: is JWEMiddleware installed?")
    return claims if isinstance(claims, Claims) else None


_default = JWEAuth()

CurrentClaims = Annotated[Claims, Depends(_default.claims)]
OptionalClaims = Annotated[Claims | None, Depends(_default.optional_claims)]
CurrentUser = Annotated[TokenUser, Depends(_default.user)]


def RequireScopes(*scopes: str) -> Any:  # noqa: N802 - reads as a type in route signatures
    """``dependencies=[RequireScopes("orders:read")]`` with the default scheme."""
    return _default.require_scopes(*scopes)
