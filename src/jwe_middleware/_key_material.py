"""Raw key material: what each algorithm asks of a key, and the JWK members
that describe one.

``keys`` builds its ``Key`` objects on these checks and members; nothing
here knows about ``Key``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jose.utils import base64url_encode

from ._algorithms import KEY_WRAP_BYTES, PUBLIC_KEY_MANAGEMENT
from ._compact import b64url_decode
from ._errors import MalformedToken

__all__ = [
    "EC_CURVES",
    "RSA_SIGNATURE",
    "b64",
    "build_oct",
    "check_ec",
    "check_rsa",
    "ec_public_members",
    "rsa_public_members",
    "thumbprint",
]

EC_CURVES = {"ES256": "P-256", "ES384": "P-384", "ES512": "P-521"}
RSA_SIGNATURE = frozenset({"RS256", "RS384", "RS512"})
_MIN_RSA_BITS = 2048
# A dir key is the content encryption key itself, so its length decides which
# content algorithm it can serve (RFC 7518 section 4.5).
_DIR_KEY_BYTES = frozenset({16, 24, 32, 48, 64})


def build_oct(jwk: Mapping[str, Any], alg: str) -> tuple[bytes, None]:
    encoded = jwk.get("k")
    if not isinstance(encoded, str):
        raise ValueError("an oct key needs 'k'")
    try:
        secret = b64url_decode(encoded.encode("ascii"))
    except (UnicodeEncodeError, MalformedToken) as exc:
        raise ValueError("'k' is not base64url") from exc
    _check_oct(secret, alg)
    return secret, None


def _check_oct(secret: bytes, alg: str) -> None:
    if alg == "dir":
        if len(secret) not in _DIR_KEY_BYTES:
            raise ValueError("a dir key must be 16, 24, 32, 48 or 64 bytes")
    elif alg in KEY_WRAP_BYTES:
        if len(secret) != KEY_WRAP_BYTES[alg]:
            raise ValueError(f"an {alg} key must be {KEY_WRAP_BYTES[alg]} bytes")
    else:
        raise ValueError(f"oct keys serve dir and AES key wrap, not {alg}")


def check_rsa(obj: rsa.RSAPrivateKey | rsa.RSAPublicKey, alg: str) -> None:
    if alg not in PUBLIC_KEY_MANAGEMENT | RSA_SIGNATURE:
        raise ValueError(f"RSA keys serve RSA-OAEP and RS*, not {alg}")
    if obj.key_size < _MIN_RSA_BITS:
        raise ValueError(f"RSA keys must have at least {_MIN_RSA_BITS} bits")


def check_ec(crv: str, alg: str) -> None:
    if EC_CURVES.get(alg) != crv:
        raise ValueError(f"an {crv} key cannot serve {alg}")


def rsa_public_members(obj: rsa.RSAPrivateKey | rsa.RSAPublicKey) -> dict[str, Any]:
    numbers = (
        obj.public_key().public_numbers()
        if isinstance(obj, rsa.RSAPrivateKey)
        else (obj.public_numbers())
    )
    return {"kty": "RSA", "n": _b64_int(numbers.n), "e": _b64_int(numbers.e)}


def ec_public_members(
    obj: ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey,
) -> dict[str, Any]:
    public = obj.public_key() if isinstance(obj, ec.EllipticCurvePrivateKey) else obj
    numbers = public.public_numbers()
    crv = {"secp256r1": "P-256", "secp384r1": "P-384", "secp521r1": "P-521"}.get(public.curve.name)
    if crv is None:
        raise ValueError(f"unsupported curve {public.curve.name}")
    size = (public.curve.key_size + 7) // 8
    return {
        "kty": "EC",
        "crv": crv,
        "x": b64(numbers.x.to_bytes(size, "big")),
        "y": b64(numbers.y.to_bytes(size, "big")),
    }


def b64(data: bytes) -> str:
    return str(base64url_encode(data).decode("ascii"))


def _b64_int(value: int) -> str:
    return b64(value.to_bytes((value.bit_length() + 7) // 8 or 1, "big"))


def thumbprint(members: Mapping[str, Any]) -> str:
    """The RFC 7638 JWK thumbprint, used as kid when a JWK has none."""
    required = {"RSA": ("e", "kty", "n"), "EC": ("crv", "kty", "x", "y"), "oct": ("k", "kty")}
    names = required[str(members["kty"])]
    canonical = json.dumps({name: members[name] for name in names}, separators=(",", ":"))
    return b64(hashlib.sha256(canonical.encode("utf-8")).digest())
