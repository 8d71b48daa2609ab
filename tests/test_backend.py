"""Every key goes through ``cryptography``, never the pure-Python backends.

python-jose depends on the pure-Python ``ecdsa`` package (and ships an ``rsa``
backend) as fallbacks for when ``cryptography`` is missing. Scanners flag
``ecdsa`` for timing side channels (CVE-2024-23342, Minerva); these tests
show no key this package builds, and no token it issues or decodes, ever
reaches those backends.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jose import jwk as jose_jwk
from jose.backends import DIRKey
from jose.backends.cryptography_backend import (
    CryptographyAESKey,
    CryptographyECKey,
    CryptographyRSAKey,
)

from jwe_middleware import Key, KeyRing, TokenDecoder, TokenIssuer, generate_key

from .attacks._forge import NOW

# alg -> (python-jose key class, cryptography private key type)
ASYMMETRIC: dict[str, tuple[type[Any], type[Any]]] = {
    "RSA-OAEP": (CryptographyRSAKey, rsa.RSAPrivateKey),
    "RSA-OAEP-256": (CryptographyRSAKey, rsa.RSAPrivateKey),
    "RS256": (CryptographyRSAKey, rsa.RSAPrivateKey),
    "RS384": (CryptographyRSAKey, rsa.RSAPrivateKey),
    "RS512": (CryptographyRSAKey, rsa.RSAPrivateKey),
    "ES256": (CryptographyECKey, ec.EllipticCurvePrivateKey),
    "ES384": (CryptographyECKey, ec.EllipticCurvePrivateKey),
    "ES512": (CryptographyECKey, ec.EllipticCurvePrivateKey),
}
PUBLIC_TYPES = {
    rsa.RSAPrivateKey: rsa.RSAPublicKey,
    ec.EllipticCurvePrivateKey: ec.EllipticCurvePublicKey,
}
KEY_WRAP = ["A128KW", "A192KW", "A256KW"]


@pytest.fixture(scope="module")
def generated() -> dict[str, Key]:
    return {alg: generate_key(alg, kid=alg) for alg in [*ASYMMETRIC, *KEY_WRAP, "dir"]}


def _assert_cryptography(key: Key, *, private: bool) -> None:
    if key.alg == "dir":
        assert key.jose_key is None and isinstance(key.material, bytes)
    elif key.alg in KEY_WRAP:
        assert type(key.jose_key) is CryptographyAESKey
        assert isinstance(key.material, bytes)
    else:
        jose_class, private_type = ASYMMETRIC[key.alg]
        assert type(key.jose_key) is jose_class
        expected = private_type if private else PUBLIC_TYPES[private_type]
        assert isinstance(key.material, expected)
        assert isinstance(key.jose_key.prepared_key, expected)


@pytest.mark.parametrize("alg", [*ASYMMETRIC, *KEY_WRAP, "dir"])
def test_generate_key_every_alg_cryptography_backend(generated: dict[str, Key], alg: str) -> None:
    _assert_cryptography(generated[alg], private=True)


@pytest.mark.parametrize("alg", [*ASYMMETRIC, *KEY_WRAP, "dir"])
def test_key_from_jwk_every_alg_cryptography_backend(generated: dict[str, Key], alg: str) -> None:
    key = generated[alg]
    _assert_cryptography(Key.from_jwk(key.private_jwk()), private=True)
    if not key.is_symmetric:
        _assert_cryptography(Key.from_jwk(key.public_jwk()), private=False)
        _assert_cryptography(key.public(), private=False)


@pytest.mark.parametrize("alg", list(ASYMMETRIC))
def test_key_from_pem_every_alg_cryptography_backend(generated: dict[str, Key], alg: str) -> None:
    material = generated[alg].material
    private_pem = material.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    public_pem = material.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    _assert_cryptography(Key.from_pem(private_pem, alg=alg), private=True)
    _assert_cryptography(Key.from_pem(public_pem, alg=alg), private=False)
    from_ring = KeyRing.from_pem(public_pem, alg=alg, kid="pem").get("pem")
    assert from_ring is not None
    _assert_cryptography(from_ring, private=False)


def test_key_ring_public_cryptography_backend(generated: dict[str, Key]) -> None:
    ring = KeyRing(generated.values())
    for key in ring.public():
        _assert_cryptography(key, private=False)
    for key in KeyRing.from_dict(ring.private_jwks()):
        _assert_cryptography(key, private=True)


@pytest.fixture
def jose_key_classes(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Record every key class python-jose picks while a test runs.

    (Importing ``jose.backends.rsa_backend`` to booby-trap it is not an
    option: that import removes RSA-OAEP from python-jose's supported set for
    the whole process.)
    """
    picked: list[Any] = []
    real = jose_jwk.get_key

    def recording(algorithm: str) -> Any:
        key_class = real(algorithm)
        picked.append(key_class)
        return key_class

    monkeypatch.setattr(jose_jwk, "get_key", recording)
    return picked


@pytest.mark.parametrize("signer", ["ES256", "ES384", "ES512", "RS256", "RS384", "RS512"])
@pytest.mark.parametrize("recipient", ["RSA-OAEP", "RSA-OAEP-256", "A128KW", "A256KW", "dir"])
def test_issuer_and_decoder_pick_cryptography_classes(
    generated: dict[str, Key], jose_key_classes: list[Any], signer: str, recipient: str
) -> None:
    encryption, signing = generated[recipient], generated[signer]
    issuer = TokenIssuer(encryption_key=encryption, signing_key=signing, clock=lambda: NOW)
    decoder = TokenDecoder(
        decryption_keys=KeyRing([encryption]),
        verification_keys=KeyRing([signing]),
        key_algorithms=[recipient],
        signature_algorithms=[signer],
        clock=lambda: NOW,
    )
    assert decoder.decode(issuer.issue({"sub": "alice"}))["sub"] == "alice"
    # DIRKey holds the dir secret and does no cryptography of its own.
    allowed = {CryptographyRSAKey, CryptographyECKey, CryptographyAESKey, DIRKey}
    assert jose_key_classes
    assert set(jose_key_classes) <= allowed


def test_package_use_never_imports_ecdsa_or_rsa() -> None:
    # In a fresh interpreter, so no other test's imports count: build, issue
    # and decode with every algorithm, then look at what was imported.
    script = textwrap.dedent(
        """
        import sys
        from jwe_middleware import KeyRing, TokenDecoder, TokenIssuer, generate_key

        for signer in ("ES256", "ES384", "ES512", "RS256"):
            for recipient in ("RSA-OAEP-256", "A256KW", "dir"):
                enc, sig = generate_key(recipient, kid="e"), generate_key(signer, kid="s")
                issuer = TokenIssuer(encryption_key=enc, signing_key=sig, clock=lambda: 1e9)
                decoder = TokenDecoder(
                    decryption_keys=KeyRing([enc]), verification_keys=KeyRing([sig]),
                    key_algorithms=[recipient], signature_algorithms=[signer],
                    clock=lambda: 1e9,
                )
                assert decoder.decode(issuer.issue({"sub": "a"}))["sub"] == "a"
        loaded = sorted(
            name for name in sys.modules
            if name.split(".")[0] in ("ecdsa", "rsa")
            or name in ("jose.backends.ecdsa_backend", "jose.backends.rsa_backend")
        )
        print(",".join(loaded))
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == ""


def test_decoding_builds_no_long_term_key_per_token(
    generated: dict[str, Key], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Parsing an RSA private key costs tens of milliseconds: every key object
    # must be built when the key ring is loaded, never while a token is read.
    encryption, signing = generated["RSA-OAEP-256"], generated["ES256"]
    issuer = TokenIssuer(encryption_key=encryption, signing_key=signing, clock=lambda: NOW)
    tokens = [issuer.issue({"sub": f"user-{index}"}) for index in range(3)]
    decoder = TokenDecoder(
        decryption_keys=KeyRing([encryption]),
        verification_keys=KeyRing([signing]),
        clock=lambda: NOW,
    )
    built: list[str] = []

    def counting(name: str, original: Any) -> Any:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            built.append(name)
            return original(*args, **kwargs)

        return wrapper

    for key_class in (CryptographyRSAKey, CryptographyECKey):
        monkeypatch.setattr(key_class, "__init__", counting(key_class.__name__, key_class.__init__))
    for loader in ("load_pem_private_key", "load_pem_public_key", "load_der_private_key",
                   "load_der_public_key"):
        monkeypatch.setattr(serialization, loader, counting(loader, getattr(serialization, loader)))

    for token in tokens:
        assert decoder.decode(token)["sub"].startswith("user-")
    assert built == []
