"""Keys and tokens for the benchmarks, built once and shared by every contender.

Every library decodes the very same token strings with the very same keys, so
a difference in time is a difference in decoding, not in input. Tokens are
minted by our own ``TokenIssuer``; each carries the eight claims of a typical
access token and its own ``jti``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import jwt as pyjwt

from jwe_middleware import Key, TokenIssuer, generate_key

__all__ = ["AUDIENCE", "ISSUER", "Scenario", "build_scenarios", "hs256_tokens", "mint"]

ISSUER = "https://issuer.example"
AUDIENCE = "https://api.example"
# Long enough that no token expires while the benchmark runs.
LIFETIME = 3600.0
# Distinct tokens per scenario, decoded in turn, so that no contender can
# profit from having seen the exact string a moment ago.
TOKENS_PER_SCENARIO = 64


@dataclass(frozen=True)
class Scenario:
    """One row of the table: how the tokens are protected, and the tokens."""

    name: str
    decryption_key: Key
    signing_key: Key | None
    tokens: tuple[str, ...]

    @property
    def nested(self) -> bool:
        return self.signing_key is not None


def _user_claims(index: int) -> dict[str, object]:
    # With iss, aud, iat, nbf, exp and jti from the issuer: eight claims.
    return {"sub": f"user-{index:06d}", "scope": "orders:read orders:write profile"}


def mint(encryption_key: Key, signing_key: Key | None, count: int) -> tuple[str, ...]:
    """``count`` distinct A256GCM tokens for ``encryption_key``."""
    issuer = TokenIssuer(
        encryption_key=encryption_key,
        signing_key=signing_key,
        issuer=ISSUER,
        audience=AUDIENCE,
        lifetime=LIFETIME,
    )
    return tuple(issuer.issue(_user_claims(index)) for index in range(count))


def _scenario(name: str, key_alg: str, signed: bool, count: int) -> Scenario:
    decryption_key = generate_key(key_alg, kid=f"{key_alg.lower()}-1")
    signing_key = generate_key("ES256", kid="es256-1") if signed else None
    return Scenario(name, decryption_key, signing_key, mint(decryption_key, signing_key, count))


def build_scenarios(count: int = TOKENS_PER_SCENARIO) -> tuple[Scenario, ...]:
    """The five scenarios of the table, in display order."""
    return (
        _scenario("dir + A256GCM", "dir", False, count),
        _scenario("A256KW + A256GCM", "A256KW", False, count),
        _scenario("RSA-OAEP-256 + A256GCM", "RSA-OAEP-256", False, count),
        _scenario("ES256 in dir", "dir", True, count),
        _scenario("ES256 in RSA-OAEP-256", "RSA-OAEP-256", True, count),
    )


def hs256_tokens(secret: bytes, count: int = TOKENS_PER_SCENARIO) -> tuple[str, ...]:
    """Plain signed JWTs with the same claims, for the PyJWT reference row."""
    now = int(time.time())
    managed = {"iss": ISSUER, "aud": AUDIENCE, "iat": now, "nbf": now, "exp": now + 3600}
    return tuple(
        pyjwt.encode({**managed, "jti": f"jti-{index}", **_user_claims(index)}, secret, "HS256")
        for index in range(count)
    )
