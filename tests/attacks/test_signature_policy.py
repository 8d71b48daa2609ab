"""Who minted the token: unsigned tokens, forged and mangled inner signatures.

With RSA-OAEP key management anyone holding the service's public key can
encrypt a token, so encryption alone says nothing about its author; the inner
signature does (RFC 7519 section 11.2, RFC 8725 section 2.3).
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from jwe_middleware import (
    InvalidSignature,
    KeyRing,
    MalformedToken,
    SignatureRequired,
    TokenDecoder,
    UnknownKey,
    generate_key,
)

from ._forge import (
    AUDIENCE,
    DROP,
    ISSUER,
    NOW,
    assert_refused,
    b64,
    claims,
    decoder,
    jws,
    keys,
    nested,
    seal,
    unb64,
)


def _unsigned_decoder(*ring: Any, **options: Any) -> TokenDecoder:
    return TokenDecoder(
        decryption_keys=KeyRing(ring),
        issuer=ISSUER,
        audience=AUDIENCE,
        clock=lambda: NOW,
        **options,
    )


# -- unsigned tokens -----------------------------------------------------------


@pytest.mark.parametrize("cty", [DROP, "json", "JOSE"])
def test_decode_unsigned_rsa_token_signature_required(cty: Any) -> None:
    # Minted with nothing but the public key (RSA-OAEP-256): without an inner
    # signature it could come from anyone.
    token = seal(claims(), header={"cty": cty})
    assert_refused(decoder(), token, SignatureRequired, "signature_required")


@pytest.mark.parametrize("recipient", ["kw", "direct"])
def test_decode_unsigned_symmetric_token_with_verification_keys_signature_required(
    recipient: str,
) -> None:
    # Verification keys configured means every token must be signed, also
    # under a shared secret.
    token = seal(claims(), recipient=getattr(keys(), recipient), nested=False)
    assert_refused(decoder(), token, SignatureRequired, "signature_required")


def test_decoder_rsa_without_verification_keys_raises() -> None:
    with pytest.raises(ValueError, match="verification_keys"):
        _unsigned_decoder(keys().rsa)


def test_decode_unsigned_waivers_control_pass() -> None:
    # The two ways an unsigned token is accepted, both explicit: a symmetric
    # key with no verification keys, or allow_unsigned.
    symmetric = _unsigned_decoder(keys().kw)
    waived = _unsigned_decoder(keys().rsa, allow_unsigned=True)
    assert symmetric.decode(seal(claims(), recipient=keys().kw, nested=False).compact)
    assert waived.decode(seal(claims(), nested=False).compact)["sub"] == "alice"


def test_decode_nested_without_verification_keys_signature_required() -> None:
    symmetric = _unsigned_decoder(keys().kw)
    token = nested(recipient=keys().kw)
    assert_refused(symmetric, token, SignatureRequired, "signature_required")


@pytest.mark.parametrize("cty", ["JWT", "jwt", "application/JWT", "Application/jwt"])
def test_decode_cty_spellings_control_pass(cty: str) -> None:
    # RFC 7519 section 5.2: cty is a media type, compared case-insensitively.
    assert decoder().decode(nested(header={"cty": cty}).compact)["sub"] == "alice"


def test_decode_cty_jwt_over_plain_claims_malformed() -> None:
    # Says nested, holds bare claims: the inner JWS does not parse.
    token = seal(claims())
    assert_refused(decoder(), token, MalformedToken, "malformed")


# -- forged and mangled signatures ---------------------------------------------


def test_decode_attacker_key_unknown_kid_unknown_key() -> None:
    attacker = generate_key("ES256", kid="attacker")
    assert_refused(decoder(), nested(signer=attacker), UnknownKey, "unknown_key")


@pytest.mark.parametrize("alg", ["ES256", "RS256"])
def test_decode_attacker_key_without_kid_invalid_signature(alg: str) -> None:
    # No kid: every verification key of the header's alg is tried, and none
    # verifies the attacker's signature.
    attacker = generate_key(alg, kid="attacker")
    token = nested(signer=attacker, inner={"kid": DROP})
    assert_refused(decoder(), token, InvalidSignature, "invalid_signature")


def _resigned(signature: bytes | None = None, payload: bytes | None = None) -> str:
    """A genuine inner JWS with its signature or payload swapped."""
    header, body, genuine = jws(claims(), key=keys().es256).split(".")
    body = body if payload is None else b64(payload)
    return ".".join([header, body, b64(unb64(genuine) if signature is None else signature)])


def _der(signature: bytes) -> bytes:
    half = len(signature) // 2
    r, s = int.from_bytes(signature[:half], "big"), int.from_bytes(signature[half:], "big")
    return bytes(encode_dss_signature(r, s))


def _genuine_signature() -> bytes:
    return unb64(jws(claims(), key=keys().es256).split(".")[2])


MANGLED = {
    "empty": lambda: b"",
    "one-byte": lambda: b"\0",
    "truncated": lambda: _genuine_signature()[:-1],
    "extended": lambda: _genuine_signature() + b"\0",
    "doubled": lambda: _genuine_signature() * 2,
    "der-encoded": lambda: _der(_genuine_signature()),
    "zeros": lambda: bytes(64),
    "bit-flip": lambda: bytes([_genuine_signature()[0] ^ 1]) + _genuine_signature()[1:],
    "huge": lambda: b"\xff" * 4000,
}


@pytest.mark.parametrize("mangle", MANGLED.values(), ids=MANGLED)
def test_decode_mangled_inner_signature_invalid_signature(mangle: Any) -> None:
    # RFC 7518 section 3.4: an ES256 signature is exactly R || S, 64 bytes;
    # anything else, a DER encoding included, must fail without an exception
    # escaping the decoder.
    token = seal(_resigned(signature=mangle()))
    assert_refused(decoder(), token, InvalidSignature, "invalid_signature")


def test_decode_mangled_rsa_signature_invalid_signature() -> None:
    header, body, genuine = jws(claims(), key=keys().rs256).split(".")
    for signature in (b"", unb64(genuine)[:-1], unb64(genuine) + b"\0", b"\xff" * 256):
        token = seal(".".join([header, body, b64(signature)]))
        assert_refused(decoder(), token, InvalidSignature, "invalid_signature")


def test_decode_payload_swapped_after_signing_invalid_signature() -> None:
    # A genuine signature over the issuer's claims, with the attacker's claims
    # put in their place.
    forged = json.dumps(claims(sub="admin", scope="admin")).encode("utf-8")
    token = seal(_resigned(payload=forged))
    assert_refused(decoder(), token, InvalidSignature, "invalid_signature")


INNER_SHAPES = {
    "two-segments": lambda s: s.rsplit(".", 1)[0],
    "four-segments": lambda s: s + ".AA",
    "payload-not-base64url": lambda s: s.replace(".", ".*", 1),
    "signature-padded": lambda s: s + "=",
    "whitespace": lambda s: s + " ",
    "nested-jwe": lambda s: nested().compact,
}


@pytest.mark.parametrize("reshape", INNER_SHAPES.values(), ids=INNER_SHAPES)
def test_decode_inner_not_compact_jws_malformed(reshape: Any) -> None:
    inner = reshape(jws(claims(), key=keys().es256))
    assert_refused(decoder(), seal(inner.encode("ascii")), MalformedToken, "malformed")
