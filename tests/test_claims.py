"""Claim rules (RFC 7519 section 4.1) with a frozen clock."""

from __future__ import annotations

import copy
import json
import pickle
from typing import Any

import pytest

from jwe_middleware import (
    AudienceMismatch,
    Claims,
    ExpiredToken,
    ImmatureToken,
    InvalidClaims,
    IssuerMismatch,
    MissingClaim,
    TokenTooOld,
)
from jwe_middleware.claims import ClaimRules

NOW = 1_800_000_000.0
RULES = ClaimRules.build(issuer="https://id", audience="api", leeway=30)


def claims(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"iss": "https://id", "aud": "api", "exp": NOW + 60, "iat": NOW}
    base.update(overrides)
    return {name: value for name, value in base.items() if value is not None}


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"exp": NOW - 31}, ExpiredToken),
        ({"exp": NOW - 30}, ExpiredToken),
        ({"nbf": NOW + 31}, ImmatureToken),
        ({"iat": NOW + 31}, ImmatureToken),
        ({"exp": None}, MissingClaim),
        ({"iss": "https://other"}, IssuerMismatch),
        ({"iss": None}, IssuerMismatch),
        ({"aud": "other"}, AudienceMismatch),
        ({"aud": ["other", "more"]}, AudienceMismatch),
        ({"aud": None}, AudienceMismatch),
        ({"aud": 5}, AudienceMismatch),
        ({"aud": ["api", 5]}, AudienceMismatch),
        ({"exp": "tomorrow"}, InvalidClaims),
        ({"exp": True}, InvalidClaims),
        ({"exp": float("nan")}, InvalidClaims),
        ({"exp": 10**400}, InvalidClaims),
        ({"nbf": [1]}, InvalidClaims),
        ({"sub": 42}, InvalidClaims),
        ({"jti": {"a": 1}}, InvalidClaims),
    ],
)
def test_claim_rules_refuse(overrides: dict[str, Any], error: type[Exception]) -> None:
    with pytest.raises(error) as raised:
        RULES.validate(claims(**overrides), NOW)
    assert isinstance(raised.value, InvalidClaims)


@pytest.mark.parametrize(
    "overrides",
    [
        {},
        {"exp": NOW - 29},
        {"nbf": NOW + 29},
        {"iat": NOW + 29},
        {"aud": ["other", "api"]},
        {"exp": NOW + 10**9},
    ],
)
def test_claim_rules_accept_within_leeway(overrides: dict[str, Any]) -> None:
    RULES.validate(claims(**overrides), NOW)


def test_claim_rules_audience_in_token_but_none_configured_is_refused() -> None:
    rules = ClaimRules.build()
    with pytest.raises(AudienceMismatch):
        rules.validate({"exp": NOW + 60, "aud": "api"}, NOW)
    rules.validate({"exp": NOW + 60}, NOW)


def test_claim_rules_max_age_requires_and_bounds_iat() -> None:
    rules = ClaimRules.build(max_age=300, leeway=0)
    rules.validate({"exp": NOW + 60, "iat": NOW - 300}, NOW)
    with pytest.raises(TokenTooOld):
        rules.validate({"exp": NOW + 60, "iat": NOW - 301}, NOW)
    with pytest.raises(MissingClaim):
        rules.validate({"exp": NOW + 60}, NOW)


def test_claim_rules_required_claims_named() -> None:
    rules = ClaimRules.build(required_claims=("exp", "sub"))
    with pytest.raises(MissingClaim) as raised:
        rules.validate({"exp": NOW + 60}, NOW)
    assert raised.value.claim == "sub"


def test_claim_rules_exp_optional_when_not_required() -> None:
    ClaimRules.build(required_claims=()).validate({}, NOW)


@pytest.mark.parametrize(
    "options",
    [
        {"leeway": -1},
        {"leeway": "30"},
        {"max_age": 0},
        {"issuer": ""},
        {"audience": []},
        {"audience": [""]},
        {"required_claims": "exp"},
    ],
)
def test_claim_rules_bad_configuration_refused(options: dict[str, Any]) -> None:
    with pytest.raises((ValueError, TypeError)):
        ClaimRules.build(**options)


def test_claims_mapping_is_read_only_and_masked() -> None:
    data = {"sub": "alice", "email": "alice@example.org", "scope": "a b", "exp": 5}
    mapped = Claims(data)
    assert "alice" not in repr(mapped) and "example.org" not in repr(mapped)
    with pytest.raises(TypeError):
        mapped["sub"] = "mallory"  # type: ignore[index]
    assert mapped.scopes == {"a", "b"}
    assert mapped.expires_at == 5.0
    copy = mapped.to_dict()
    copy["sub"] = "changed"
    assert mapped["sub"] == "alice"


NESTED = {"sub": "alice", "roles": ["user", {"team": ["a"]}], "address": {"city": "here"}}

MUTATIONS = [
    lambda c: c["roles"].append("admin"),
    lambda c: c["roles"].extend(["admin"]),
    lambda c: c["roles"].__setitem__(0, "admin"),
    lambda c: c["roles"].__delitem__(0),
    lambda c: c["roles"].__iadd__(["admin"]),
    lambda c: c["roles"].pop(),
    lambda c: c["roles"].sort(),
    lambda c: c["roles"][1]["team"].append("b"),
    lambda c: c["address"].__setitem__("city", "elsewhere"),
    lambda c: c["address"].update(city="elsewhere"),
    lambda c: c["address"].pop("city"),
    lambda c: c["address"].setdefault("zip", "1"),
    lambda c: c["address"].clear(),
]


@pytest.mark.parametrize("mutation", MUTATIONS)
def test_claims_nested_values_are_read_only(mutation: Any) -> None:
    mapped = Claims(NESTED)
    with pytest.raises(TypeError):
        mutation(mapped)
    assert mapped.to_dict() == NESTED


def test_claims_nested_values_behave_as_json() -> None:
    mapped = Claims(NESTED)
    assert mapped["roles"] == ["user", {"team": ["a"]}]
    assert isinstance(mapped["roles"], list) and isinstance(mapped["address"], dict)
    assert json.loads(json.dumps(dict(mapped))) == NESTED
    assert pickle.loads(pickle.dumps(mapped["roles"])) == NESTED["roles"]
    assert copy.deepcopy(mapped["address"]) == {"city": "here"}


def test_claims_to_dict_is_a_mutable_deep_copy() -> None:
    mapped = Claims(NESTED)
    thawed = mapped.to_dict()
    thawed["roles"].append("admin")
    thawed["roles"][1]["team"].append("b")
    thawed["address"]["city"] = "elsewhere"
    assert mapped.to_dict() == NESTED
    assert type(thawed["roles"]) is list and type(thawed["address"]) is dict


@pytest.mark.parametrize(
    ("data", "scopes"),
    [
        ({"scope": "a b  c"}, {"a", "b", "c"}),
        ({"scp": ["x", "y"]}, {"x", "y"}),
        ({"scp": ["x", 1]}, set()),
        ({"scope": 7}, set()),
        ({}, set()),
    ],
)
def test_claims_scopes_from_scope_or_scp(data: dict[str, Any], scopes: set[str]) -> None:
    assert Claims(data).scopes == scopes
    assert Claims(data).scope_list == tuple(sorted(scopes))
