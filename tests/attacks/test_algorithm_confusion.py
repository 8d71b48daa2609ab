"""Algorithm confusion: headers that ask a key to serve another algorithm.

The recipient, not the token, decides which algorithm a key serves (RFC 8725
section 3.1). Each forged token below is otherwise well made, so the only
reason left to refuse it is the algorithm it names.
"""

from __future__ import annotations

import os
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization

from jwe_middleware import (
    DecryptionFailed,
    DisallowedAlgorithm,
    Key,
    KeyRing,
    TokenError,
    UnknownKey,
    generate_key,
)

from ._forge import DROP, assert_refused, claims, decoder, jwe, jws, keys, nested, seal

ALL_KEY_ALGORITHMS = ["dir", "A128KW", "A256KW", "RSA-OAEP", "RSA-OAEP-256"]


def test_decode_control_tokens_pass() -> None:
    k = keys()
    for recipient in (k.rsa, k.kw, k.direct):
        for signer in (k.es256, k.rs256):
            assert decoder().decode(nested(recipient=recipient, signer=signer).compact)["sub"]


# -- "none" --------------------------------------------------------------------


@pytest.mark.parametrize("alg", ["none", "None", "NONE", "nOnE"])
def test_decode_inner_alg_none_disallowed(alg: str) -> None:
    # RFC 7518 section 3.6: an unsecured JWS carries an empty signature and
    # proves nothing; RFC 8725 section 2.1 lists accepting it as the classic bug.
    unsigned = jws(claims(), key=keys().es256, header={"alg": alg})
    assert unsigned.endswith(".")
    assert_refused(decoder(), seal(unsigned), DisallowedAlgorithm, "disallowed_algorithm")


@pytest.mark.parametrize("alg", ["none", "None", "NONE"])
def test_decode_outer_alg_none_disallowed(alg: str) -> None:
    # A JWE has no unsecured form at all (RFC 7516 section 4.1.1); the content
    # is encrypted for real with the dir key, only the header lies.
    signed = jws(claims(), key=keys().es256)
    header = {"alg": alg, "enc": "A256GCM", "kid": "svc-dir", "cty": "JWT"}
    token = jwe(signed.encode(), header, key=keys().direct, alg="dir")
    assert_refused(decoder(), token, DisallowedAlgorithm, "disallowed_algorithm")


# -- RSA1_5 --------------------------------------------------------------------


@pytest.mark.parametrize("kid", ["svc-rsa", DROP])
def test_decode_rsa1_5_under_oaep_key_disallowed(kid: Any) -> None:
    # RFC 8725 section 3.2: RSAES-PKCS1-v1_5 invites Bleichenbacher's padding
    # oracle. The CEK really is wrapped with PKCS#1 v1.5 to the service's key.
    signed = jws(claims(), key=keys().es256)
    header = {"alg": "RSA1_5", "enc": "A256GCM", "kid": kid, "cty": "JWT"}
    token = jwe(signed.encode(), header, key=keys().rsa)
    assert_refused(decoder(), token, DisallowedAlgorithm, "disallowed_algorithm")


def test_decode_rsa1_5_wrap_labelled_oaep_fails_decryption() -> None:
    # The header claims RSA-OAEP-256, the CEK is wrapped with PKCS#1 v1.5: the
    # OAEP unwrap fails and is reported like any other decryption failure.
    signed = jws(claims(), key=keys().es256)
    header = {"alg": "RSA-OAEP-256", "enc": "A256GCM", "kid": "svc-rsa", "cty": "JWT"}
    token = jwe(signed.encode(), header, key=keys().rsa, alg="RSA1_5")
    assert_refused(decoder(), token, DecryptionFailed, "decryption_failed")


def test_decoder_rsa1_5_in_policy_raises() -> None:
    with pytest.raises(ValueError, match="RSA1_5"):
        decoder(key_algorithms=["RSA-OAEP-256", "RSA1_5"])


def test_key_rsa1_5_jwk_raises() -> None:
    jwk = {**keys().rsa.private_jwk(), "alg": "RSA1_5"}
    with pytest.raises(ValueError, match="RSA1_5"):
        Key.from_jwk(jwk)


# -- a key asked to serve another algorithm ------------------------------------

# (header alg, header kid, how the CEK is really wrapped and with which key,
#  key algorithms allowed when not the default, expected refusal)
CONFUSIONS = [
    ("A256GCMKW", "svc-kw", "A256KW", "kw", None, DisallowedAlgorithm, "disallowed_algorithm"),
    ("RSA1_5", "svc-rsa", "RSA1_5", "rsa", None, DisallowedAlgorithm, "disallowed_algorithm"),
    ("A128KW", "svc-kw", "A256KW", "kw", None, DisallowedAlgorithm, "disallowed_algorithm"),
    ("A128KW", "svc-kw", "A256KW", "kw", ALL_KEY_ALGORITHMS, UnknownKey, "unknown_key"),
    ("RSA-OAEP", "svc-rsa", "RSA-OAEP", "rsa", ALL_KEY_ALGORITHMS, UnknownKey, "unknown_key"),
    ("RSA-OAEP-256", "svc-kw", "RSA-OAEP-256", "rsa", None, UnknownKey, "unknown_key"),
    ("dir", "svc-kw", "dir", "direct", None, UnknownKey, "unknown_key"),
    ("dir", "svc-rsa", "dir", "direct", None, UnknownKey, "unknown_key"),
    ("A256KW", "svc-dir", "A256KW", "kw", None, UnknownKey, "unknown_key"),
    ("A256KW", "svc-rsa", "A256KW", "kw", None, UnknownKey, "unknown_key"),
]


@pytest.mark.parametrize(
    ("alg", "kid", "wrap", "wrap_key", "allowed", "expected", "code"),
    CONFUSIONS,
    ids=[f"{row[0]}-as-{row[1]}-{'wide' if row[4] else 'default'}" for row in CONFUSIONS],
)
def test_decode_key_with_foreign_alg_refused(
    alg: str,
    kid: str,
    wrap: str,
    wrap_key: str,
    allowed: list[str] | None,
    expected: type[TokenError],
    code: str,
) -> None:
    # RFC 8725 section 3.1: a key is bound to one algorithm. The CEK is wrapped
    # with real key material, so only that binding can refuse the token.
    signed = jws(claims(), key=keys().es256)
    header = {"alg": alg, "enc": "A256GCM", "kid": kid, "cty": "JWT"}
    token = jwe(signed.encode(), header, key=getattr(keys(), wrap_key), alg=wrap)
    options = {} if allowed is None else {"key_algorithms": allowed}
    assert_refused(decoder(**options), token, expected, code)


def test_decode_oaep_sha1_wrap_labelled_oaep_256_fails_decryption() -> None:
    # RFC 7518 section 4.3: RSA-OAEP and RSA-OAEP-256 differ only in the hash;
    # a CEK wrapped with the other one must not unwrap.
    signed = jws(claims(), key=keys().es256)
    header = {"alg": "RSA-OAEP-256", "enc": "A256GCM", "kid": "svc-rsa", "cty": "JWT"}
    token = jwe(signed.encode(), header, key=keys().rsa, alg="RSA-OAEP")
    assert_refused(decoder(), token, DecryptionFailed, "decryption_failed")


# -- CEK and dir key lengths ---------------------------------------------------


@pytest.mark.parametrize("length", [1, 16, 40, 256])
def test_decode_dir_with_encrypted_key_fails_decryption(length: int) -> None:
    # RFC 7516 section 5.2 step 10: with dir the encrypted key must be empty.
    signed = jws(claims(), key=keys().es256)
    header = {"alg": "dir", "enc": "A256GCM", "kid": "svc-dir", "cty": "JWT"}
    token = jwe(signed.encode(), header, key=keys().direct, encrypted_key=os.urandom(length))
    assert_refused(decoder(), token, DecryptionFailed, "decryption_failed")


@pytest.mark.parametrize("recipient", ["svc-rsa", "svc-kw"])
def test_decode_short_cek_for_content_algorithm_fails_decryption(recipient: str) -> None:
    # RFC 7518 section 5.3: A256GCM takes a 256-bit CEK. A 128-bit CEK is
    # wrapped and the content really encrypted with AES-128-GCM under it.
    key = keys().rsa if recipient == "svc-rsa" else keys().kw
    signed = jws(claims(), key=keys().es256)
    header = {"alg": key.alg, "enc": "A256GCM", "kid": key.kid, "cty": "JWT"}
    token = jwe(signed.encode(), header, key=key, enc="A128GCM", cek=os.urandom(16))
    assert_refused(decoder(), token, DecryptionFailed, "decryption_failed")


def test_decode_dir_key_truncated_to_header_enc_fails_decryption() -> None:
    # RFC 7518 section 4.5: a dir key is the CEK of one content algorithm. The
    # 256-bit key's first half, used as an A128GCM key, must not be accepted.
    signed = jws(claims(), key=keys().es256)
    header = {"alg": "dir", "enc": "A128GCM", "kid": "svc-dir", "cty": "JWT"}
    token = jwe(signed.encode(), header, key=keys().direct, cek=bytes(keys().direct.material)[:16])
    wide = decoder(content_algorithms=["A128GCM", "A256GCM"])
    assert_refused(wide, token, DecryptionFailed, "decryption_failed")


# -- inner signature algorithms ------------------------------------------------


def _public_key_bytes(name: str, encoding: str) -> bytes:
    public = getattr(keys(), name).material.public_key()
    formats = {"pem": serialization.Encoding.PEM, "der": serialization.Encoding.DER}
    return bytes(
        public.public_bytes(formats[encoding], serialization.PublicFormat.SubjectPublicKeyInfo)
    )


@pytest.mark.parametrize("hmac_alg", ["HS256", "HS384", "HS512"])
@pytest.mark.parametrize("public", ["es256", "rs256"])
@pytest.mark.parametrize("encoding", ["pem", "der"])
@pytest.mark.parametrize("kid", ["iss-es", "iss-rs", DROP])
def test_decode_inner_hmac_with_public_key_secret_disallowed(
    hmac_alg: str, public: str, encoding: str, kid: Any
) -> None:
    # RFC 8725 section 3.1 (and 2.1): a verifier that lets the token pick HMAC
    # would use the issuer's public key, which everyone has, as the secret.
    secret = _public_key_bytes(public, encoding)
    signed = jws(claims(), header={"alg": hmac_alg, "kid": kid, "typ": "JWT"}, secret=secret)
    assert_refused(decoder(), seal(signed), DisallowedAlgorithm, "disallowed_algorithm")


def test_decoder_hmac_in_signature_policy_raises() -> None:
    with pytest.raises(ValueError, match="HS256"):
        decoder(signature_algorithms=["ES256", "RS256", "HS256"])


@pytest.mark.parametrize("alg", ["PS256", "EdDSA", "ES256K", "RS1", "", "es256"])
def test_decode_inner_unsupported_alg_disallowed(alg: str) -> None:
    signed = jws(claims(), key=keys().es256, header={"alg": alg})
    assert_refused(decoder(), seal(signed), DisallowedAlgorithm, "disallowed_algorithm")


# (inner header alg, inner kid, signing key)
CROSSED_SIGNATURES = [
    ("ES256", "iss-rs", "es256"),
    ("RS256", "iss-es", "rs256"),
    ("ES384", "iss-es", "es256"),
    ("RS512", "iss-rs", "rs256"),
]


@pytest.mark.parametrize(("alg", "kid", "signer"), CROSSED_SIGNATURES)
def test_decode_inner_kid_of_other_alg_unknown_key(alg: str, kid: str, signer: str) -> None:
    # RFC 8725 section 3.1 again, for signatures: kid names a key bound to
    # another algorithm than the header's, so no key is found.
    signed = jws(claims(), key=getattr(keys(), signer), header={"alg": alg, "kid": kid})
    assert_refused(decoder(), seal(signed), UnknownKey, "unknown_key")


def test_decode_inner_alg_outside_configured_list_disallowed() -> None:
    narrow = decoder(verification_keys=KeyRing([keys().rs256]), signature_algorithms=["RS256"])
    assert narrow.decode(nested(signer=keys().rs256).compact)["sub"] == "alice"
    assert_refused(narrow, nested(), DisallowedAlgorithm, "disallowed_algorithm")


def test_generate_key_fresh_rsa_key_control_passes() -> None:
    # A control for the tables above: the forge and decoder agree on a key
    # they have never seen before.
    fresh = generate_key("RSA-OAEP-256", kid="fresh")
    own = decoder(decryption_keys=KeyRing([fresh]))
    assert own.decode(nested(recipient=fresh).compact)["sub"] == "alice"
