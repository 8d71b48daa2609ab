"""``TokenIssuer``: claims in, a nested token out (sign, then encrypt).

RFC 7519 section 11.2 recommends signing before encrypting: the signature
then covers the claims themselves and stays hidden inside the encryption, and
a recipient can tell who minted the token, not only that someone holding the
public encryption key did.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from jose import jwe, jws

from ._algorithms import CEK_BYTES, DEFAULT_CONTENT_ALGORITHMS, AlgorithmPolicy
from .keys import Key

__all__ = ["TokenIssuer"]

# Times the issuer sets itself, from its clock and ``lifetime``: a caller who
# could pass its own ``exp`` could mint a token that outlives every policy.
_TIME_CLAIMS = frozenset({"iat", "nbf", "exp"})


class TokenIssuer:
    """Mint tokens for one recipient key, signed by one signing key.

    ``signing_key`` may be ``None`` for unsigned (encrypt-only) tokens, which
    only makes sense with a symmetric ``encryption_key``. The issuer sets
    ``iat``, ``nbf`` and ``exp`` itself, and ``iss`` and ``aud`` when they are
    configured; claims naming them are refused. A caller may choose the
    ``jti``, which is otherwise 128 random bits.
    """

    def __init__(
        self,
        *,
        encryption_key: Key,
        signing_key: Key | None,
        content_algorithm: str = DEFAULT_CONTENT_ALGORITHMS[0],
        issuer: str | None = None,
        audience: str | Iterable[str] | None = None,
        lifetime: float = 900.0,
        not_before_offset: float = 0.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not isinstance(encryption_key, Key) or encryption_key.use != "enc":
            raise TypeError("encryption_key must be an encryption Key")
        if signing_key is not None and not isinstance(signing_key, Key):
            raise TypeError("signing_key must be a Key or None")
        if signing_key is not None and (signing_key.use != "sig" or not signing_key.is_private):
            raise ValueError("signing_key must be a private signature key")
        AlgorithmPolicy.build(
            [encryption_key.alg], [content_algorithm], [signing_key.alg] if signing_key else []
        )
        _check_dir_key(encryption_key, content_algorithm)
        if lifetime <= 0:
            raise ValueError("lifetime must be positive")
        self._encryption_key = encryption_key
        self._signing_key = signing_key
        self._enc = content_algorithm
        self._base_claims = _base_claims(issuer, audience)
        self._lifetime = float(lifetime)
        self._nbf_offset = float(not_before_offset)
        self._clock = clock

    def __repr__(self) -> str:
        keys = f"encryption_key={self._encryption_key!r}, signing_key={self._signing_key!r}"
        return f"TokenIssuer({keys})"

    @property
    def lifetime(self) -> float:
        return self._lifetime

    def issue(self, claims: Mapping[str, Any], *, lifetime: float | None = None) -> str:
        """Return a compact token carrying ``claims`` plus iat, nbf, exp and jti."""
        payload = self._payload(claims, lifetime)
        # NaN and the infinities are not JSON (RFC 8259 section 6): refuse them.
        plaintext = json.dumps(payload, separators=(",", ":"), allow_nan=False).encode("utf-8")
        if self._signing_key is not None:
            plaintext = _sign(plaintext, self._signing_key)
        return self._encrypt(plaintext, nested=self._signing_key is not None)

    def _payload(self, claims: Mapping[str, Any], lifetime: float | None) -> dict[str, Any]:
        overridden = (_TIME_CLAIMS | self._base_claims.keys()) & claims.keys()
        if overridden:
            raise ValueError(f"the issuer sets {', '.join(sorted(overridden))} itself")
        now = int(self._clock())
        span = self._lifetime if lifetime is None else float(lifetime)
        managed = {
            "iat": now,
            "nbf": now + int(self._nbf_offset),
            "exp": now + int(span),
            # 128 random bits: unique enough to revoke one token by its id.
            "jti": secrets.token_urlsafe(16),
        }
        return {**self._base_claims, **managed, **dict(claims)}

    def _encrypt(self, plaintext: bytes, *, nested: bool) -> str:
        key = self._encryption_key
        material = key.material
        if key.kty == "RSA" and key.is_private:
            # Encrypting needs only the public half.
            material = material.public_key()
        token = jwe.encrypt(
            plaintext,
            material,
            encryption=self._enc,
            algorithm=key.alg,
            cty="JWT" if nested else None,
            kid=key.kid,
        )
        return token.decode("ascii") if isinstance(token, bytes) else str(token)


def _sign(payload: bytes, key: Key) -> bytes:
    headers = {"kid": key.kid, "typ": "JWT"}
    token = jws.sign(payload, key.material, headers=headers, algorithm=key.alg)
    return token.encode("ascii") if isinstance(token, str) else bytes(token)


def _check_dir_key(key: Key, enc: str) -> None:
    if key.alg == "dir" and len(key.material) != CEK_BYTES[enc]:
        raise ValueError(f"this dir key does not fit {enc}")


def _base_claims(issuer: str | None, audience: str | Iterable[str] | None) -> dict[str, Any]:
    base: dict[str, Any] = {}
    if issuer is not None:
        base["iss"] = issuer
    if audience is not None:
        base["aud"] = audience if isinstance(audience, str) else list(audience)
    return base
