"""Fresh test keys as JWK dicts, generated with ``cryptography``.

The JWKs are encoded here rather than by one of the peers, so that a key
encoding quirk in any single JOSE library cannot hide in the fixtures.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Callable

from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

__all__ = ["make_jwk", "public_jwk"]

Jwk = dict[str, object]

# RFC 7517 section 4.2: "use" tells signing keys from encryption keys.
_SIGNATURE_ALGS = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512"}
    | {"HS256", "HS384", "HS512", "EdDSA", "Ed25519"}
)

# RFC 7518 sections 4.4, 4.7 and 3.2: secret sizes for key wrapping and HMAC.
_SECRET_BITS = {
    "A128KW": 128, "A192KW": 192, "A256KW": 256,
    "A128GCMKW": 128, "A192GCMKW": 192, "A256GCMKW": 256,
    "HS256": 256, "HS384": 384, "HS512": 512,
}  # fmt: skip

# RFC 7518 sections 5.2 and 5.3: the content key a "dir" secret stands in for.
_CONTENT_KEY_BITS = {
    "A128GCM": 128, "A192GCM": 192, "A256GCM": 256,
    "A128CBC-HS256": 256, "A192CBC-HS384": 384, "A256CBC-HS512": 512,
}  # fmt: skip

_RSA_ALGS = frozenset(
    {"RSA1_5", "RSA-OAEP", "RSA-OAEP-256", "RSA-OAEP-384", "RSA-OAEP-512"}
    | {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"}
)

_EC_CURVES: dict[str, tuple[str, ec.EllipticCurve]] = {
    "ES256": ("P-256", ec.SECP256R1()),
    "ES384": ("P-384", ec.SECP384R1()),
    "ES512": ("P-521", ec.SECP521R1()),
    "ECDH-ES": ("P-256", ec.SECP256R1()),
    "ECDH-ES+A128KW": ("P-256", ec.SECP256R1()),
    "ECDH-ES+A192KW": ("P-256", ec.SECP256R1()),
    "ECDH-ES+A256KW": ("P-256", ec.SECP256R1()),
}

# RFC 7518 section 6.3.2 and 6.2.2, RFC 8037 section 2: the private members.
_PRIVATE_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth"})


def make_jwk(alg: str, kid: str, *, enc: str = "A256GCM") -> Jwk:
    """Return a new private (or secret) JWK for ``alg``, with ``kid``, ``alg`` and ``use``.

    For ``"dir"`` the secret is sized for ``enc`` and its ``alg`` member is ``enc``:
    the key is the content encryption key itself (RFC 7520 section 5.6 labels its
    direct-encryption key this way, and panva/jose refuses a JWK whose ``alg``
    differs from the algorithm it is used with).
    """
    if alg == "dir":
        material, alg = _oct(_CONTENT_KEY_BITS[enc]), enc
    else:
        material = _material_for(alg)()
    use = "sig" if alg in _SIGNATURE_ALGS else "enc"
    return {**material, "kid": kid, "alg": alg, "use": use}


def public_jwk(jwk: Jwk) -> Jwk:
    """Return ``jwk`` without its private members; a secret key is returned whole."""
    if jwk.get("kty") == "oct":
        return dict(jwk)
    return {name: value for name, value in jwk.items() if name not in _PRIVATE_MEMBERS}


def _material_for(alg: str) -> Callable[[], Jwk]:
    if alg in _SECRET_BITS:
        return lambda: _oct(_SECRET_BITS[alg])
    if alg in _RSA_ALGS:
        return _rsa
    if alg in _EC_CURVES:
        return lambda: _ec(*_EC_CURVES[alg])
    if alg in {"EdDSA", "Ed25519"}:
        return _ed25519
    raise ValueError(f"no test key recipe for alg {alg!r}")


def _oct(bits: int) -> Jwk:
    return {"kty": "oct", "k": _b64(os.urandom(bits // 8))}


def _rsa() -> Jwk:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_numbers()
    public = private.public_numbers
    numbers = {
        "n": public.n, "e": public.e, "d": private.d, "p": private.p, "q": private.q,
        "dp": private.dmp1, "dq": private.dmq1, "qi": private.iqmp,
    }  # fmt: skip
    return {"kty": "RSA", **{name: _b64_uint(value) for name, value in numbers.items()}}


def _ec(crv: str, curve: ec.EllipticCurve) -> Jwk:
    private = ec.generate_private_key(curve).private_numbers()
    public = private.public_numbers
    # RFC 7518 section 6.2.1.2: coordinates keep the full field size, zeros included.
    size = (curve.key_size + 7) // 8
    return {
        "kty": "EC",
        "crv": crv,
        "x": _b64_uint(public.x, size),
        "y": _b64_uint(public.y, size),
        "d": _b64_uint(private.private_value, size),
    }


def _ed25519() -> Jwk:
    private = ed25519.Ed25519PrivateKey.generate()
    x = private.public_key().public_bytes_raw()
    return {"kty": "OKP", "crv": "Ed25519", "x": _b64(x), "d": _b64(private.private_bytes_raw())}


def _b64_uint(value: int, size: int | None = None) -> str:
    # RFC 7518 section 2: Base64urlUInt, the shortest big-endian form unless sized.
    length = size if size is not None else max(1, (value.bit_length() + 7) // 8)
    return _b64(value.to_bytes(length, "big"))


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")
