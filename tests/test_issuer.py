"""TokenIssuer: nested tokens with managed claims."""

from __future__ import annotations

import base64
import json

import pytest

from jwe_middleware import KeyRing, TokenDecoder, TokenIssuer, generate_key
from tests._helpers import NOW, decoder, frozen_clock, issuer, keys


def header_of(value: str) -> dict[str, object]:
    segment = value.split(".")[0]
    return dict(json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))))


def test_issuer_sets_managed_claims() -> None:
    claims = decoder().decode(issuer(lifetime=120).issue({"sub": "alice"}))
    assert claims["iat"] == claims["nbf"] == int(NOW)
    assert claims["exp"] == int(NOW) + 120
    assert claims["iss"] == "https://id.example.test" and claims["aud"] == "orders-api"
    assert len(base64.urlsafe_b64decode(claims["jti"] + "==")) == 16


def test_issuer_jti_is_unique_per_token() -> None:
    minted = issuer()
    ids = {decoder().decode(minted.issue({"sub": "a"}))["jti"] for _ in range(20)}
    assert len(ids) == 20


def test_issuer_outer_header_is_nested_with_kid() -> None:
    header = header_of(issuer().issue({"sub": "a"}))
    assert header == {"alg": "RSA-OAEP-256", "enc": "A256GCM", "cty": "JWT", "kid": "enc-1"}


def test_issuer_lifetime_override_per_token() -> None:
    claims = decoder().decode(issuer().issue({"sub": "a"}, lifetime=30))
    assert claims["exp"] == int(NOW) + 30


def test_issuer_unsigned_symmetric_token_has_no_cty() -> None:
    key = generate_key("A256KW", kid="w")
    value = TokenIssuer(encryption_key=key, signing_key=None, clock=frozen_clock).issue({"s": 1})
    assert "cty" not in header_of(value)
    assert TokenDecoder(decryption_keys=KeyRing([key]), clock=frozen_clock).decode(value)["s"] == 1


@pytest.mark.parametrize(
    "options",
    [
        {"signing_key": "not a key"},
        {"encryption_key": None},
        {"lifetime": 0},
        {"content_algorithm": "A128CBC"},
    ],
)
def test_issuer_bad_configuration_refused(options: dict[str, object]) -> None:
    with pytest.raises((TypeError, ValueError)):
        issuer(**options)


def test_issuer_public_signing_key_refused() -> None:
    with pytest.raises(ValueError):
        issuer(signing_key=keys()["sig"].public())


def test_issuer_dir_key_must_fit_content_algorithm() -> None:
    with pytest.raises(ValueError):
        TokenIssuer(
            encryption_key=generate_key("dir"), signing_key=None, content_algorithm="A128GCM"
        )


@pytest.mark.parametrize("claim", ["iat", "nbf", "exp", "iss", "aud"])
def test_issuer_claims_it_sets_cannot_be_overridden(claim: str) -> None:
    with pytest.raises(ValueError, match=claim):
        issuer().issue({"sub": "a", claim: 1})


def test_issuer_iss_and_aud_free_when_not_configured() -> None:
    key = generate_key("A256KW", kid="w")
    minted = TokenIssuer(encryption_key=key, signing_key=None, clock=frozen_clock)
    ring = KeyRing([key])
    claims = TokenDecoder(decryption_keys=ring, issuer="me", clock=frozen_clock).decode(
        minted.issue({"iss": "me"})
    )
    assert claims["iss"] == "me"


def test_issuer_caller_may_choose_the_jti() -> None:
    assert decoder().decode(issuer().issue({"sub": "a", "jti": "order-42"}))["jti"] == "order-42"


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
def test_issuer_non_json_number_in_claims_is_value_error(value: float) -> None:
    with pytest.raises(ValueError):
        issuer().issue({"sub": "a", "score": value})
