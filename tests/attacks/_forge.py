"""Token forging for the attack tests.

Tokens are assembled here piece by piece with ``cryptography``, never with
python-jose, so a test can build what no honest library would produce: any
header bytes, a CEK wrapped with RSA1_5, an IV or tag of any length, an inner
JWS signed with any key or with nothing. The steps follow RFC 7516 section 5.1
(encryption) and RFC 7515 section 5.1 (signing).
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import json
import os
import socket
import struct
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import padding as block_padding
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.keywrap import aes_key_wrap

from jwe_middleware import Key, KeyRing, TokenDecoder, TokenError, generate_key

__all__ = [
    "AUDIENCE",
    "CBC_POLICY",
    "DROP",
    "ISSUER",
    "NOW",
    "Keys",
    "Token",
    "assert_refused",
    "awkward_token",
    "b64",
    "cbc_tag",
    "claims",
    "decoder",
    "encrypt_content",
    "forbid_network",
    "is_canonical",
    "jwe",
    "jws",
    "keys",
    "nested",
    "seal",
    "spare_bits_set",
    "unb64",
    "wrap_key",
]

NOW = 1_700_000_000
ISSUER = "https://id.example.org"
AUDIENCE = "orders-api"
# CBC-HS is off by default; tests that need it opt in as a service would.
CBC_POLICY = ("A256GCM", "A128CBC-HS256")

_CEK_BYTES = {
    "A128GCM": 16, "A192GCM": 24, "A256GCM": 32,
    "A128CBC-HS256": 32, "A192CBC-HS384": 48, "A256CBC-HS512": 64,
}  # fmt: skip
_CBC_HASHES = {
    "A128CBC-HS256": hashlib.sha256,
    "A192CBC-HS384": hashlib.sha384,
    "A256CBC-HS512": hashlib.sha512,
}
_SHA = {"256": hashes.SHA256(), "384": hashes.SHA384(), "512": hashes.SHA512()}
_URL_DIGITS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
_URL_ALPHABET = frozenset(_URL_DIGITS)


class _Drop:
    def __repr__(self) -> str:
        return "DROP"


DROP: Any = _Drop()
"""A change that removes a member from claims or a header."""


# -- encoding ------------------------------------------------------------------


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def unb64(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def is_canonical(segment: str) -> bool:
    """Whether ``segment`` is the one base64url spelling of its bytes.

    An oracle written apart from ``_compact``: re-encoding must give the
    segment back (RFC 7515 section 2, RFC 4648 section 3.5).
    """
    if len(segment) % 4 == 1 or not set(segment) <= _URL_ALPHABET:
        return False
    return b64(unb64(segment)) == segment


def spare_bits_set(segment: str) -> str:
    """Another spelling of ``segment``'s bytes: its unused low bits set.

    RFC 4648 section 3.5: an encoder must leave those bits zero, and a
    decoder may refuse them set; a lenient one ignores them, so the result
    decodes to the same bytes.
    """
    if len(segment) % 4 not in (2, 3):
        raise ValueError("a segment of this length has no spare bits")
    last = _URL_DIGITS.index(segment[-1])
    return segment[:-1] + _URL_DIGITS[last | 1]


def _json(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode("utf-8")


def _merge(base: Mapping[str, Any], changes: Mapping[str, Any] | None) -> dict[str, Any]:
    merged = {**base, **(changes or {})}
    return {name: value for name, value in merged.items() if value is not DROP}


# -- keys and decoders ---------------------------------------------------------


@dataclass(frozen=True)
class Keys:
    rsa: Key  # RSA-OAEP-256: the service's key
    rsa_sha1: Key  # RSA-OAEP
    kw: Key  # A256KW
    direct: Key  # dir, 32 bytes: A256GCM, or A128CBC-HS256 when CBC is allowed
    es256: Key  # the issuer's signing key
    rs256: Key  # a second signing key of the issuer


@functools.cache
def keys() -> Keys:
    return Keys(
        rsa=generate_key("RSA-OAEP-256", kid="svc-rsa"),
        rsa_sha1=generate_key("RSA-OAEP", kid="svc-rsa1"),
        kw=generate_key("A256KW", kid="svc-kw"),
        direct=generate_key("dir", kid="svc-dir"),
        es256=generate_key("ES256", kid="iss-es"),
        rs256=generate_key("RS256", kid="iss-rs"),
    )


def decoder(**options: Any) -> TokenDecoder:
    """The decoder under attack: default algorithms, every key above, a frozen clock."""
    k = keys()
    defaults: dict[str, Any] = {
        "decryption_keys": KeyRing([k.rsa, k.kw, k.direct]),
        "verification_keys": KeyRing([k.es256, k.rs256]),
        "issuer": ISSUER,
        "audience": AUDIENCE,
        "clock": lambda: NOW,
    }
    return TokenDecoder(**{**defaults, **options})


def claims(**changes: Any) -> dict[str, Any]:
    """Claims valid at ``NOW``; a change to ``DROP`` removes that claim."""
    base = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "alice",
        "iat": NOW,
        "nbf": NOW,
        "exp": NOW + 600,
        "jti": "jti-1",
    }
    return _merge(base, changes)


# -- JWS -----------------------------------------------------------------------


def jws(
    payload: Mapping[str, Any] | bytes,
    *,
    key: Key | None = None,
    header: Mapping[str, Any] | None = None,
    raw_header: bytes | None = None,
    alg: str | None = None,
    secret: bytes | None = None,
) -> str:
    """A compact JWS. The signature follows ``alg`` (by default the header's):
    ES* and RS* sign with ``key``, HS* with ``secret``, anything else is empty.
    """
    body = payload if isinstance(payload, bytes) else _json(payload)
    defaults = {} if key is None else {"alg": key.alg, "kid": key.kid, "typ": "JWT"}
    fields = _merge(defaults, header)
    header_segment = b64(raw_header if raw_header is not None else _json(fields))
    signing_input = f"{header_segment}.{b64(body)}".encode("ascii")
    signature = _sign(alg or str(fields.get("alg")), signing_input, key, secret)
    return f"{header_segment}.{b64(body)}.{b64(signature)}"


def _sign(alg: str, signing_input: bytes, key: Key | None, secret: bytes | None) -> bytes:
    # The hash follows the header's alg where it names one, else the key's.
    size = alg[2:] if alg[2:] in _SHA else "256" if key is None else key.alg[2:]
    if alg.startswith("HS") and secret is not None:
        return hmac.new(secret, signing_input, getattr(hashlib, f"sha{size}")).digest()
    if key is None or alg.lower() == "none":
        return b""
    if key.kty == "RSA":
        return bytes(key.material.sign(signing_input, padding.PKCS1v15(), _SHA[size]))
    der = key.material.sign(signing_input, ec.ECDSA(_SHA[size]))
    r, s = decode_dss_signature(der)
    width = (key.material.curve.key_size + 7) // 8
    # RFC 7518 section 3.4: R and S as fixed-width big-endian integers.
    return r.to_bytes(width, "big") + s.to_bytes(width, "big")


# -- JWE -----------------------------------------------------------------------


class Token(NamedTuple):
    """The five base64url segments of a compact JWE, each editable."""

    header: str
    encrypted_key: str
    iv: str
    ciphertext: str
    tag: str

    @property
    def compact(self) -> str:
        return ".".join(self)

    def flip(self, field: str, position: int, bit: int = 0) -> Token:
        """Flip one bit of one segment's decoded bytes, and re-encode."""
        data = bytearray(unb64(getattr(self, field)))
        data[position] ^= 1 << bit
        return self._replace(**{field: b64(bytes(data))})


def wrap_key(cek: bytes, alg: str, key: Key) -> bytes:
    """The encrypted key for ``alg`` (RFC 7518 section 4), whatever the key's own alg."""
    if alg == "dir":
        return b""
    if alg.startswith("A") and alg.endswith("KW"):
        return aes_key_wrap(bytes(key.material), cek)
    public = key.material
    if isinstance(public, rsa.RSAPrivateKey):
        public = public.public_key()
    if alg == "RSA1_5":
        return bytes(public.encrypt(cek, padding.PKCS1v15()))
    digest = hashes.SHA256() if alg == "RSA-OAEP-256" else hashes.SHA1()
    oaep = padding.OAEP(mgf=padding.MGF1(digest), algorithm=digest, label=None)
    return bytes(public.encrypt(cek, oaep))


def encrypt_content(
    cek: bytes, enc: str, iv: bytes, plaintext: bytes, aad: bytes, *, pad: bool = True
) -> tuple[bytes, bytes]:
    """Ciphertext and tag for ``enc`` (RFC 7518 sections 5.2 and 5.3).

    ``pad=False`` skips the PKCS#7 padding of the CBC modes, to forge a
    ciphertext whose padding is wrong once decrypted.
    """
    if enc.endswith("GCM"):
        sealed = AESGCM(cek).encrypt(iv, plaintext, aad)
        return sealed[:-16], sealed[-16:]
    half = len(cek) // 2
    if pad:
        padder = block_padding.PKCS7(128).padder()
        plaintext = padder.update(plaintext) + padder.finalize()
    encryptor = Cipher(algorithms.AES(cek[half:]), modes.CBC(iv)).encryptor()
    ciphertext = encryptor.update(plaintext) + encryptor.finalize()
    return ciphertext, cbc_tag(cek, enc, aad, iv, ciphertext)


def cbc_tag(cek: bytes, enc: str, aad: bytes, iv: bytes, ciphertext: bytes) -> bytes:
    """The AES-CBC-HMAC tag (RFC 7518 section 5.2.2.1)."""
    half = len(cek) // 2
    al = struct.pack(">Q", len(aad) * 8)
    mac = hmac.new(cek[:half], aad + iv + ciphertext + al, _CBC_HASHES[enc])
    return mac.digest()[:half]


def jwe(
    plaintext: bytes,
    header: Mapping[str, Any] | bytes,
    *,
    key: Key,
    alg: str | None = None,
    enc: str | None = None,
    cek: bytes | None = None,
    iv: bytes | None = None,
    encrypted_key: bytes | None = None,
    pad: bool = True,
) -> Token:
    """Encrypt ``plaintext`` to ``key`` under ``header`` (a mapping, or JSON bytes as is).

    ``alg`` and ``enc`` default to the header's and may differ from it, to
    forge a token whose header lies about how it was made; ``cek``, ``iv`` and
    ``encrypted_key`` replace what would otherwise be chosen.
    """
    if isinstance(header, bytes):
        header_segment = b64(header)
    else:
        fields = _merge(header, None)
        alg, enc = alg or fields["alg"], enc or fields["enc"]
        header_segment = b64(_json(fields))
    if alg is None or enc is None:
        raise TypeError("a raw header needs alg and enc given apart")
    if cek is None:
        cek = bytes(key.material) if alg == "dir" else os.urandom(_CEK_BYTES[enc])
    if encrypted_key is None:
        encrypted_key = wrap_key(cek, alg, key)
    if iv is None:
        iv = os.urandom(12 if enc.endswith("GCM") else 16)
    aad = header_segment.encode("ascii")
    ciphertext, tag = encrypt_content(cek, enc, iv, plaintext, aad, pad=pad)
    return Token(header_segment, b64(encrypted_key), b64(iv), b64(ciphertext), b64(tag))


def seal(
    plaintext: bytes | str | Mapping[str, Any],
    *,
    recipient: Key | None = None,
    enc: str = "A256GCM",
    header: Mapping[str, Any] | None = None,
    nested: bool = True,
) -> Token:
    """Encrypt a payload to ``recipient`` (the service's RSA key by default),
    with ``cty: JWT`` when ``nested``. ``header`` changes the outer header
    only: the CEK is still wrapped for ``recipient.alg`` and the content
    encrypted with ``enc``, so a changed header lies about the token.
    """
    recipient = recipient or keys().rsa
    if isinstance(plaintext, str):
        plaintext = plaintext.encode("ascii")
    elif not isinstance(plaintext, bytes):
        plaintext = _json(plaintext)
    base = {"alg": recipient.alg, "enc": enc, "kid": recipient.kid}
    if nested:
        base["cty"] = "JWT"
    return jwe(plaintext, _merge(base, header), key=recipient, alg=recipient.alg, enc=enc)


def nested(
    payload: Mapping[str, Any] | None = None,
    *,
    recipient: Key | None = None,
    signer: Key | None = None,
    enc: str = "A256GCM",
    header: Mapping[str, Any] | None = None,
    inner: Mapping[str, Any] | None = None,
) -> Token:
    """A sign-then-encrypt token (RFC 7519 section 11.2), valid at ``NOW``."""
    signed = jws(claims() if payload is None else payload, key=signer or keys().es256, header=inner)
    return seal(signed, recipient=recipient, enc=enc, header=header)


def awkward_token() -> Token:
    """A valid nested token (A256KW + A128CBC-HS256) whose five segments each
    end in spare bits and contain '-' or '_', so every segment can be spelt
    padded, in the standard alphabet and non-canonically.
    """
    for attempt in range(1000):
        token = nested(
            claims(pad="x" * (16 * (attempt % 3))),
            recipient=keys().kw,
            enc="A128CBC-HS256",
            header={"x": "~" * (attempt % 7)},
        )
        if all(len(part) % 4 in (2, 3) and {"-", "_"} & set(part) for part in token):
            return token
    raise AssertionError("no awkward token within 1000 attempts")


# -- assertions ----------------------------------------------------------------


def assert_refused(
    decoder: TokenDecoder,
    token: Token | str | bytes,
    expected: type[TokenError],
    code: str,
) -> TokenError:
    """Decode and demand exactly ``expected`` with exactly ``code``."""
    compact = token.compact if isinstance(token, Token) else token
    with pytest.raises(TokenError) as caught:
        decoder.decode(compact)
    error = caught.value
    assert type(error) is expected, f"{type(error).__name__}: {error.detail}"
    assert error.code == code
    return error


def forbid_network(monkeypatch: pytest.MonkeyPatch) -> list[tuple[Any, ...]]:
    """Make every outbound connection fail, and record the attempts."""
    attempts: list[tuple[Any, ...]] = []

    def refuse(*args: Any, **kwargs: Any) -> Any:
        attempts.append(args)
        raise OSError("a decoder test tried to use the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    return attempts
