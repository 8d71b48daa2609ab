"""Keys and key rings: loading, strength checks, binding to one alg, masking."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from jwe_middleware import Key, KeyRing, generate_key
from jwe_middleware.keys import KeySource


@pytest.mark.parametrize(
    ("alg", "use", "symmetric"),
    [
        ("RSA-OAEP-256", "enc", False),
        ("RSA-OAEP", "enc", False),
        ("A256KW", "enc", True),
        ("A128KW", "enc", True),
        ("dir", "enc", True),
        ("ES256", "sig", False),
        ("ES384", "sig", False),
        ("RS256", "sig", False),
    ],
)
def test_generate_key_round_trips_through_jwk(alg: str, use: str, symmetric: bool) -> None:
    key = generate_key(alg, kid=f"{alg}-kid")
    assert (key.alg, key.use, key.is_symmetric, key.is_private) == (alg, use, symmetric, True)
    loaded = Key.from_jwk(key.private_jwk())
    assert loaded.private_jwk() == key.private_jwk()


def test_key_repr_hides_material() -> None:
    key = generate_key("A256KW", kid="wrap")
    secret = key.private_jwk()["k"]
    assert secret not in repr(key) and secret not in repr(KeyRing([key]))
    assert repr(key) == "Key(kid='wrap', alg='A256KW', secret)"


@pytest.mark.parametrize(
    ("jwk", "message"),
    [
        ({"kty": "oct", "k": "AAAA"}, "alg"),
        ({"kty": "oct", "k": "A" * 43, "alg": "RSA1_5"}, "RSA1_5"),
        ({"kty": "oct", "k": "A" * 22, "alg": "A256KW"}, "32 bytes"),
        ({"kty": "oct", "k": "A" * 43, "alg": "HS256"}, "not HS256"),
        ({"kty": "oct", "k": "A" * 10 + "=", "alg": "dir"}, "base64url"),
        ({"kty": "OKP", "alg": "EdDSA", "crv": "Ed25519", "x": "AA"}, "unsupported key type"),
        ({"kty": "oct", "alg": "dir"}, "'k'"),
    ],
)
def test_key_from_jwk_bad_input_is_value_error(jwk: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Key.from_jwk(jwk)


def test_key_rsa_under_2048_bits_refused() -> None:
    small = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    pem = small.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    with pytest.raises(ValueError, match="2048"):
        Key.from_pem(pem, alg="RSA-OAEP-256", kid="small")


def test_key_ec_curve_must_match_alg() -> None:
    p384 = ec.generate_private_key(ec.SECP384R1())
    pem = p384.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    with pytest.raises(ValueError, match="P-384"):
        Key.from_pem(pem, alg="ES256")
    assert Key.from_pem(pem, alg="ES384").kid


def test_key_from_pem_public_and_private() -> None:
    key = generate_key("RSA-OAEP-256", kid="pem")
    private_pem = key.material.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    public_pem = key.material.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    assert Key.from_pem(private_pem, alg="RSA-OAEP-256", kid="a").is_private
    assert not Key.from_pem(public_pem, alg="RSA-OAEP-256", kid="b").is_private
    assert KeyRing.from_pem(public_pem, alg="RSA-OAEP-256").public_jwks()["keys"][0]["kid"]


def test_key_without_kid_gets_rfc7638_thumbprint() -> None:
    # RFC 7638 section 3.1's example key and thumbprint.
    jwk = {
        "kty": "RSA",
        "alg": "RS256",
        "e": "AQAB",
        "n": (
            "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSo"
            "c_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YG"
            "jQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdk"
            "t-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnq"
            "DKgw"
        ),
    }
    assert Key.from_jwk(jwk).kid == "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"


def test_key_ring_duplicate_kid_is_value_error() -> None:
    with pytest.raises(ValueError, match="duplicate"):
        KeyRing([generate_key("dir", kid="same"), generate_key("A256KW", kid="same")])


def test_key_ring_lookup_by_kid_and_alg() -> None:
    wrap, direct = generate_key("A256KW", kid="w"), generate_key("dir", kid="d")
    ring = KeyRing([wrap, direct])
    assert ring.get("w") is wrap and ring.get("x") is None
    assert ring.with_alg("dir") == (direct,) and ring.with_alg("RSA-OAEP") == ()
    assert "d" in ring and len(ring) == 2 and ring.algorithms == {"A256KW", "dir"}


def test_key_ring_public_jwks_has_no_private_members_or_secrets() -> None:
    ring = KeyRing(
        [generate_key("RSA-OAEP-256", kid="e"), generate_key("ES256", kid="s"),
         generate_key("dir", kid="d")]
    )
    published = ring.public_jwks()["keys"]
    assert {key["kid"] for key in published} == {"e", "s"}
    private_members = {"d", "p", "q", "dp", "dq", "qi", "k"}
    assert all(private_members.isdisjoint(key) for key in published)
    assert {key["use"] for key in published} == {"enc", "sig"}


def test_key_ring_from_file_and_json(tmp_path: Path) -> None:
    ring = KeyRing([generate_key("ES256", kid="s")])
    path = tmp_path / "keys.json"
    path.write_text(json.dumps(ring.private_jwks()))
    assert KeyRing.from_file(path).get("s") is not None
    assert KeyRing.from_json(path.read_text()).get("s") is not None
    single = ring.get("s")
    assert single is not None
    assert KeyRing.from_dict(single.private_jwk()).get("s") is not None


def test_key_ring_is_a_key_source() -> None:
    ring = KeyRing([generate_key("dir", kid="d")])
    assert isinstance(ring, KeySource)
    assert ring.current() is ring


def test_symmetric_key_has_no_public_form() -> None:
    with pytest.raises(ValueError):
        generate_key("dir").public_jwk()


def test_key_oct_jwk_without_kid_refused() -> None:
    # A thumbprint kid would put a hash of the secret into every header.
    secret = base64.urlsafe_b64encode(bytes(range(32))).rstrip(b"=").decode()
    with pytest.raises(ValueError, match="kid"):
        Key.from_jwk({"kty": "oct", "k": secret, "alg": "A256KW"})

