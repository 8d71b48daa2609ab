"""What the middleware leaves in the ASGI scope for the app.

``scope["state"]["claims"]`` is what ``request.state.claims`` reads;
``scope["user"]`` and ``scope["auth"]`` follow Starlette's authentication
conventions, so ``starlette.authentication.requires`` works unchanged.
"""

from __future__ import annotations

from starlette.authentication import AuthCredentials, BaseUser, UnauthenticatedUser
from starlette.types import Scope

from .claims import Claims

__all__ = ["TokenUser", "attach_anonymous", "attach_claims"]


class TokenUser(BaseUser):
    """The authenticated caller, as Starlette's ``request.user`` sees it."""

    __slots__ = ("claims",)

    def __init__(self, claims: Claims) -> None:
        self.claims = claims

    def __repr__(self) -> str:
        return "TokenUser(<claims hidden>)"

    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def display_name(self) -> str:
        return self.identity

    @property
    def identity(self) -> str:
        sub = self.claims.get("sub")
        return sub if isinstance(sub, str) else ""


def attach_claims(scope: Scope, claims: Claims) -> None:
    scope.setdefault("state", {})["claims"] = claims
    scope["user"] = TokenUser(claims)
    scope["auth"] = AuthCredentials(claims.scope_list)


def attach_anonymous(scope: Scope) -> None:
    scope.setdefault("state", {})["claims"] = None
    scope["user"] = UnauthenticatedUser()
    scope["auth"] = AuthCredentials()
