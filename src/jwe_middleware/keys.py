"""Keys and key rings.

A ``Key`` is bound to exactly one algorithm, the JWK's ``alg``: a token whose
header names another algorithm never reaches that key (RFC 8725 section 3.1,
the cure for algorithm confusion). Key material is parsed once, here; the
request path only looks keys up in dictionaries.

A ``KeyRing`` holds several keys at once, so a new key can be added before an
old one is retired.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jose import jwk as jose_jwk

from ._algorithms import KEY_WRAP_BYTES, PUBLIC_KEY_MANAGEMENT
from ._key_material import (
    EC_CURVES,
    RSA_SIGNATURE,
    b64,
    build_oct,
    check_ec,
    check_rsa,
    ec_public_members,
    rsa_public_members,
    thumbprint,
)

__all__ = ["Key", "KeyRing", "KeySource", "generate_key"]

_CURVE_CLASSES: dict[str, type[ec.EllipticCurve]] = {
    "P-256": ec.SECP256R1,
    "P-384": ec.SECP384R1,
    "P-521": ec.SECP521R1,
}
_REFUSED_KEY_ALGORITHMS = {"RSA1_5": "RSAES-PKCS1-v1_5 is open to padding oracle attacks"}


class Key:
    """One key, bound to one algorithm, parsed once.

    ``material`` is what the cryptography layer uses: ``bytes`` for symmetric
    keys, a ``cryptography`` key object otherwise. ``jose_key`` is the
    python-jose key object built from it, for operations that go through
    python-jose.
    """

    __slots__ = ("alg", "jose_key", "kid", "kty", "material", "use", "_public_jwk")

    def __init__(
        self, *, kid: str, alg: str, kty: str, material: Any, public_jwk: dict[str, Any] | None
    ) -> None:
        self.kid = kid
        self.alg = alg
        self.kty = kty
        self.use = "sig" if alg in EC_CURVES or alg in RSA_SIGNATURE else "enc"
        self.material = material
        self.jose_key: Any = None if alg == "dir" else jose_jwk.construct(material, alg)
        self._public_jwk = public_jwk

    def __repr__(self) -> str:
        kind = "secret" if self.is_symmetric else "private" if self.is_private else "public"
        return f"Key(kid={self.kid!r}, alg={self.alg!r}, {kind})"

    @property
    def is_symmetric(self) -> bool:
        return self.kty == "oct"

    @property
    def is_private(self) -> bool:
        """Whether the key can decrypt or sign (symmetric keys always can)."""
        return self.is_symmetric or isinstance(
            self.material, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
        )

    @property
    def is_public_key_management(self) -> bool:
        return self.alg in PUBLIC_KEY_MANAGEMENT

    def public_jwk(self) -> dict[str, Any]:
        """The JWK to publish; symmetric keys have none and raise ``ValueError``."""
        if self._public_jwk is None:
            raise ValueError(f"key {self.kid!r} is symmetric and has no public form")
        return {**self._public_jwk, "kid": self.kid, "alg": self.alg, "use": self.use}

    def public(self) -> Key:
        """This key without its private half (symmetric keys raise ``ValueError``)."""
        return Key.from_jwk(self.public_jwk())

    def private_jwk(self) -> dict[str, Any]:
        """The full JWK, private members included, for writing a key file."""
        if self.is_symmetric:
            members = {"kty": "oct", "k": b64(self.material)}
        else:
            members = {**self.jose_key.to_dict()}
        return {**members, "kid": self.kid, "alg": self.alg, "use": self.use}

    @classmethod
    def from_jwk(cls, jwk: Mapping[str, Any]) -> Key:
        """Build a key from one JWK (RFC 7517), which must name its ``alg``."""
        if not isinstance(jwk, Mapping):
            raise TypeError("a JWK must be a JSON object")
        alg, kty = jwk.get("alg"), jwk.get("kty")
        if not isinstance(alg, str) or not alg:
            raise ValueError("every key must name its algorithm in 'alg'")
        if alg in _REFUSED_KEY_ALGORITHMS:
            raise ValueError(f"{alg} keys are refused: {_REFUSED_KEY_ALGORITHMS[alg]}")
        builder = _BUILDERS.get(kty) if isinstance(kty, str) else None
        if builder is None:
            raise ValueError(f"unsupported key type {kty!r}")
        material, public = builder(jwk, alg)
        kid = jwk.get("kid")
        if not kid:
            if public is None:
                # The thumbprint of a secret key is a hash of the secret, and
                # the kid travels in every token header: a weak secret could
                # then be guessed offline. A secret names its kid itself.
                raise ValueError("a symmetric (oct) JWK must carry its own 'kid'")
            kid = thumbprint(public)
        if not isinstance(kid, str):
            raise ValueError("'kid' must be a string")
        return cls(kid=kid, alg=alg, kty=str(kty), material=material, public_jwk=public)

    @classmethod
    def from_pem(cls, pem: str | bytes, *, alg: str, kid: str | None = None) -> Key:
        """Build a key from a PEM private or public key, with an explicit alg."""
        data = pem.encode("ascii") if isinstance(pem, str) else pem
        if b"PRIVATE KEY" in data:
            loaded: Any = serialization.load_pem_private_key(data, password=None)
        else:
            loaded = serialization.load_pem_public_key(data)
        return cls._from_object(loaded, alg=alg, kid=kid)

    @classmethod
    def _from_object(cls, obj: Any, *, alg: str, kid: str | None) -> Key:
        if isinstance(obj, rsa.RSAPrivateKey | rsa.RSAPublicKey):
            public = rsa_public_members(obj)
            check_rsa(obj, alg)
            kty = "RSA"
        elif isinstance(obj, ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey):
            public = ec_public_members(obj)
            check_ec(public["crv"], alg)
            kty = "EC"
        else:
            raise ValueError("only RSA and EC keys are supported")
        kid = kid or thumbprint(public)
        return cls(kid=kid, alg=alg, kty=kty, material=obj, public_jwk=public)


def _build_asymmetric(jwk: Mapping[str, Any], alg: str) -> tuple[Any, dict[str, Any]]:
    try:
        parsed: Any = jose_jwk.construct(dict(jwk), alg)
    except Exception as exc:  # python-jose raises many types for bad JWKs
        raise ValueError(f"cannot load the {jwk.get('kty')} key: {type(exc).__name__}") from exc
    obj = parsed.prepared_key
    key = Key._from_object(obj, alg=alg, kid="-")
    return key.material, key._public_jwk or {}


_BUILDERS = {"oct": build_oct, "RSA": _build_asymmetric, "EC": _build_asymmetric}


def generate_key(alg: str, *, kid: str | None = None, rsa_bits: int = 2048) -> Key:
    """Generate a fresh private key for ``alg`` (RSA-OAEP*, RS*, ES*, A*KW or dir).

    A ``dir`` key is generated for A256GCM (32 bytes). Without ``kid``, an
    asymmetric key gets its RFC 7638 thumbprint and a symmetric key a random
    kid (a thumbprint of a secret key would put a hash of the secret into
    every token header).
    """
    if alg in PUBLIC_KEY_MANAGEMENT or alg in RSA_SIGNATURE:
        obj: Any = rsa.generate_private_key(public_exponent=65537, key_size=rsa_bits)
    elif alg in EC_CURVES:
        obj = ec.generate_private_key(_CURVE_CLASSES[EC_CURVES[alg]]())
    elif alg == "dir" or alg in KEY_WRAP_BYTES:
        secret = secrets.token_bytes(KEY_WRAP_BYTES.get(alg, 32))
        kid = kid or secrets.token_urlsafe(12)
        return Key.from_jwk({"kty": "oct", "k": b64(secret), "alg": alg, "kid": kid})
    else:
        raise ValueError(f"cannot generate a key for {alg!r}")
    return Key._from_object(obj, alg=alg, kid=kid)


@runtime_checkable
class KeySource(Protocol):
    """Where a decoder gets its keys: a fixed ``KeyRing``, a reloadable key
    file or a remote JWK set.

    ``current()`` is called on every decode and must be cheap (return a
    snapshot). ``refresh()`` is awaited by the middleware when a token names
    an unknown ``kid``; it returns whether the ring changed, and must apply
    its own cooldown so that unknown kids cannot force a fetch per request.
    """

    def current(self) -> KeyRing: ...

    async def refresh(self) -> bool: ...


class KeyRing:
    """An immutable set of keys, looked up by ``kid`` or by algorithm.

    A ring is also the simplest ``KeySource``: it is its own current ring
    and never changes.
    """

    __slots__ = ("_by_alg", "_by_kid")

    def __init__(self, keys: Iterable[Key]) -> None:
        by_kid: dict[str, Key] = {}
        for key in keys:
            if not isinstance(key, Key):
                raise TypeError("a KeyRing holds Key objects")
            if key.kid in by_kid:
                raise ValueError(f"duplicate kid {key.kid!r}")
            by_kid[key.kid] = key
        by_alg: dict[str, tuple[Key, ...]] = {}
        for key in by_kid.values():
            by_alg[key.alg] = (*by_alg.get(key.alg, ()), key)
        self._by_kid = by_kid
        self._by_alg = by_alg

    def __repr__(self) -> str:
        return f"KeyRing(kids={sorted(self._by_kid)!r})"

    def __len__(self) -> int:
        return len(self._by_kid)

    def __iter__(self) -> Iterator[Key]:
        return iter(self._by_kid.values())

    def __contains__(self, kid: object) -> bool:
        return kid in self._by_kid

    def current(self) -> KeyRing:
        return self

    async def refresh(self) -> bool:
        return False

    def get(self, kid: str) -> Key | None:
        return self._by_kid.get(kid)

    def with_alg(self, alg: str) -> tuple[Key, ...]:
        return self._by_alg.get(alg, ())

    @property
    def algorithms(self) -> frozenset[str]:
        return frozenset(self._by_alg)

    def public_jwks(self) -> dict[str, Any]:
        """The JWK set to publish: public halves of the asymmetric keys only."""
        return {"keys": [key.public_jwk() for key in self if not key.is_symmetric]}

    def private_jwks(self) -> dict[str, Any]:
        """The full JWK set, secrets included, for writing a key file."""
        return {"keys": [key.private_jwk() for key in self]}

    def public(self) -> KeyRing:
        """A ring of the public halves (symmetric keys are dropped)."""
        return KeyRing(key.public() for key in self if not key.is_symmetric)

    def merged(self, other: KeyRing) -> KeyRing:
        """A ring holding the keys of both rings (kids must not collide)."""
        return KeyRing([*self, *other])

    @classmethod
    def from_dict(cls, jwks: Mapping[str, Any]) -> KeyRing:
        """Load a JWK set (``{"keys": [...]}``) or a single JWK."""
        if not isinstance(jwks, Mapping):
            raise TypeError("a JWK set must be a JSON object")
        members = jwks.get("keys", [jwks]) if "kty" not in jwks else [jwks]
        if not isinstance(members, list):
            raise ValueError("'keys' must be a list")
        return cls(Key.from_jwk(member) for member in members)

    @classmethod
    def from_json(cls, text: str | bytes) -> KeyRing:
        return cls.from_dict(json.loads(text))

    @classmethod
    def from_file(cls, path: str | Path) -> KeyRing:
        return cls.from_json(Path(path).read_bytes())

    @classmethod
    def from_pem(cls, pem: str | bytes, *, alg: str, kid: str | None = None) -> KeyRing:
        return cls([Key.from_pem(pem, alg=alg, kid=kid)])
