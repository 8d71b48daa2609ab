"""The JWE examples of RFC 7520 section 5, run through the decoder.

The vectors live in the shared folder beside the repository (see its
README); nothing is copied in here. Their plaintexts are prose, not claims,
so decryption is checked at the layer below claims: the decoder's own header
and algorithm checks, its key choice and ``_content.decrypt``, in the order
``TokenDecoder.decode_token`` runs them. The full ``decode`` is then shown to
fail only at the payload, after decryption succeeded.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from jwe_middleware import (
    DisallowedAlgorithm,
    Key,
    KeyRing,
    MalformedToken,
    TokenDecoder,
    TokenError,
    UnsupportedHeader,
    generate_key,
)
from jwe_middleware import _content as content_module
from jwe_middleware._compact import split_jwe

from .attacks._forge import NOW, assert_refused

_HERE = Path(__file__).resolve()
_CANDIDATES = (
    _HERE.parents[2] / "shared" / "vectors" / "rfc7520",
    Path("/work/shared/vectors/rfc7520"),
)

ALL_KEY_ALGORITHMS = ["dir", "A128KW", "A192KW", "A256KW", "RSA-OAEP", "RSA-OAEP-256"]
ALL_CONTENT_ALGORITHMS = [
    "A128GCM", "A192GCM", "A256GCM", "A128CBC-HS256", "A192CBC-HS384", "A256CBC-HS512",
]  # fmt: skip


def _folder() -> Path:
    for candidate in _CANDIDATES:
        if candidate.is_dir():
            return candidate
    pytest.fail(f"RFC 7520 vectors not found; looked in {[str(c) for c in _CANDIDATES]}")


@cache
def vector(section: str) -> dict[str, Any]:
    """One vector by its RFC 7520 section, "5.2" for instance."""
    (path,) = _folder().glob(section.replace(".", "_") + ".*.json")
    loaded: dict[str, Any] = json.loads(path.read_text("utf-8"))
    return loaded


def vector_key(section: str, alg: str) -> Key:
    # Key.from_jwk demands an alg bound to the key (RFC 8725 section 3.1);
    # the cookbook keys lack one or name the content algorithm (5.6).
    return Key.from_jwk({**vector(section)["input"]["key"], "alg": alg})


def vector_decoder(key: Key, *, enc: str | list[str], **options: Any) -> TokenDecoder:
    return TokenDecoder(
        decryption_keys=KeyRing([key]),
        key_algorithms=options.pop("key_algorithms", [key.alg]),
        content_algorithms=[enc] if isinstance(enc, str) else enc,
        allow_unsigned=True,
        clock=lambda: NOW,
        **options,
    )


def decrypt_below_claims(decoder: TokenDecoder, token: str) -> bytes:
    """The first half of ``decode_token``: parse, check the header and the
    algorithms, choose the key, decrypt; stop before the payload is read."""
    parts = split_jwe(token.encode("ascii"))
    decoder._check_header(parts.header)
    alg, enc = decoder._allowed_encryption(parts.header)
    decoder._check_type(parts.header)
    _key, plaintext = decoder._decrypt(decoder.decryption_keys, parts, alg, enc)
    return plaintext


# -- the three the decoder can open --------------------------------------------

# (section, key alg, content alg)
DECRYPTABLE = [
    ("5.2", "RSA-OAEP", "A256GCM"),
    ("5.6", "dir", "A128GCM"),
    ("5.8", "A128KW", "A128GCM"),
]


@pytest.mark.parametrize(("section", "alg", "enc"), DECRYPTABLE)
def test_decrypt_vector_published_plaintext(section: str, alg: str, enc: str) -> None:
    decoder = vector_decoder(vector_key(section, alg), enc=enc)
    plaintext = decrypt_below_claims(decoder, vector(section)["output"]["compact"])
    assert plaintext == vector(section)["input"]["plaintext"].encode("utf-8")


@pytest.mark.parametrize(("section", "alg", "enc"), DECRYPTABLE)
def test_decode_vector_fails_only_at_payload(
    section: str, alg: str, enc: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The payload is prose, not a JSON claims set: decryption succeeds, then
    # the payload is refused as malformed.
    opened: list[bytes] = []
    real = content_module.decrypt

    def recording(*args: Any) -> bytes:
        opened.append(real(*args))
        return opened[-1]

    monkeypatch.setattr(content_module, "decrypt", recording)
    decoder = vector_decoder(vector_key(section, alg), enc=enc)
    assert_refused(decoder, vector(section)["output"]["compact"], MalformedToken, "malformed")
    assert opened == [vector(section)["input"]["plaintext"].encode("utf-8")]


@pytest.mark.parametrize(("section", "alg", "enc"), DECRYPTABLE)
def test_decode_vector_default_policy_disallowed(section: str, alg: str, enc: str) -> None:
    # None of the three is in the default allowlists (RSA-OAEP with SHA-1,
    # A128KW, A128GCM): each needs an explicit opt-in.
    default = TokenDecoder(decryption_keys=KeyRing([generate_key("A256KW", kid="own")]))
    token = vector(section)["output"]["compact"]
    assert_refused(default, token, DisallowedAlgorithm, "disallowed_algorithm")


# -- 5.1: RSA1_5 ---------------------------------------------------------------


def test_key_vector_5_1_as_rsa1_5_raises() -> None:
    with pytest.raises(ValueError, match="RSA1_5"):
        vector_key("5.1", "RSA1_5")


def test_decoder_policy_with_rsa1_5_raises() -> None:
    with pytest.raises(ValueError, match="RSA1_5"):
        vector_decoder(vector_key("5.1", "RSA-OAEP"), enc="A128CBC-HS256",
                       key_algorithms=["RSA-OAEP", "RSA1_5"])


POLICIES = {
    "narrow": (["RSA-OAEP"], ["A128CBC-HS256"]),
    "everything": (ALL_KEY_ALGORITHMS, ALL_CONTENT_ALGORITHMS),
}


@pytest.mark.parametrize(("key_algorithms", "content"), POLICIES.values(), ids=POLICIES)
def test_decode_vector_5_1_relabelled_key_disallowed(
    key_algorithms: list[str], content: list[str]
) -> None:
    # RFC 8725 section 3.2: with the key loaded as RSA-OAEP, the header's
    # RSA1_5 is still refused by every policy there is.
    decoder = vector_decoder(
        vector_key("5.1", "RSA-OAEP"), enc=content, key_algorithms=key_algorithms
    )
    token = vector("5.1")["output"]["compact"]
    assert_refused(decoder, token, DisallowedAlgorithm, "disallowed_algorithm")


# -- 5.3, 5.4, 5.5, 5.7, 5.9: algorithms and features this package refuses -----


def _ring_for(section: str) -> Key:
    # The vector's own key where it can be loaded under an allowed algorithm,
    # a fresh one otherwise (PBES2 has a password, ECDH-ES keys have no
    # encryption role here).
    relabel = {"5.7": "A256KW", "5.9": "A128KW"}
    if section in relabel:
        return vector_key(section, relabel[section])
    return generate_key("A256KW", kid="own")


REFUSED = [
    ("5.3", DisallowedAlgorithm, "disallowed_algorithm"),  # PBES2-HS512+A256KW
    ("5.4", DisallowedAlgorithm, "disallowed_algorithm"),  # ECDH-ES+A128KW
    ("5.5", DisallowedAlgorithm, "disallowed_algorithm"),  # ECDH-ES
    ("5.7", DisallowedAlgorithm, "disallowed_algorithm"),  # A256GCMKW
    ("5.9", UnsupportedHeader, "unsupported_header"),  # zip: DEF
]


@pytest.mark.parametrize(("section", "expected", "code"), REFUSED)
@pytest.mark.parametrize("policy", ["minimal", "everything"])
def test_decode_vector_unsupported_refused(
    section: str, expected: type[TokenError], code: str, policy: str
) -> None:
    key = _ring_for(section)
    if policy == "minimal":
        # Default content algorithms, the one key algorithm the key needs.
        decoder = TokenDecoder(
            decryption_keys=KeyRing([key]),
            key_algorithms=[key.alg],
            clock=lambda: NOW,
        )
    else:
        decoder = vector_decoder(
            key, enc=ALL_CONTENT_ALGORITHMS, key_algorithms=ALL_KEY_ALGORITHMS
        )
    assert_refused(decoder, vector(section)["output"]["compact"], expected, code)


@pytest.mark.parametrize(
    ("section", "alg"), [("5.4", "ECDH-ES+A128KW"), ("5.5", "ECDH-ES"), ("5.7", "A256GCMKW")]
)
def test_key_vector_of_refused_algorithm_raises(section: str, alg: str) -> None:
    with pytest.raises(ValueError):
        vector_key(section, alg)


# -- 5.10 to 5.13: JSON serialization only -------------------------------------


# 5.13 has several recipients and so no flattened form.
SERIALIZED = [
    (section, form)
    for section in ("5.10", "5.11", "5.12", "5.13", "5.2")
    for form in ("json", "json_flat")
    if (section, form) != ("5.13", "json_flat")
]


@pytest.mark.parametrize(("section", "form"), SERIALIZED)
@pytest.mark.parametrize("spacing", ["compact", "pretty"])
def test_decode_json_serialization_malformed(section: str, form: str, spacing: str) -> None:
    # RFC 7516 section 7.2: the JSON serialization is another format; a
    # bearer token is the compact one only (RFC 7516 section 7.1).
    serialized = vector(section)["output"][form]
    text = json.dumps(serialized, separators=(",", ":") if spacing == "compact" else None)
    decoder = vector_decoder(generate_key("A128KW", kid="own"), enc="A128GCM")
    assert_refused(decoder, text, MalformedToken, "malformed")
