"""Claim validation (RFC 7519 section 4.1) and the read-only claims mapping."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from ._errors import (
    AudienceMismatch,
    ExpiredToken,
    ImmatureToken,
    InvalidClaims,
    IssuerMismatch,
    MissingClaim,
    TokenTooOld,
)
from ._frozen import freeze, thaw

__all__ = ["DEFAULT_LEEWAY", "ClaimRules", "Claims"]

# Seconds of clock skew tolerated between the issuer and this service.
DEFAULT_LEEWAY = 30.0

_MAX_SECONDS = 2**53
_NUMERIC_DATES = ("exp", "nbf", "iat")
_STRING_CLAIMS = ("iss", "sub", "jti")


class Claims(Mapping[str, Any]):
    """The validated claims of a token: read-only, with a ``repr`` that hides them.

    Nested objects and arrays are read-only too (a cached token's claims are
    shared by every request that presents it); ``to_dict()`` returns a plain,
    mutable deep copy.
    """

    __slots__ = ("_data", "_scopes", "_scope_list")

    def __init__(self, data: Mapping[str, Any]) -> None:
        self._data = dict(data)
        for name, value in self._data.items():
            if isinstance(value, dict | list):
                self._data[name] = freeze(value)
        # Read on every request that reaches a route; parsed once.
        self._scopes = _granted_scopes(self._data)
        self._scope_list = tuple(sorted(self._scopes))

    def __getitem__(self, name: str) -> Any:
        return self._data[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __repr__(self) -> str:
        # Claims carry personal data; a stray log line must not reveal them.
        return f"Claims(<{len(self._data)} claims hidden>)"

    def to_dict(self) -> dict[str, Any]:
        return {name: thaw(value) for name, value in self._data.items()}

    @property
    def scopes(self) -> frozenset[str]:
        """Granted scopes, from ``scope`` (space-separated, RFC 8693) or ``scp``."""
        return self._scopes

    @property
    def scope_list(self) -> tuple[str, ...]:
        """The granted scopes in sorted order, as ``request.auth.scopes`` lists them."""
        return self._scope_list

    @property
    def expires_at(self) -> float | None:
        return expires_at(self._data)


def expires_at(claims: Mapping[str, Any]) -> float | None:
    """``exp`` as a float, or ``None`` when it is absent or not a number."""
    exp: Any = claims.get("exp")
    return float(exp) if _is_number(exp) else None


@dataclass(frozen=True)
class ClaimRules:
    """What a token's claims must satisfy. Times are in seconds."""

    issuer: str | None = None
    audience: frozenset[str] | None = None
    leeway: float = DEFAULT_LEEWAY
    max_age: float | None = None
    required: frozenset[str] = frozenset({"exp"})

    @classmethod
    def build(
        cls,
        *,
        issuer: str | None = None,
        audience: str | Iterable[str] | None = None,
        leeway: float = DEFAULT_LEEWAY,
        max_age: float | None = None,
        required_claims: Iterable[str] = ("exp",),
    ) -> ClaimRules:
        """Validate the configuration once, at start-up."""
        if issuer is not None and (not isinstance(issuer, str) or not issuer):
            raise ValueError("issuer must be a non-empty string")
        if not _is_number(leeway) or leeway < 0:
            raise ValueError("leeway must be a number of seconds >= 0")
        if max_age is not None and (not _is_number(max_age) or max_age <= 0):
            raise ValueError("max_age must be a positive number of seconds")
        if isinstance(required_claims, str):
            raise TypeError("required_claims must be a list of names, not a string")
        required = frozenset(required_claims) | ({"iat"} if max_age is not None else set())
        return cls(issuer, _audiences(audience), float(leeway), max_age, required)

    def validate(self, claims: Mapping[str, Any], now: float) -> None:
        """Raise an ``InvalidClaims`` subclass unless the claims pass every rule."""
        self._check_required(claims)
        self._check_types(claims)
        self._check_times(claims, now)
        self._check_issuer(claims)
        self._check_audience(claims)

    def too_old_at(self, claims: Mapping[str, Any]) -> float | None:
        """When ``max_age`` starts refusing these (validated) claims, leeway
        left out; ``None`` without a ``max_age``."""
        if self.max_age is None:
            return None
        return float(claims["iat"]) + self.max_age

    def _check_required(self, claims: Mapping[str, Any]) -> None:
        for name in self.required:
            if name not in claims:
                raise MissingClaim("a required claim is missing", claim=name)

    def _check_types(self, claims: Mapping[str, Any]) -> None:
        for name in _NUMERIC_DATES:
            if name in claims and not _is_number(claims[name]):
                raise InvalidClaims("a date claim is not a number", claim=name)
        for name in _STRING_CLAIMS:
            if name in claims and not isinstance(claims[name], str):
                raise InvalidClaims("a claim is not a string", claim=name)

    def _check_times(self, claims: Mapping[str, Any], now: float) -> None:
        # RFC 7519 section 4.1.4: the current time must be before exp.
        if "exp" in claims and now >= claims["exp"] + self.leeway:
            raise ExpiredToken("the token has expired", claim="exp")
        if "nbf" in claims and now + self.leeway < claims["nbf"]:
            raise ImmatureToken("the token is not valid yet", claim="nbf")
        if "iat" in claims and now + self.leeway < claims["iat"]:
            raise ImmatureToken("the token was issued in the future", claim="iat")
        if self.max_age is not None and now - claims["iat"] > self.max_age + self.leeway:
            raise TokenTooOld("the token is older than the maximum age", claim="iat")

    def _check_issuer(self, claims: Mapping[str, Any]) -> None:
        if self.issuer is not None and claims.get("iss") != self.issuer:
            raise IssuerMismatch("the issuer is not the configured one", claim="iss")

    def _check_audience(self, claims: Mapping[str, Any]) -> None:
        if "aud" not in claims and self.audience is None:
            return
        token_audiences = _token_audiences(claims.get("aud"))
        # RFC 7519 section 4.1.3: a token whose aud does not name this
        # service must be refused, also when no audience is configured.
        if self.audience is None or not token_audiences & self.audience:
            raise AudienceMismatch("the audience does not match", claim="aud")


def _audiences(audience: str | Iterable[str] | None) -> frozenset[str] | None:
    if audience is None:
        return None
    values = frozenset([audience]) if isinstance(audience, str) else frozenset(audience)
    if not values or not all(isinstance(value, str) and value for value in values):
        raise ValueError("audience must be a non-empty string or list of strings")
    return values


def _token_audiences(aud: Any) -> frozenset[str]:
    if isinstance(aud, str):
        return frozenset([aud])
    if isinstance(aud, list) and all(isinstance(item, str) for item in aud):
        return frozenset(aud)
    if aud is None:
        return frozenset()
    raise AudienceMismatch("aud is neither a string nor a list of strings", claim="aud")


def _is_number(value: Any) -> bool:
    # bool is an int subclass, and true is not a date. Huge integers would
    # overflow float arithmetic, so dates are bounded to what a double holds
    # exactly.
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    # NaN and the infinities fail the comparison too.
    return -_MAX_SECONDS < value < _MAX_SECONDS


def _granted_scopes(data: Mapping[str, Any]) -> frozenset[str]:
    raw = data.get("scope", data.get("scp"))
    if isinstance(raw, str):
        return frozenset(raw.split())
    if isinstance(raw, list) and all(isinstance(item, str) for item in raw):
        return frozenset(raw)
    return frozenset()
