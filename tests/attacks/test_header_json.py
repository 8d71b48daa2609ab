"""JSON texts that parse differently in different parsers: duplicate members,
other Unicode encodings, byte order marks, deep nesting, non-standard numbers.

The raw header bytes are what the test writes, and the token is encrypted
over exactly those bytes (they are the AAD), so the JSON text is the only
thing wrong with it.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from jwe_middleware import MalformedToken, TokenTooLarge

from ._forge import assert_refused, claims, decoder, jwe, jws, keys, seal

HEADER = {"alg": "dir", "enc": "A256GCM", "kid": "svc-dir", "cty": "JWT"}


def _sealed_with_raw_header(raw: bytes) -> str:
    signed = jws(claims(), key=keys().es256).encode()
    token = jwe(signed, raw, key=keys().direct, alg="dir", enc="A256GCM")
    return token.compact


def _text(header: dict[str, Any]) -> str:
    return json.dumps(header, separators=(",", ":"), ensure_ascii=False)


def test_decode_raw_header_control_passes() -> None:
    token = _sealed_with_raw_header(_text(HEADER).encode("utf-8"))
    assert decoder().decode(token)["sub"] == "alice"


# -- duplicate members ---------------------------------------------------------

DUPLICATES = {
    "alg-twice": '{"alg":"RSA1_5","alg":"dir","enc":"A256GCM","kid":"svc-dir","cty":"JWT"}',
    "alg-twice-same": '{"alg":"dir","alg":"dir","enc":"A256GCM","kid":"svc-dir","cty":"JWT"}',
    "enc-twice": '{"alg":"dir","enc":"A128CBC-HS256","enc":"A256GCM","kid":"svc-dir","cty":"JWT"}',
    "kid-twice": '{"alg":"dir","enc":"A256GCM","kid":"other","kid":"svc-dir","cty":"JWT"}',
    "cty-twice": '{"alg":"dir","enc":"A256GCM","kid":"svc-dir","cty":"JWT","cty":"json"}',
    "nested-twice": '{"alg":"dir","enc":"A256GCM","kid":"svc-dir","cty":"JWT","x":{"a":1,"a":2}}',
    "escaped-twin": '{"alg":"dir","\\u0061lg":"dir","enc":"A256GCM","kid":"svc-dir","cty":"JWT"}',
}


@pytest.mark.parametrize("raw", DUPLICATES.values(), ids=DUPLICATES)
def test_decode_duplicate_header_member_malformed(raw: str) -> None:
    # RFC 7516 section 4 (and RFC 7515 section 5.2 step 4): duplicate names
    # must be rejected, or one parser sees "RSA1_5" where another sees "dir"
    # (RFC 8725 section 2.6). A nested object's duplicates count too.
    token = _sealed_with_raw_header(raw.encode("utf-8"))
    assert_refused(decoder(), token, MalformedToken, "malformed")


def test_decode_duplicate_inner_header_member_malformed() -> None:
    raw = b'{"alg":"HS256","alg":"ES256","kid":"iss-es","typ":"JWT"}'
    signed = jws(claims(), key=keys().es256, raw_header=raw, alg="ES256")
    assert_refused(decoder(), seal(signed), MalformedToken, "malformed")


@pytest.mark.parametrize(
    "payload",
    [
        b'{"sub":"admin","sub":"alice","exp":1700000600,"iss":"https://id.example.org",'
        b'"aud":"orders-api"}',
        b'{"sub":"alice","exp":1700000600,"exp":9999999999,"iss":"https://id.example.org",'
        b'"aud":"orders-api"}',
    ],
    ids=["sub-twice", "exp-twice"],
)
def test_decode_duplicate_claim_malformed(payload: bytes) -> None:
    # The same rule for the claims set (RFC 7519 section 4): a duplicate
    # claim is refused, not resolved.
    signed = jws(payload, key=keys().es256)
    assert_refused(decoder(), seal(signed), MalformedToken, "malformed")


# -- encodings -----------------------------------------------------------------

ENCODINGS = {
    "utf-16-le": _text(HEADER).encode("utf-16-le"),
    "utf-16-be": _text(HEADER).encode("utf-16-be"),
    "utf-16-bom": _text(HEADER).encode("utf-16"),
    "utf-32": _text(HEADER).encode("utf-32"),
    "utf-8-bom": b"\xef\xbb\xbf" + _text(HEADER).encode("utf-8"),
    "latin-1-kid": _text({**HEADER, "kid": "svc-dïr"}).encode("latin-1"),
    "overlong-utf-8": _text({**HEADER, "kid": "svc-dir"}).encode().replace(b"-", b"\xc0\xad"),
    "lone-surrogate": _text(HEADER).encode()[:-1] + b',"x":"\xed\xa0\x80"}',
}


@pytest.mark.parametrize("raw", ENCODINGS.values(), ids=ENCODINGS)
def test_decode_header_not_plain_utf8_malformed(raw: bytes) -> None:
    # RFC 7515 section 5.2 step 3 and RFC 8259 section 8.1: the header is
    # UTF-8 with no byte order mark; RFC 8725 section 3.7: use UTF-8 only, so
    # no parser sniffs a second encoding out of the same bytes.
    assert_refused(decoder(), _sealed_with_raw_header(raw), MalformedToken, "malformed")


# -- shapes --------------------------------------------------------------------

NOT_OBJECTS = [b"", b" ", b"[]", b'"dir"', b"1", b"null", b"true", b"{", b"{}}", b"{'alg':1}"]


@pytest.mark.parametrize("raw", NOT_OBJECTS, ids=lambda raw: raw.decode())
def test_decode_header_not_json_object_malformed(raw: bytes) -> None:
    assert_refused(decoder(), _sealed_with_raw_header(raw), MalformedToken, "malformed")


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_decode_header_non_json_number_malformed(constant: str) -> None:
    # RFC 8259 section 6: NaN and Infinity are not JSON numbers.
    raw = _text(HEADER)[:-1] + f',"x":{constant}}}'
    assert_refused(decoder(), _sealed_with_raw_header(raw.encode()), MalformedToken, "malformed")


def _nested_value(depth: int) -> str:
    return "[" * depth + "1" + "]" * depth


def test_decode_header_nested_to_limit_control_passes() -> None:
    # Eight levels, the header object included, are accepted.
    raw = _text(HEADER)[:-1] + f',"x":{_nested_value(7)}}}'
    assert decoder().decode(_sealed_with_raw_header(raw.encode()))["sub"] == "alice"


@pytest.mark.parametrize("depth", [8, 100, 5000])
def test_decode_header_nested_too_deep_malformed(depth: int) -> None:
    # Deep nesting costs recursion in many parsers; the limit is applied with
    # the size limit raised, so the nesting itself is what is refused.
    raw = _text(HEADER)[:-1] + f',"x":{_nested_value(depth)}}}'
    token = _sealed_with_raw_header(raw.encode())
    assert_refused(decoder(max_token_bytes=64 * 1024), token, MalformedToken, "malformed")


def test_decode_header_nested_5000_default_limit_too_large() -> None:
    raw = _text(HEADER)[:-1] + f',"x":{_nested_value(5000)}}}'
    token = _sealed_with_raw_header(raw.encode())
    assert_refused(decoder(), token, TokenTooLarge, "too_large")


def test_decode_header_nested_objects_too_deep_malformed() -> None:
    value = '{"a":' * 5000 + "1" + "}" * 5000
    raw = _text(HEADER)[:-1] + f',"x":{value}}}'
    token = _sealed_with_raw_header(raw.encode())
    assert_refused(decoder(max_token_bytes=128 * 1024), token, MalformedToken, "malformed")
