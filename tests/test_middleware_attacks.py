"""JWEMiddleware against hostile tokens: every one gets the same 401, through the ASGI app.

The tokens are forged here from ``cryptography`` primitives (AES-GCM, RSA-OAEP,
ECDSA), each a valid nested token but for one property, so its refusal is owed
to that property alone: ``test_forge_valid_token_is_accepted`` shows the
unaltered forgeries pass. Every refusal must be byte-identical to every other
(RFC 7516 section 11.5): status, headers and body. No request may open a
network connection, whatever the header names (``jku``, ``x5u``).

Some attacks only mean something against a configured service (an expected
``typ``, an understood ``crit`` name, a wider algorithm list, a revocation
store): those get an app of their own, whose refusals must still match the
default app's byte for byte.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import hashlib
import hmac
import json
import logging
import os
import re
import socket
import zlib
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from jwe_middleware import JWEMiddleware, KeyRing, MemoryRevocationStore
from tests._helpers import AUDIENCE, ISSUER, NOW, bearer, decoder_options, keys, request
from tests.attacks import _forge as forge

HTTPS = "https://api.test"
HTTP = "http://api.test"
ROOMY_BYTES = 64 * 1024

RSA_HEADER = {"alg": "RSA-OAEP-256", "enc": "A256GCM", "kid": "enc-1", "cty": "JWT"}
DIR_HEADER = {"alg": "dir", "enc": "A256GCM", "kid": "dir-1", "cty": "JWT"}
KW_HEADER = {"alg": "A256KW", "enc": "A256GCM", "kid": "svc-kw", "cty": "JWT"}
TOKEN_TYPE = "at+jwt"
DROP = object()


# --- forging -----------------------------------------------------------------


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def compact_json(value: Mapping[str, Any]) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode("utf-8")


def claims(**changes: Any) -> dict[str, Any]:
    values = {
        "iss": ISSUER, "aud": AUDIENCE, "sub": "mallory", "iat": NOW, "nbf": NOW,
        "exp": NOW + 600, "jti": "forged-1",
    }
    values.update(changes)
    return {name: value for name, value in values.items() if value is not DROP}


def es256(signing_input: bytes, key: ec.EllipticCurvePrivateKey | None = None) -> bytes:
    signer = key or keys()["sig"].material
    r, s = decode_dss_signature(signer.sign(signing_input, ec.ECDSA(hashes.SHA256())))
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")


def jws(
    payload: Mapping[str, Any] | bytes | None = None,
    *,
    header: Mapping[str, Any] | None = None,
    sign: Callable[[bytes], bytes] = es256,
) -> bytes:
    """A compact JWS, ES256 by the issuer's key unless told otherwise."""
    body = compact_json(claims()) if payload is None else payload
    if not isinstance(body, bytes):
        body = compact_json(body)
    protected = compact_json(header or {"alg": "ES256", "kid": "sig-1", "typ": "JWT"})
    signing_input = f"{b64(protected)}.{b64(body)}".encode("ascii")
    return signing_input + b"." + b64(sign(signing_input)).encode("ascii")


def oaep(cek: bytes) -> bytes:
    oaep_256 = padding.OAEP(padding.MGF1(hashes.SHA256()), hashes.SHA256(), None)
    return bytes(keys()["enc"].material.public_key().encrypt(cek, oaep_256))


@dataclasses.dataclass(frozen=True)
class Parts:
    """A compact JWE before base64url: the protected header is raw JSON bytes."""

    protected: bytes
    encrypted_key: bytes
    iv: bytes
    ciphertext: bytes
    tag: bytes

    def compact(self) -> str:
        pieces = (self.protected, self.encrypted_key, self.iv, self.ciphertext, self.tag)
        return ".".join(b64(piece) for piece in pieces)


def seal(
    plaintext: bytes | None = None,
    *,
    header: Mapping[str, Any] | bytes = RSA_HEADER,
    cek: bytes | None = None,
    wrap: Callable[[bytes], bytes] = oaep,
    iv_bytes: int = 12,
) -> Parts:
    """Encrypt with AES-256-GCM as RFC 7516 section 5.1 does, the AAD being
    the base64url protected header."""
    protected = header if isinstance(header, bytes) else compact_json(header)
    content_key = os.urandom(32) if cek is None else cek
    iv = os.urandom(iv_bytes)
    aad = b64(protected).encode("ascii")
    sealed = AESGCM(content_key).encrypt(iv, jws() if plaintext is None else plaintext, aad)
    return Parts(protected, wrap(content_key), iv, sealed[:-16], sealed[-16:])


def nested(**claim_changes: Any) -> str:
    return seal(jws(claims(**claim_changes))).compact()


def with_header(**members: Any) -> str:
    return seal(header={**RSA_HEADER, **members}).compact()


def sealed_dir(**header_members: Any) -> Parts:
    secret = keys()["dir"].material
    return seal(header={**DIR_HEADER, **header_members}, cek=secret, wrap=lambda _: b"")


def flip(data: bytes, at: int = 0) -> bytes:
    return data[:at] + bytes([data[at] ^ 0x01]) + data[at + 1 :]


def attacker_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def attacker_jwk(key: ec.EllipticCurvePrivateKey) -> dict[str, str]:
    numbers = key.public_key().public_numbers()
    return {
        "kty": "EC", "crv": "P-256",
        "x": b64(numbers.x.to_bytes(32, "big")), "y": b64(numbers.y.to_bytes(32, "big")),
    }


def public_key_bytes(encoding: serialization.Encoding = serialization.Encoding.PEM) -> bytes:
    public = keys()["sig"].material.public_key()
    return bytes(public.public_bytes(encoding, serialization.PublicFormat.SubjectPublicKeyInfo))


def hs256_with_public_key(encoding: serialization.Encoding) -> str:
    # The classic confusion: the issuer's public key, in whichever encoding a
    # verifier might load it, used as an HMAC secret (RFC 8725 section 2.1).
    def sign(signing_input: bytes) -> bytes:
        return hmac.new(public_key_bytes(encoding), signing_input, hashlib.sha256).digest()

    return seal(jws(header={"alg": "HS256", "kid": "sig-1"}, sign=sign)).compact()


def embedded_jwk_inner() -> str:
    key = attacker_key()
    header = {"alg": "ES256", "kid": "sig-1", "jwk": attacker_jwk(key)}
    return seal(jws(header=header, sign=lambda data: es256(data, key))).compact()


def rsa1_5() -> str:
    def wrap(cek: bytes) -> bytes:
        return bytes(keys()["enc"].material.public_key().encrypt(cek, padding.PKCS1v15()))

    return seal(header={**RSA_HEADER, "alg": "RSA1_5"}, wrap=wrap).compact()


def to_other_recipient() -> str:
    # Same kid, another RSA key: the right header, the wrong recipient.
    oaep_256 = padding.OAEP(padding.MGF1(hashes.SHA256()), hashes.SHA256(), None)
    other = keys()["other_enc"].material.public_key()
    return seal(wrap=lambda cek: bytes(other.encrypt(cek, oaep_256))).compact()


def sealed_kw(**header_members: Any) -> str:
    # The CEK is wrapped with the real 256-bit key whatever the header says.
    def wrap(cek: bytes) -> bytes:
        return forge.wrap_key(cek, "A256KW", forge.keys().kw)

    return seal(header={**KW_HEADER, **header_members}, wrap=wrap).compact()


def zipped(payload: bytes, *, wbits: int) -> str:
    # wbits -15 is raw DEFLATE (RFC 1951), as RFC 7516 section 4.1.3 names;
    # 15 adds the zlib wrapper (RFC 1950), which python-jose inflates instead.
    compressor = zlib.compressobj(9, zlib.DEFLATED, wbits)
    deflated = compressor.compress(payload) + compressor.flush()
    return seal(deflated, header={**RSA_HEADER, "zip": "DEF"}).compact()


def zip_bomb() -> str:
    # 10 MB of zeros deflate to about 10 KB: an inflating recipient pays for
    # the 10 MB.
    return zipped(b"\0" * 10_000_000, wbits=-15)


def reencoded_header(encoding: str) -> str:
    # The header's own text in another Unicode encoding, sealed over those bytes.
    return seal(header=compact_json(RSA_HEADER).decode("ascii").encode(encoding)).compact()


def respelt(index: int) -> str:
    segments = seal().compact().split(".")
    segments[index] = forge.spare_bits_set(segments[index])
    return ".".join(segments)


def respelt_inner(index: int) -> str:
    segments = jws().decode("ascii").split(".")
    segments[index] = forge.spare_bits_set(segments[index])
    return seal(".".join(segments).encode("ascii")).compact()


def typed(typ: Any = DROP, inner_typ: Any = DROP) -> str:
    outer = {**RSA_HEADER, "typ": typ}
    inner = {"alg": "ES256", "kid": "sig-1", "typ": inner_typ}
    signed = jws(header={k: v for k, v in inner.items() if v is not DROP})
    return seal(signed, header={k: v for k, v in outer.items() if v is not DROP}).compact()


def deep_header(depth: int) -> str:
    text = compact_json(RSA_HEADER)[:-1] + b',"x":' + b"[" * depth + b"]" * depth + b"}"
    return seal(header=text).compact()


def deep_claims(depth: int) -> str:
    payload = b'{"x":' + b"[" * depth + b"]" * depth + b"," + compact_json(claims())[1:]
    return seal(jws(payload)).compact()


def standard_alphabet() -> str:
    value = nested()
    swapped = value.translate(str.maketrans("-_", "+/"))
    assert swapped != value
    return swapped


def padded_last_segment() -> str:
    value = nested()
    return value + "=" * (-len(value.rsplit(".", 1)[1]) % 4 or 4)


def moved_tag_bytes(parts: Parts) -> str:
    # Four tag bytes shifted into the ciphertext: a 12-byte tag, which
    # python-jose would check against a truncated one.
    return dataclasses.replace(
        parts, ciphertext=parts.ciphertext + parts.tag[:4], tag=parts.tag[4:]
    ).compact()


def shifted_boundary(parts: Parts) -> str:
    # The last ciphertext byte becomes the first tag byte: still 16 bytes.
    tag = parts.ciphertext[-1:] + parts.tag[:-1]
    return dataclasses.replace(parts, ciphertext=parts.ciphertext[:-1], tag=tag).compact()


def tampered(field: str) -> str:
    parts = seal()
    if field == "protected":
        return dataclasses.replace(parts, protected=compact_json({**RSA_HEADER, "x": 1})).compact()
    return dataclasses.replace(parts, **{field: flip(getattr(parts, field))}).compact()


# Each builder returns a token that a correct middleware answers with the one
# canonical 401. Builders run lazily, inside the test, so keys are made once.
ATTACKS: dict[str, tuple[str, Callable[[], str]]] = {
    "alg none outer": (
        "disallowed_algorithm",
        lambda: seal(
            header={"alg": "none", "enc": "A256GCM", "cty": "JWT"}, wrap=lambda _: b""
        ).compact(),
    ),
    "alg none inner": (
        "disallowed_algorithm",
        lambda: seal(jws(header={"alg": "none"}, sign=lambda _: b"")).compact(),
    ),
    "RSA1_5 header": ("disallowed_algorithm", rsa1_5),
    "HS256 inner signed with the public key PEM": (
        "disallowed_algorithm",
        lambda: hs256_with_public_key(serialization.Encoding.PEM),
    ),
    "HS256 inner signed with the public key DER": (
        "disallowed_algorithm",
        lambda: hs256_with_public_key(serialization.Encoding.DER),
    ),
    "inner signed by another ES256 key": (
        "invalid_signature",
        lambda: seal(jws(sign=lambda data: es256(data, attacker_key()))).compact(),
    ),
    "inner jwk header names the attacker's key": ("unsupported_header", embedded_jwk_inner),
    "dir with non-empty encrypted key": (
        "decryption_failed",
        lambda: dataclasses.replace(sealed_dir(), encrypted_key=os.urandom(32)).compact(),
    ),
    "dir header naming the RSA kid": ("unknown_key", lambda: sealed_dir(kid="enc-1").compact()),
    "RSA header naming the dir kid": ("unknown_key", lambda: with_header(kid="dir-1")),
    "A256KW header on the RSA kid": ("unknown_key", lambda: with_header(alg="A256KW")),
    # A key used at another size than its own (RFC 7518 section 4.4): A128KW
    # is off by default, so the header is refused before any unwrap.
    "A128KW header on the A256KW key": ("disallowed_algorithm", lambda: sealed_kw(alg="A128KW")),
    "128-bit CEK under an A256GCM header": (
        "decryption_failed",
        lambda: seal(cek=os.urandom(16)).compact(),
    ),
    "A128GCM content": ("disallowed_algorithm", lambda: with_header(enc="A128GCM")),
    "A256CBC-HS512 content": ("disallowed_algorithm", lambda: with_header(enc="A256CBC-HS512")),
    "encrypted to another recipient": ("decryption_failed", to_other_recipient),
    "crit unknown": (
        "unsupported_header",
        lambda: with_header(crit=["x-unknown"], **{"x-unknown": True}),
    ),
    "crit empty": ("unsupported_header", lambda: with_header(crit=[])),
    "zip DEF": ("unsupported_header", lambda: zipped(jws(), wbits=-15)),
    "zip DEF, zlib-wrapped": ("unsupported_header", lambda: zipped(jws(), wbits=15)),
    # About 13 KB as a token: the size limit refuses it before the header is read.
    "zip bomb": ("too_large", zip_bomb),
    "duplicate alg member": (
        "malformed",
        lambda: seal(
            header=b'{"alg":"RSA-OAEP-256","alg":"RSA-OAEP-256","enc":"A256GCM","kid":"enc-1",'
            b'"cty":"JWT"}'
        ).compact(),
    ),
    "duplicate alg member, dir last": (
        "malformed",
        lambda: seal(
            header=b'{"alg":"RSA-OAEP-256","enc":"A256GCM","kid":"enc-1","cty":"JWT","alg":"dir"}'
        ).compact(),
    ),
    "BOM before the header": (
        "malformed",
        lambda: seal(header=b"\xef\xbb\xbf" + compact_json(RSA_HEADER)).compact(),
    ),
    # RFC 8725 section 3.7: UTF-8 only, so no parser can sniff another encoding.
    "UTF-16-LE header": ("malformed", lambda: reencoded_header("utf-16-le")),
    "UTF-16 header with its BOM": ("malformed", lambda: reencoded_header("utf-16")),
    "UTF-32 header": ("malformed", lambda: reencoded_header("utf-32")),
    "5000-deep header, over the size limit": ("too_large", lambda: deep_header(5000)),
    "100 KB protected header": ("too_large", lambda: with_header(x="h" * 100_000)),
    "standard base64 alphabet": ("malformed", standard_alphabet),
    "padded last segment": ("malformed", padded_last_segment),
    # One token, two spellings: a cache or revocation list keyed by the
    # token text would miss the second (RFC 4648 section 3.5).
    "spare bits set in the header": ("malformed", lambda: respelt(0)),
    "spare bits set in the encrypted key": ("malformed", lambda: respelt(1)),
    "spare bits set in the tag": ("malformed", lambda: respelt(4)),
    "spare bits set in the inner header": ("malformed", lambda: respelt_inner(0)),
    "spare bits set in the inner signature": ("malformed", lambda: respelt_inner(2)),
    "moved tag bytes (12-byte tag)": ("decryption_failed", lambda: moved_tag_bytes(seal())),
    "shifted ciphertext and tag boundary": ("decryption_failed", lambda: shifted_boundary(seal())),
    "8-byte IV": ("decryption_failed", lambda: seal(iv_bytes=8).compact()),
    "16-byte IV": ("decryption_failed", lambda: seal(iv_bytes=16).compact()),
    "64-byte IV": ("decryption_failed", lambda: seal(iv_bytes=64).compact()),
    "extra trailing dot": ("malformed", lambda: nested() + "."),
    "extra empty segment": ("malformed", lambda: nested().replace(".", "..", 1)),
    "four segments": ("malformed", lambda: nested().rsplit(".", 1)[0]),
    "oversized valid token": ("too_large", lambda: nested(pad="x" * 9000)),
    "jku header": ("unsupported_header", lambda: with_header(jku="https://127.0.0.1:9/jwks.json")),
    "x5u header": ("unsupported_header", lambda: with_header(x5u="https://127.0.0.1:9/cert.pem")),
    "jwk header": ("unsupported_header", lambda: with_header(jwk=attacker_jwk(attacker_key()))),
    "x5c header": ("unsupported_header", lambda: with_header(x5c=[b64(public_key_bytes())])),
    "kid with a path": ("unknown_key", lambda: with_header(kid="../../../../etc/passwd")),
    "kid with SQL": ("unknown_key", lambda: with_header(kid="enc-1' OR '1'='1' --")),
    "kid with a NUL": ("unknown_key", lambda: with_header(kid="enc-1\x00")),
    "unsigned, minted with the public key": (
        "signature_required",
        lambda: seal(
            compact_json(claims()), header={k: v for k, v in RSA_HEADER.items() if k != "cty"}
        ).compact(),
    ),
    "inner token without exp": ("missing_claim", lambda: nested(exp=DROP)),
    "expired": ("expired", lambda: nested(iat=NOW - 7200, nbf=NOW - 7200, exp=NOW - 3600)),
    "nbf in the future": ("not_yet_valid", lambda: nested(nbf=NOW + 3600)),
    "iat in the future": ("not_yet_valid", lambda: nested(iat=NOW + 3600)),
    "wrong iss": ("invalid_issuer", lambda: nested(iss="https://evil.example.test")),
    "wrong aud": ("invalid_audience", lambda: nested(aud="another-api")),
    "aud not a string": ("invalid_audience", lambda: nested(aud=7)),
    "exp not a number": ("invalid_claims", lambda: nested(exp="tomorrow")),
    "tampered header": ("decryption_failed", lambda: tampered("protected")),
    "tampered encrypted key": ("decryption_failed", lambda: tampered("encrypted_key")),
    "tampered iv": ("decryption_failed", lambda: tampered("iv")),
    "tampered ciphertext": ("decryption_failed", lambda: tampered("ciphertext")),
    "tampered tag": ("decryption_failed", lambda: tampered("tag")),
}

# Only a roomier size limit lets these reach the JSON parser or the zip check.
ROOMY_ATTACKS: dict[str, tuple[str, Callable[[], str]]] = {
    "5000-deep header": ("malformed", lambda: deep_header(5000)),
    "5000-deep claims": ("malformed", lambda: deep_claims(5000)),
    "9-deep header": ("malformed", lambda: deep_header(9)),
    "zip bomb": ("unsupported_header", zip_bomb),
}

# Apps configured for one attack each, so the token fails on the configured
# check alone: (app options, logged reason, token).
UNDERSTANDS_X_EXT: dict[str, Any] = {"critical_headers": ["x-ext"]}
TYPED: dict[str, Any] = {"token_type": TOKEN_TYPE}
WIDE_KEYS: dict[str, Any] = {"key_algorithms": ["dir", "A128KW", "A256KW", "RSA-OAEP-256"]}
WIDE_CONTENT: dict[str, Any] = {"content_algorithms": ["A128GCM", "A256GCM"]}

CONFIGURED: dict[str, tuple[dict[str, Any], str, Callable[[], str]]] = {
    # RFC 7515 section 4.1.11: crit is a non-empty list of unique extension
    # names, none registered, each present in the header.
    "crit a string": (
        UNDERSTANDS_X_EXT, "unsupported_header", lambda: with_header(crit="x-ext", **{"x-ext": 1})
    ),
    "crit an object": (
        UNDERSTANDS_X_EXT,
        "unsupported_header",
        lambda: with_header(crit={"x-ext": True}, **{"x-ext": 1}),
    ),
    "crit null": (UNDERSTANDS_X_EXT, "unsupported_header", lambda: with_header(crit=None)),
    "crit list with a number": (
        UNDERSTANDS_X_EXT,
        "unsupported_header",
        lambda: with_header(crit=["x-ext", 1], **{"x-ext": 1}),
    ),
    "crit list with a list": (
        UNDERSTANDS_X_EXT,
        "unsupported_header",
        lambda: with_header(crit=[["x-ext"]], **{"x-ext": 1}),
    ),
    "crit naming an unknown extension": (
        UNDERSTANDS_X_EXT,
        "unsupported_header",
        lambda: with_header(crit=["x-other"], **{"x-other": 1}),
    ),
    "crit naming a registered member": (
        UNDERSTANDS_X_EXT, "unsupported_header", lambda: with_header(crit=["alg"])
    ),
    "crit naming an absent member": (
        UNDERSTANDS_X_EXT, "unsupported_header", lambda: with_header(crit=["x-ext"])
    ),
    "crit naming a member twice": (
        UNDERSTANDS_X_EXT,
        "unsupported_header",
        lambda: with_header(crit=["x-ext", "x-ext"], **{"x-ext": 1}),
    ),
    "inner crit a string": (
        UNDERSTANDS_X_EXT,
        "unsupported_header",
        lambda: seal(
            jws(header={"alg": "ES256", "kid": "sig-1", "crit": "x-ext", "x-ext": 1})
        ).compact(),
    ),
    # RFC 8725 section 3.11: an expected typ keeps one kind of token from
    # passing for another; only the outer header's typ counts.
    "typ JWT where at+jwt is expected": (TYPED, "invalid_type", lambda: typed("JWT")),
    "typ missing": (TYPED, "invalid_type", typed),
    "typ at+jwt on the inner header only": (
        TYPED, "invalid_type", lambda: typed(inner_typ=TOKEN_TYPE)
    ),
    "typ with a suffix": (TYPED, "invalid_type", lambda: typed(TOKEN_TYPE + "x")),
    # With A128KW allowed, the 256-bit key still serves A256KW alone.
    "A128KW header on the A256KW key, A128KW allowed": (
        WIDE_KEYS, "unknown_key", lambda: sealed_kw(alg="A128KW")
    ),
    # The 256-bit dir key's first half as an A128GCM key (RFC 7518 section 4.5).
    "dir key halved for A128GCM": (
        WIDE_CONTENT,
        "decryption_failed",
        lambda: seal(
            header={**DIR_HEADER, "enc": "A128GCM"},
            cek=keys()["dir"].material[:16],
            wrap=lambda _: b"",
        ).compact(),
    ),
}

# Tokens each configured app accepts: the refusals above are owed to the
# configured check, not to the app.
CONFIGURED_CONTROLS: dict[str, tuple[dict[str, Any], Callable[[], str]]] = {
    "understood crit": (
        UNDERSTANDS_X_EXT, lambda: with_header(crit=["x-ext"], **{"x-ext": 1})
    ),
    "typ at+jwt": (TYPED, lambda: typed(TOKEN_TYPE)),
    "typ application/AT+JWT": (TYPED, lambda: typed("application/AT+JWT")),
    "A256KW with A128KW allowed": (WIDE_KEYS, sealed_kw),
    "A128GCM with a 128-bit CEK": (
        WIDE_CONTENT,
        lambda: seal(header={**RSA_HEADER, "enc": "A128GCM"}, cek=os.urandom(16)).compact(),
    ),
}

# Malformed requests: 400 invalid_request, not a token verdict (RFC 6750 section 3.1).
MALFORMED: dict[str, Callable[[], list[tuple[str, str]]]] = {
    "two tokens": lambda: [("authorization", f"Bearer {nested()}")] * 2,
    "padded inner segment": lambda: [("authorization", "Bearer " + padded_inner())],
    "space inside the token": lambda: [("authorization", "Bearer " + nested().replace(".", " ."))],
}


def padded_inner() -> str:
    head, rest = nested().split(".", 1)
    return head + "=" * (-len(head) % 4 or 4) + "." + rest


# --- the app -----------------------------------------------------------------


async def whoami(request: Request) -> JSONResponse:
    return JSONResponse({"sub": request.state.claims["sub"]})


def make_app(**options: Any) -> Starlette:
    app = Starlette(routes=[Route("/me", whoami)])
    ring = KeyRing([keys()["enc"], keys()["dir"], forge.keys().kw])
    app.add_middleware(JWEMiddleware, **decoder_options(decryption_keys=ring, **options))
    return app


Shape = tuple[int, list[tuple[bytes, bytes]], bytes]
REASON = re.compile(r"request refused: reason=(\w+)")


def shape(response: httpx.Response) -> Shape:
    return response.status_code, list(response.headers.raw), response.content


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[object]]:
    """Fail the test if anything tries to resolve a name or open a connection."""
    attempts: list[object] = []

    def refuse(*args: object, **kwargs: object) -> None:
        attempts.append(args)
        raise AssertionError(f"network access attempted: {args!r}")

    for name in ("create_connection", "getaddrinfo"):
        monkeypatch.setattr(socket, name, refuse)
    for name in ("connect", "connect_ex"):
        monkeypatch.setattr(socket.socket, name, refuse)
    yield attempts
    assert attempts == []


@pytest.fixture(scope="module")
def app() -> Starlette:
    return make_app()


@pytest.fixture(scope="module")
def roomy_app() -> Starlette:
    return make_app(max_token_bytes=ROOMY_BYTES)


@pytest.fixture(scope="module")
def canonical_401(app: Starlette) -> Shape:
    response = request(app, "GET", f"{HTTPS}/me", headers=bearer("a.b.c.d.e"))
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Bearer realm="api", error="invalid_token"'
    assert response.json() == {"detail": "Invalid token"}
    return shape(response)


# --- tests -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("build", "roomy"),
    [
        (lambda: seal().compact(), False),
        (lambda: sealed_dir().compact(), False),
        (sealed_kw, False),
        (lambda: nested(pad="x" * 9000), True),
    ],
    ids=["rsa-oaep-256", "dir", "a256kw", "oversized-with-a-roomy-limit"],
)
def test_forge_valid_token_is_accepted(
    build: Callable[[], str], roomy: bool, app: Starlette, roomy_app: Starlette
) -> None:
    target = roomy_app if roomy else app
    response = request(target, "GET", f"{HTTPS}/me", headers=bearer(build()))
    assert response.status_code == 200
    assert response.json() == {"sub": "mallory"}


def refused(
    target: Starlette, token: str, caplog: pytest.LogCaptureFixture
) -> tuple[Shape, list[str]]:
    """Send one token; return the response's shape and the logged reason codes."""
    with caplog.at_level(logging.INFO, logger="jwe_middleware"):
        response = request(target, "GET", f"{HTTPS}/me", headers=bearer(token))
    return shape(response), REASON.findall(caplog.text)


@pytest.mark.parametrize("name", list(ATTACKS))
def test_middleware_hostile_token_is_canonical_401(
    name: str, app: Starlette, canonical_401: Shape, caplog: pytest.LogCaptureFixture
) -> None:
    reason, build = ATTACKS[name]
    # The logged reason shows the refusal came from the step under attack.
    assert refused(app, build(), caplog) == (canonical_401, [reason])


@pytest.mark.parametrize("name", list(ROOMY_ATTACKS))
def test_middleware_hostile_token_under_roomy_limit_is_canonical_401(
    name: str, roomy_app: Starlette, canonical_401: Shape, caplog: pytest.LogCaptureFixture
) -> None:
    reason, build = ROOMY_ATTACKS[name]
    assert refused(roomy_app, build(), caplog) == (canonical_401, [reason])


@pytest.mark.parametrize("wbits", [-15, 15], ids=["raw-deflate", "zlib-wrapped"])
@pytest.mark.parametrize("payload", [jws, lambda: b"\0" * 10_000_000], ids=["jws", "bomb"])
def test_middleware_compressed_token_refused_without_inflating(
    wbits: int,
    payload: Callable[[], bytes],
    roomy_app: Starlette,
    canonical_401: Shape,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # RFC 8725 section 3.6: inflating on receipt is what a bomb needs, so the
    # zip member must be refused before anything is decompressed.
    inflations: list[object] = []

    def refuse(*args: object, **kwargs: object) -> None:
        inflations.append(args)
        raise AssertionError("a token was inflated")

    token = zipped(payload(), wbits=wbits)
    monkeypatch.setattr(zlib, "decompress", refuse)
    monkeypatch.setattr(zlib, "decompressobj", refuse)
    assert refused(roomy_app, token, caplog) == (canonical_401, ["unsupported_header"])
    assert inflations == []


@pytest.mark.parametrize("name", list(CONFIGURED))
def test_middleware_configured_check_failure_is_canonical_401(
    name: str, canonical_401: Shape, caplog: pytest.LogCaptureFixture
) -> None:
    options, reason, build = CONFIGURED[name]
    assert refused(make_app(**options), build(), caplog) == (canonical_401, [reason])


@pytest.mark.parametrize("name", list(CONFIGURED_CONTROLS))
def test_middleware_configured_control_is_accepted(name: str) -> None:
    options, build = CONFIGURED_CONTROLS[name]
    response = request(make_app(**options), "GET", f"{HTTPS}/me", headers=bearer(build()))
    assert response.status_code == 200
    assert response.json() == {"sub": "mallory"}


def test_middleware_revoked_token_is_canonical_401(
    canonical_401: Shape, caplog: pytest.LogCaptureFixture
) -> None:
    store = MemoryRevocationStore(clock=lambda: NOW)
    target = make_app(revocation=store)
    token = nested(jti="revoked-1")
    # Accepted first, so the refusal below is the revocation's alone, and
    # the decoded token sits in the cache the revocation must see past.
    assert request(target, "GET", f"{HTTPS}/me", headers=bearer(token)).status_code == 200

    asyncio.run(store.revoke("revoked-1", NOW + 600))
    assert refused(target, token, caplog) == (canonical_401, ["revoked"])


@pytest.mark.parametrize("name", list(MALFORMED))
def test_middleware_malformed_credentials_are_400(name: str, app: Starlette) -> None:
    response = request(app, "GET", f"{HTTPS}/me", headers=MALFORMED[name]())
    assert response.status_code == 400
    assert response.headers["www-authenticate"] == 'Bearer realm="api", error="invalid_request"'
    assert response.json() == {"detail": "Invalid request"}


def test_middleware_valid_token_over_plain_http_is_403(app: Starlette) -> None:
    response = request(app, "GET", f"{HTTP}/me", headers=bearer(nested()))
    assert response.status_code == 403
    assert response.json() == {"detail": "HTTPS is required"}
    assert "location" not in response.headers
