"""Fuzzing the decoder: whatever arrives, ``decode`` returns ``Claims`` or
raises a ``TokenError``; nothing else escapes (no ``KeyError``, no
``ValueError`` from a library, no ``RecursionError``).

A bounded profile runs by default, small enough for every test run. The long
profile runs the same properties with many more examples:

    HYPOTHESIS_PROFILE=long .venv/bin/pytest tests/test_decoder_fuzz.py
"""

from __future__ import annotations

import json
import os
from functools import cache
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jwe_middleware import Claims, MalformedToken, TokenDecoder, TokenError, _errors
from jwe_middleware._compact import b64url_decode, parse_json_object

from .attacks._forge import CBC_POLICY, b64, claims, decoder, jwe, jws, keys, nested

settings.register_profile(
    "jwe-fuzz-bounded",
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "long",
    max_examples=20_000,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
# Applied per test rather than loaded globally, so other modules keep theirs.
FUZZ = settings.get_profile(
    "long" if os.environ.get("HYPOTHESIS_PROFILE") == "long" else "jwe-fuzz-bounded"
)

TOKEN_CODES = frozenset(
    cls.code for cls in vars(_errors).values()
    if isinstance(cls, type) and issubclass(cls, TokenError)
)
_URL_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


@cache
def fuzz_decoder() -> TokenDecoder:
    # Every optional path switched on, so fuzzing can reach it.
    return decoder(content_algorithms=CBC_POLICY, critical_headers=["x-ext"], max_age=3600)


def assert_claims_or_token_error(token: str | bytes) -> None:
    try:
        result = fuzz_decoder().decode(token)
    except TokenError as error:
        assert error.code in TOKEN_CODES
    else:
        assert isinstance(result, Claims)


# -- strategies ----------------------------------------------------------------

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner,
                                                                max_size=3),
    max_leaves=8,
)

PLAUSIBLE: dict[str, list[Any]] = {
    "alg": ["dir", "A256KW", "RSA-OAEP-256", "RSA-OAEP", "RSA1_5", "none", "A128KW", "ES256"],
    "enc": ["A256GCM", "A128GCM", "A128CBC-HS256", "A256CBC-HS512"],
    "kid": ["svc-dir", "svc-kw", "svc-rsa", "iss-es", ""],
    "cty": ["JWT", "jwt", "application/jwt", "json"],
    "typ": ["JWT", "JOSE"],
    "crit": [["x-ext"], [], ["alg"], "x-ext"],
    "zip": ["DEF"],
    "x-ext": [1],
}
header_members = {
    name: st.one_of(st.sampled_from(values), json_values) for name, values in PLAUSIBLE.items()
}

# Mostly sound claims, some replaced by random JSON values.
claim_sets = st.fixed_dictionaries(
    {},
    optional={
        name: st.one_of(st.just(value), st.just(value), json_values)
        for name, value in claims().items()
    },
)
payloads = st.one_of(
    claim_sets.map(lambda body: jws(body, key=keys().es256).encode("ascii")),
    claim_sets.map(lambda body: json.dumps(body).encode("utf-8")),
    st.binary(max_size=64),
)


@st.composite
def sealed_tokens(draw: st.DrawFn) -> str:
    """Real encryption under a header that starts sound (or empty) and has a
    few members replaced by random JSON, so decoding often gets past the
    header checks and into decryption, signatures and claims."""
    recipient = draw(st.sampled_from([keys().direct, keys().kw]))
    enc = draw(st.sampled_from(["A256GCM", "A128CBC-HS256"]))
    sound: dict[str, Any] = {"alg": recipient.alg, "enc": enc, "kid": recipient.kid, "cty": "JWT"}
    header = sound if draw(st.booleans()) else {}
    for name in draw(st.sets(st.sampled_from(sorted(PLAUSIBLE)), max_size=3)):
        header = {**header, name: draw(header_members[name])}
    token = jwe(draw(payloads), header, key=recipient, alg=recipient.alg, enc=enc)
    return token.compact


random_segments = st.lists(
    st.text(alphabet=_URL_ALPHABET + "=+/. \n\0é", max_size=40), min_size=1, max_size=7
).map(".".join)


@cache
def base_tokens() -> tuple[str, ...]:
    k = keys()
    return (
        nested().compact,
        nested(recipient=k.kw, signer=k.rs256).compact,
        nested(recipient=k.direct).compact,
        nested(recipient=k.direct, enc="A128CBC-HS256").compact,
    )


operations = st.lists(
    st.tuples(
        st.sampled_from(["flip", "insert", "delete", "swap", "duplicate"]),
        st.integers(min_value=0, max_value=4096),
        st.integers(min_value=0, max_value=4096),
    ),
    min_size=1,
    max_size=4,
)


def mutate(token: str, steps: list[tuple[str, int, int]]) -> str:
    for operation, first, second in steps:
        if not token:
            break
        at = first % len(token)
        if operation == "flip":
            token = token[:at] + chr(ord(token[at]) ^ (1 << (second % 7))) + token[at + 1 :]
        elif operation == "insert":
            token = token[:at] + _URL_ALPHABET[second % 64] + token[at:]
        elif operation == "delete":
            token = token[:at] + token[at + 1 + second % 8 :]
        else:
            parts = token.split(".")
            i, j = first % len(parts), second % len(parts)
            if operation == "swap":
                parts[i], parts[j] = parts[j], parts[i]
            else:
                parts.insert(j, parts[i])
            token = ".".join(parts)
    return token


# -- decode properties ---------------------------------------------------------


@FUZZ
@given(sealed_tokens())
def test_decode_random_header_claims_or_token_error(token: str) -> None:
    assert_claims_or_token_error(token)


@FUZZ
@given(random_segments)
def test_decode_random_segments_claims_or_token_error(token: str) -> None:
    assert_claims_or_token_error(token)


@FUZZ
@given(st.binary(max_size=300))
def test_decode_random_bytes_claims_or_token_error(token: bytes) -> None:
    assert_claims_or_token_error(token)


@FUZZ
@given(st.integers(min_value=0, max_value=3), operations)
def test_decode_mutated_token_claims_or_token_error(
    which: int, steps: list[tuple[str, int, int]]
) -> None:
    assert_claims_or_token_error(mutate(base_tokens()[which], steps))


def test_decode_fuzz_base_tokens_control_pass() -> None:
    for token in base_tokens():
        assert fuzz_decoder().decode(token)["sub"] == "alice"


# -- _compact properties -------------------------------------------------------


@FUZZ
@given(st.binary(max_size=200))
def test_b64url_decode_canonical_round_trip(data: bytes) -> None:
    assert b64url_decode(b64(data).encode("ascii")) == data


@FUZZ
@given(st.one_of(st.binary(max_size=60), st.text(alphabet=_URL_ALPHABET + "=+/ ", max_size=60)
                 .map(lambda text: text.encode("ascii"))))
def test_b64url_decode_junk_one_spelling_or_malformed(segment: bytes) -> None:
    # Whatever decodes re-encodes to exactly the input: one spelling per
    # byte string (RFC 7515 section 2).
    try:
        decoded = b64url_decode(segment)
    except MalformedToken:
        return
    assert b64(decoded).encode("ascii") == segment


def _depth(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max((_depth(child) for child in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((_depth(child) for child in value), default=0)
    return 0


@FUZZ
@given(st.dictionaries(st.text(max_size=8), json_values, max_size=5), st.booleans())
def test_parse_json_object_round_trip(value: dict[str, Any], ascii_only: bool) -> None:
    text = json.dumps(value, ensure_ascii=ascii_only).encode("utf-8")
    if _depth(value) > 8:
        try:
            parse_json_object(text)
        except MalformedToken:
            return
        raise AssertionError("nesting past the limit was accepted")
    assert parse_json_object(text) == value


@FUZZ
@given(st.binary(max_size=120))
def test_parse_json_object_junk_object_or_malformed(data: bytes) -> None:
    try:
        parsed = parse_json_object(data)
    except MalformedToken:
        return
    assert isinstance(parsed, dict)


@FUZZ
@given(st.dictionaries(st.text(max_size=6), json_scalars, min_size=1, max_size=4), st.data())
def test_parse_json_object_duplicate_member_malformed(
    value: dict[str, Any], data: st.DataObject
) -> None:
    name = data.draw(st.sampled_from(sorted(value)))
    text = json.dumps(value)[:-1] + f", {json.dumps(name)}: {json.dumps(value[name])}}}"
    try:
        parse_json_object(text.encode("utf-8"))
    except MalformedToken:
        return
    raise AssertionError("a duplicate member was accepted")
