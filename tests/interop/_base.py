"""What every peer shares: the requests, the error, and the header layout."""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

__all__ = [
    "CONTENT_ENCRYPTION_ALGS",
    "KEY_MANAGEMENT_ALGS",
    "SIGNATURE_ALGS",
    "MintSpec",
    "OpenSpec",
    "Peer",
    "PeerError",
    "claims_from",
    "inner_header",
    "is_nested",
    "open_each",
    "outer_header",
    "protected_header",
]

Jwk = dict[str, object]
Claims = dict[str, object]

# The peers are references, not gates: they accept every algorithm of RFC 7518
# they implement, weak ones included, so tests can mint tokens that the
# middleware must refuse. Each library still refuses what it does not implement.
KEY_MANAGEMENT_ALGS = (
    "RSA1_5", "RSA-OAEP", "RSA-OAEP-256",
    "A128KW", "A192KW", "A256KW", "A128GCMKW", "A192GCMKW", "A256GCMKW",
    "dir", "ECDH-ES", "ECDH-ES+A128KW", "ECDH-ES+A192KW", "ECDH-ES+A256KW",
    "PBES2-HS256+A128KW", "PBES2-HS384+A192KW", "PBES2-HS512+A256KW",
)  # fmt: skip
CONTENT_ENCRYPTION_ALGS = (
    "A128GCM", "A192GCM", "A256GCM", "A128CBC-HS256", "A192CBC-HS384", "A256CBC-HS512",
)  # fmt: skip
SIGNATURE_ALGS = (
    "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512",
    "HS256", "HS384", "HS512", "EdDSA", "Ed25519",
)  # fmt: skip


@dataclass(frozen=True)
class MintSpec:
    """One token to mint: a JWE of ``claims``, or of a JWS of them when ``sign_jwk`` is set.

    ``typ`` and ``zip`` go into the (outer) JWE protected header when given.
    """

    claims: Claims
    enc_jwk: Jwk
    alg: str
    enc: str
    sign_jwk: Jwk | None = None
    sign_alg: str | None = None
    typ: str | None = None
    zip: str | None = None


@dataclass(frozen=True)
class OpenSpec:
    """One token to open; ``verify_jwk`` is needed only when the token is nested."""

    token: str
    dec_jwk: Jwk
    verify_jwk: Jwk | None = None


class PeerError(Exception):
    """A peer refused to mint or open; ``reason`` is the peer's own message."""

    def __init__(self, peer: str, reason: str) -> None:
        super().__init__(f"{peer}: {reason}")
        self.peer = peer
        self.reason = reason


class Peer(Protocol):
    """An independent JOSE implementation that mints and opens tokens.

    ``open`` returns the claims and never judges them (``exp`` and the rest are
    the middleware's business); it raises :class:`PeerError` on any failure.
    ``open_many`` has the same semantics per item, returning the error in place.
    """

    name: str

    def mint(self, specs: Sequence[MintSpec]) -> list[str]: ...

    def open(self, token: str, dec_jwk: Jwk, verify_jwk: Jwk | None = None) -> Claims: ...

    def open_many(self, items: Sequence[OpenSpec]) -> list[Claims | PeerError]: ...


def open_each(peer: Peer, items: Sequence[OpenSpec]) -> list[Claims | PeerError]:
    """``open_many`` for in-process peers: one ``open`` after another."""
    opened: list[Claims | PeerError] = []
    for item in items:
        try:
            opened.append(peer.open(item.token, item.dec_jwk, item.verify_jwk))
        except PeerError as error:
            opened.append(error)
    return opened


def outer_header(spec: MintSpec) -> dict[str, object]:
    """The JWE protected header; ``cty`` marks a nested JWT (RFC 7519 section 5.2)."""
    header: dict[str, object] = {"alg": spec.alg, "enc": spec.enc, "kid": spec.enc_jwk["kid"]}
    optional = {"typ": spec.typ, "zip": spec.zip}
    header.update({name: value for name, value in optional.items() if value is not None})
    if spec.sign_jwk is not None:
        header["cty"] = "JWT"
    return header


def inner_header(spec: MintSpec) -> dict[str, object]:
    """The JWS protected header of a nested token."""
    if spec.sign_jwk is None or spec.sign_alg is None:
        raise ValueError("a nested token needs both sign_jwk and sign_alg")
    return {"alg": spec.sign_alg, "kid": spec.sign_jwk["kid"], "typ": "JWT"}


def is_nested(header: dict[str, object]) -> bool:
    """True when the JWE payload is itself a JWT (RFC 7519 section 5.2)."""
    cty = header.get("cty")
    # RFC 7515 section 4.1.10: media type values compare case-insensitively.
    return isinstance(cty, str) and cty.upper() == "JWT"


def protected_header(token: str) -> dict[str, object]:
    """Decode the protected header of a compact JWS or JWE without checking anything."""
    segment = token.split(".", 1)[0]
    decoded = json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    if not isinstance(decoded, dict):
        raise ValueError("the protected header is not a JSON object")
    return decoded


def claims_from(peer: str, payload: bytes | str) -> Claims:
    """Parse a JWT claims set, refusing anything but a JSON object (RFC 7519 section 7.2)."""
    try:
        claims = json.loads(payload)
    except ValueError as error:
        raise PeerError(peer, f"claims are not JSON: {error}") from error
    if not isinstance(claims, dict):
        raise PeerError(peer, "claims are not a JSON object")
    return claims
