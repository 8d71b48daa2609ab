"""Tampering with an encrypted token: flipped bits, moved tag bytes, odd IV and
tag lengths, the wrong key, CBC padding.

RFC 7516 section 5.2 steps 14 and 15: the protected header is the AAD and the
tag covers header, IV and ciphertext, so any change must fail decryption as a
whole, and the failures must look alike (RFC 7516 section 11.5).
"""

from __future__ import annotations

import os
from typing import Any

import pytest

from jwe_middleware import (
    DecryptionFailed,
    DisallowedAlgorithm,
    InvalidSignature,
    KeyRing,
    MalformedToken,
    TokenError,
    UnknownKey,
    generate_key,
)
from jwe_middleware import _content as content_module

from ._forge import (
    CBC_POLICY,
    Token,
    assert_refused,
    b64,
    cbc_tag,
    claims,
    decoder,
    jwe,
    jws,
    keys,
    nested,
    unb64,
)

RECIPIENTS = ["rsa", "kw", "direct"]


def _recipient(name: str) -> Any:
    return getattr(keys(), name)


@pytest.mark.parametrize("recipient", RECIPIENTS)
def test_decode_untampered_control_passes(recipient: str) -> None:
    assert decoder().decode(nested(recipient=_recipient(recipient)).compact)["sub"] == "alice"


# -- bit flips -----------------------------------------------------------------

# Where in the header JSON to flip, and what that flip turns the header into.
HEADER_FLIPS = [
    ('"kid":"svc-', 0, UnknownKey, "unknown_key"),  # a kid no key has
    ('"cty":"JW', 0, DecryptionFailed, "decryption_failed"),  # "JWU": only the AAD differs
    ('"enc":"A2', 0, DisallowedAlgorithm, "disallowed_algorithm"),  # "A246GCM"
    ('"al', 0, DisallowedAlgorithm, "disallowed_algorithm"),  # "alf": no alg at all
    ("", -1, MalformedToken, "malformed"),  # the closing brace: not JSON any more
    ("", 0, MalformedToken, "malformed"),  # the opening brace
]


@pytest.mark.parametrize("recipient", RECIPIENTS)
@pytest.mark.parametrize(("marker", "offset", "expected", "code"), HEADER_FLIPS)
def test_decode_header_bit_flip_refused(
    recipient: str, marker: str, offset: int, expected: type[TokenError], code: str
) -> None:
    # The header is read before decryption, so a flip there is refused by the
    # first check it breaks; a flip no check sees still breaks the AAD.
    token = nested(recipient=_recipient(recipient))
    header = unb64(token.header)
    position = header.index(marker.encode()) + len(marker) + offset if marker else offset
    tampered = token.flip("header", position % len(header))
    assert_refused(decoder(), tampered, expected, code)


def _positions(length: int) -> list[int]:
    return sorted({0, length // 2, length - 1})


# dir has no encrypted key to flip.
BODY_FIELDS = [
    (recipient, field)
    for recipient in RECIPIENTS
    for field in ("encrypted_key", "iv", "ciphertext", "tag")
    if (recipient, field) != ("direct", "encrypted_key")
]


@pytest.mark.parametrize(("recipient", "field"), BODY_FIELDS)
@pytest.mark.parametrize("bit", [0, 7])
def test_decode_body_bit_flip_fails_decryption(recipient: str, field: str, bit: int) -> None:
    token = nested(recipient=_recipient(recipient))
    for position in _positions(len(unb64(getattr(token, field)))):
        tampered = token.flip(field, position, bit)
        assert_refused(decoder(), tampered, DecryptionFailed, "decryption_failed")


@pytest.mark.parametrize("field", ["iv", "ciphertext", "tag"])
def test_decode_cbc_bit_flip_fails_decryption(field: str) -> None:
    cbc = decoder(content_algorithms=CBC_POLICY)
    token = nested(recipient=keys().direct, enc="A128CBC-HS256")
    assert cbc.decode(token.compact)["sub"] == "alice"
    for position in _positions(len(unb64(getattr(token, field)))):
        assert_refused(cbc, token.flip(field, position), DecryptionFailed, "decryption_failed")


# -- GCM shapes ----------------------------------------------------------------


def _moved(token: Token, count: int) -> Token:
    """Move ``count`` bytes from the end of the ciphertext to the front of the
    tag (a negative count moves them back). Ciphertext followed by tag stays
    the same byte string."""
    ciphertext, tag = unb64(token.ciphertext), unb64(token.tag)
    joined = ciphertext + tag
    split = len(ciphertext) - count
    return token._replace(ciphertext=b64(joined[:split]), tag=b64(joined[split:]))


@pytest.mark.parametrize("count", [1, 4, 16, -1, -4, -16], ids=lambda n: f"move-{n}")
@pytest.mark.parametrize("recipient", RECIPIENTS)
def test_decode_gcm_movable_tag_fails_decryption(count: int, recipient: str) -> None:
    # python-jose hands AES-GCM the ciphertext and tag joined, so moving bytes
    # across the boundary would still decrypt; RFC 7518 section 5.3 fixes the
    # tag at 128 bits, and that length check is what refuses these.
    token = nested(recipient=_recipient(recipient))
    assert_refused(decoder(), _moved(token, count), DecryptionFailed, "decryption_failed")


@pytest.mark.parametrize("iv_bytes", [8, 11, 13, 16, 64])
def test_decode_gcm_iv_of_other_length_fails_decryption(iv_bytes: int) -> None:
    # RFC 7518 section 5.3: a 96-bit IV. The content is encrypted for real with
    # the odd IV, so only its length is wrong.
    signed = jws(claims(), key=keys().es256).encode()
    header = {"alg": "dir", "enc": "A256GCM", "kid": "svc-dir", "cty": "JWT"}
    token = jwe(signed, header, key=keys().direct, iv=os.urandom(iv_bytes))
    assert_refused(decoder(), token, DecryptionFailed, "decryption_failed")


@pytest.mark.parametrize("tag_bytes", [0, 4, 8, 12, 15])
def test_decode_gcm_truncated_tag_fails_decryption(tag_bytes: int) -> None:
    # A truncated GCM tag is easier to forge (RFC 7518 section 5.3 asks for
    # 128 bits); the prefix of a genuine tag is not accepted.
    token = nested(recipient=keys().direct)
    short = token._replace(tag=b64(unb64(token.tag)[:tag_bytes]))
    assert_refused(decoder(), short, DecryptionFailed, "decryption_failed")


# -- CBC shapes and padding ----------------------------------------------------

CBC_HEADER = {"alg": "dir", "enc": "A128CBC-HS256", "kid": "svc-dir", "cty": "JWT"}


@pytest.mark.parametrize(("iv_bytes", "tag_bytes"), [(12, 16), (32, 16), (16, 32), (16, 8)])
def test_decode_cbc_iv_or_tag_of_other_length_fails_decryption(
    iv_bytes: int, tag_bytes: int
) -> None:
    # RFC 7518 section 5.2.3: a 128-bit IV and a tag of half the MAC (16
    # bytes). The tag is recomputed over the odd IV with the real key, so
    # only a length is wrong.
    token = nested(recipient=keys().direct, enc="A128CBC-HS256")
    iv = os.urandom(iv_bytes)
    cek = bytes(keys().direct.material)
    aad, ciphertext = token.header.encode("ascii"), unb64(token.ciphertext)
    full = cbc_tag(cek, "A128CBC-HS256", aad, iv, ciphertext) * 2
    reshaped = token._replace(iv=b64(iv), tag=b64(full[:tag_bytes]))
    cbc = decoder(content_algorithms=CBC_POLICY)
    assert_refused(cbc, reshaped, DecryptionFailed, "decryption_failed")


def _bad_padding_token(*, valid_tag: bool) -> Token:
    # Two blocks with no PKCS#7 padding, the last byte zero: the padding is
    # wrong once decrypted. Only the key holder could make the tag fit.
    plaintext = b"A" * 31 + b"\0"
    token = jwe(plaintext, CBC_HEADER, key=keys().direct, pad=False)
    return token if valid_tag else token.flip("tag", 0)


@pytest.fixture
def cbc_spy(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    calls: list[str] = []
    real = content_module.AESKey

    def spy(key: bytes, algorithm: str) -> Any:
        calls.append(algorithm)
        return real(key, algorithm)

    monkeypatch.setattr(content_module, "AESKey", spy)
    return calls


def test_decode_cbc_bad_padding_wrong_tag_fails_before_unpadding(cbc_spy: list[str]) -> None:
    # RFC 7518 section 5.2.2.2: the tag is checked first. Otherwise a padding
    # error distinguishable from a tag error is Vaudenay's padding oracle.
    cbc = decoder(content_algorithms=CBC_POLICY)
    assert_refused(cbc, _bad_padding_token(valid_tag=False), DecryptionFailed,
                   "decryption_failed")
    assert cbc_spy == []


def test_decode_cbc_bad_padding_valid_tag_fails_decryption(cbc_spy: list[str]) -> None:
    cbc = decoder(content_algorithms=CBC_POLICY)
    error = assert_refused(cbc, _bad_padding_token(valid_tag=True), DecryptionFailed,
                           "decryption_failed")
    assert cbc_spy == ["A128CBC"]
    assert error.code == "decryption_failed"


def test_decode_cbc_refused_by_default() -> None:
    token = nested(recipient=keys().direct, enc="A128CBC-HS256")
    assert_refused(decoder(), token, DisallowedAlgorithm, "disallowed_algorithm")


# -- the wrong key -------------------------------------------------------------


def _impostor(recipient: str) -> Any:
    alg = {"rsa": "RSA-OAEP-256", "kw": "A256KW", "direct": "dir"}[recipient]
    return generate_key(alg, kid=_recipient(recipient).kid)


@pytest.mark.parametrize("recipient", RECIPIENTS)
def test_decode_other_key_same_kid_fails_decryption(recipient: str) -> None:
    # Encrypted to a different key that reuses the service's kid: the kid
    # picks the service's key, which cannot open it.
    token = nested(recipient=_impostor(recipient))
    assert_refused(decoder(), token, DecryptionFailed, "decryption_failed")


def test_decode_larger_rsa_key_same_kid_fails_decryption() -> None:
    impostor = generate_key("RSA-OAEP-256", kid="svc-rsa", rsa_bits=3072)
    assert_refused(decoder(), nested(recipient=impostor), DecryptionFailed, "decryption_failed")


@pytest.mark.parametrize("length", [40, 24, 48])
def test_decode_random_wrapped_key_fails_decryption(length: int) -> None:
    token = nested(recipient=keys().kw)._replace(encrypted_key=b64(os.urandom(length)))
    assert_refused(decoder(), token, DecryptionFailed, "decryption_failed")


@pytest.mark.parametrize("signer", ["ES256", "RS256"])
def test_decode_inner_signed_by_other_key_same_kid_invalid_signature(signer: str) -> None:
    real = keys().es256 if signer == "ES256" else keys().rs256
    impostor = generate_key(signer, kid=real.kid)
    assert_refused(decoder(), nested(signer=impostor), InvalidSignature, "invalid_signature")


def test_decode_recipient_outside_ring_unknown_key() -> None:
    # A sound token sealed for a dir key this decoder does not hold.
    only_rsa = decoder(decryption_keys=KeyRing([keys().rsa]))
    assert_refused(only_rsa, nested(recipient=keys().direct), UnknownKey, "unknown_key")
