"""Sound cryptography, unacceptable claims: expired, early, elsewhere, mistyped.

Every token here decrypts and verifies, so the claim rule under test is the
one reason left (RFC 7519 section 4.1, RFC 8725 sections 3.8 to 3.11).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from jwe_middleware import (
    AudienceMismatch,
    ExpiredToken,
    ImmatureToken,
    InvalidClaims,
    IssuerMismatch,
    MalformedToken,
    MissingClaim,
    TokenError,
    TokenTooOld,
    TypeMismatch,
)

from ._forge import DROP, NOW, assert_refused, claims, decoder, jws, keys, nested, seal

LEEWAY = 30

# (changes to the claims, decoder options, expected refusal, claim named)
CLAIM_CASES: dict[str, tuple[dict[str, Any], dict[str, Any], type[TokenError], str, str]] = {
    "no-exp": ({"exp": DROP}, {}, MissingClaim, "missing_claim", "exp"),
    "no-sub-required": ({"sub": DROP}, {"required_claims": ["exp", "sub"]}, MissingClaim,
                        "missing_claim", "sub"),
    "no-iat-with-max-age": ({"iat": DROP}, {"max_age": 300}, MissingClaim, "missing_claim",
                            "iat"),
    "expired-at-leeway": ({"exp": NOW - LEEWAY}, {}, ExpiredToken, "expired", "exp"),
    "expired-long-ago": ({"exp": NOW - 86_400}, {}, ExpiredToken, "expired", "exp"),
    "expired-no-leeway": ({"exp": NOW}, {"leeway": 0}, ExpiredToken, "expired", "exp"),
    "nbf-future": ({"nbf": NOW + LEEWAY + 1}, {}, ImmatureToken, "not_yet_valid", "nbf"),
    "iat-future": ({"iat": NOW + LEEWAY + 1}, {}, ImmatureToken, "not_yet_valid", "iat"),
    "too-old": ({"iat": NOW - 1000}, {"max_age": 300}, TokenTooOld, "too_old", "iat"),
    "wrong-iss": ({"iss": "https://attacker.example"}, {}, IssuerMismatch, "invalid_issuer",
                  "iss"),
    "no-iss": ({"iss": DROP}, {}, IssuerMismatch, "invalid_issuer", "iss"),
    "iss-trailing-slash": ({"iss": "https://id.example.org/"}, {}, IssuerMismatch,
                           "invalid_issuer", "iss"),
    "wrong-aud": ({"aud": "billing-api"}, {}, AudienceMismatch, "invalid_audience", "aud"),
    "aud-list-without-us": ({"aud": ["billing-api", "ORDERS-API"]}, {}, AudienceMismatch,
                            "invalid_audience", "aud"),
    "no-aud": ({"aud": DROP}, {}, AudienceMismatch, "invalid_audience", "aud"),
    "aud-list-non-string": ({"aud": ["orders-api", 1]}, {}, AudienceMismatch,
                            "invalid_audience", "aud"),
    "aud-object": ({"aud": {"orders-api": True}}, {}, AudienceMismatch, "invalid_audience",
                   "aud"),
    "aud-unasked": ({}, {"audience": None}, AudienceMismatch, "invalid_audience", "aud"),
    "exp-string": ({"exp": str(NOW + 600)}, {}, InvalidClaims, "invalid_claims", "exp"),
    "exp-bool": ({"exp": True}, {}, InvalidClaims, "invalid_claims", "exp"),
    "exp-null": ({"exp": None}, {}, InvalidClaims, "invalid_claims", "exp"),
    "exp-huge": ({"exp": 10**30}, {}, InvalidClaims, "invalid_claims", "exp"),
    "nbf-list": ({"nbf": [NOW]}, {}, InvalidClaims, "invalid_claims", "nbf"),
    "iss-number": ({"iss": 1}, {}, InvalidClaims, "invalid_claims", "iss"),
    "sub-object": ({"sub": {"id": "alice"}}, {}, InvalidClaims, "invalid_claims", "sub"),
}


def test_decode_claims_control_passes() -> None:
    assert decoder().decode(nested().compact)["sub"] == "alice"
    # Just inside the leeway on every side.
    edge = claims(exp=NOW - LEEWAY + 1, nbf=NOW + LEEWAY, iat=NOW + LEEWAY)
    assert decoder().decode(nested(edge).compact)["sub"] == "alice"


@pytest.mark.parametrize(
    ("changes", "options", "expected", "code", "claim"), CLAIM_CASES.values(), ids=CLAIM_CASES
)
def test_decode_bad_claim_refused(
    changes: dict[str, Any],
    options: dict[str, Any],
    expected: type[TokenError],
    code: str,
    claim: str,
) -> None:
    error = assert_refused(decoder(**options), nested(claims(**changes)), expected, code)
    assert isinstance(error, InvalidClaims)
    assert error.claim == claim


def _payload_token(payload: bytes) -> str:
    return seal(jws(payload, key=keys().es256)).compact


@pytest.mark.parametrize(
    "payload",
    [b"[]", b'"alice"', b"1", b"null", b"", b'{"exp":NaN}', b'{"exp":Infinity}',
     b'{"exp":1' + b"0" * 5000 + b"}"],
    ids=["array", "string", "number", "null", "empty", "nan", "infinity", "int-5000-digits"],
)
def test_decode_claims_not_a_json_object_malformed(payload: bytes) -> None:
    # The claims set is a JSON object (RFC 7519 section 7.2 step 10), parsed
    # as strictly as the header: no NaN, no numbers no parser agrees on.
    assert_refused(decoder(max_token_bytes=64 * 1024), _payload_token(payload),
                   MalformedToken, "malformed")


@pytest.mark.parametrize("number", ["1e400", "-1e400", "9007199254740993.0"])
def test_decode_exp_out_of_range_invalid_claims(number: str) -> None:
    # 1e400 is valid JSON that Python reads as infinity: a token that never
    # expires unless the number is bounded. 2**53 + 1 is past exact doubles.
    raw = json.dumps(claims(exp=DROP))[:-1] + f',"exp":{number}}}'
    error = assert_refused(decoder(), _payload_token(raw.encode()), InvalidClaims,
                           "invalid_claims")
    assert isinstance(error, InvalidClaims)
    assert error.claim == "exp"


# -- explicit typing -----------------------------------------------------------


@pytest.mark.parametrize("configured", ["jwt", "JWT", "application/jwt"])
@pytest.mark.parametrize("typ", ["JWT", "jwt", "application/JWT"])
def test_decode_typ_spellings_control_pass(configured: str, typ: str) -> None:
    # RFC 7515 section 4.1.9: typ is a media type, compared case-insensitively,
    # "application/" optional.
    token = nested(header={"typ": typ})
    assert decoder(token_type=configured).decode(token.compact)["sub"] == "alice"


@pytest.mark.parametrize("typ", ["JOSE", "at+jwt", "secevent+jwt", "", "JWT ", DROP])
def test_decode_wrong_typ_invalid_type(typ: Any) -> None:
    # RFC 8725 section 3.11: explicit typing keeps one kind of JWT from being
    # accepted as another.
    token = nested(header={"typ": typ})
    error = assert_refused(decoder(token_type="jwt"), token, TypeMismatch, "invalid_type")
    assert isinstance(error, TypeMismatch)
    assert error.claim == "typ"


def test_decode_inner_typ_is_not_the_checked_one() -> None:
    # The outer JWE header carries the type; an inner typ alone does not
    # satisfy token_type.
    token = nested(inner={"typ": "JWT"}, header={"typ": DROP})
    assert_refused(decoder(token_type="jwt"), token, TypeMismatch, "invalid_type")


def test_decode_claims_repr_hides_values() -> None:
    decoded = decoder().decode(nested(claims(secret="s3cr3t")).compact)
    assert "s3cr3t" not in repr(decoded)
    assert json.loads(json.dumps(decoded.to_dict()))["secret"] == "s3cr3t"
